"""``cryopick select``: split micrographs into subsets (RELION's Select job, split mode)."""

from __future__ import annotations

import argparse

NAME = "select"
HELP = "Split a micrographs/particles STAR into subsets (micrographs_split1.star, ...)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--i", dest="input", required=True, help="input STAR (project-relative)")
    p.add_argument("--o", dest="output", required=True, help="output job directory, e.g. Select/job004/")
    p.add_argument("--split-size", type=int, default=10, help="items per subset (default 10)")
    p.add_argument("--nr-split", type=int, default=-1, help="number of subsets (-1: all)")
    p.add_argument("--random-order", action="store_true", help="shuffle before splitting")
    p.add_argument("--seed", type=int, default=1, help="random seed for --random-order")
    p.add_argument("--project-root", default=".", help="project directory (default: current directory)")


def main(args: argparse.Namespace) -> int:
    from cryopick.stages import select

    params = select.Params(args.input, args.split_size, args.nr_split, args.random_order, args.seed)
    result = select.run(params, args.project_root, args.output)
    for path, _ in result.output_nodes:
        print(path)
    return 0
