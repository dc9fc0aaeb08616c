"""``cryopick autopick-log``: Laplacian-of-Gaussian auto-picking (RELION's AutoPick job, LoG)."""

from __future__ import annotations

import argparse

NAME = "autopick-log"
HELP = "Pick particles with a Laplacian-of-Gaussian filter, with RELION's algorithm and outputs."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--i", dest="input", required=True, help="micrographs STAR (project-relative)")
    p.add_argument("--o", dest="output", required=True, help="output job directory, e.g. AutoPick/job005/")
    p.add_argument("--diam-min", type=float, default=150.0, help="minimum diameter for LoG filter (A)")
    p.add_argument("--diam-max", type=float, default=180.0, help="maximum diameter for LoG filter (A)")
    p.add_argument("--white", action="store_true", help="particles are white (default: dark)")
    p.add_argument("--maxres", type=float, default=20.0, help="maximum resolution to consider (A); <=0: none")
    p.add_argument("--threshold", type=float, default=0.0, help="adjust default threshold (stddev)")
    p.add_argument("--upper-threshold", type=float, default=999.0, help="upper threshold (stddev); 999 = off")
    p.add_argument("--angpix", type=float, default=-1.0, help="pixel size (A); default: from the optics table")
    p.add_argument("--threads", type=int, default=1, help="micrographs picked in parallel")
    p.add_argument("--neighbour", type=float, default=100.0, help="suppression distance in percent (RELION --LoG_neighbour)")
    p.add_argument("--skip-failed", action="store_true", help="succeed without micrographs that cannot be read")
    p.add_argument("--project-root", default=".", help="project directory (default: current directory)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from cryopick.cli.progress import ProgressBar
    from cryopick.stages import autopick_log

    params = autopick_log.Params(
        micrographs_star=args.input,
        diameter_min_angstrom=args.diam_min,
        diameter_max_angstrom=args.diam_max,
        particles_white=args.white,
        max_resolution_angstrom=args.maxres,
        threshold_stddev=args.threshold,
        upper_threshold_stddev=args.upper_threshold,
        pixel_size_angstrom=args.angpix,
        threads=args.threads,
        neighbour_percent=args.neighbour,
        skip_failed_micrographs=args.skip_failed,
    )
    result = autopick_log.run(params, args.project_root, args.output, progress=None if args.quiet else ProgressBar("LoG"))
    print(f"Picked {result.counts['picks']} particles on {result.counts['micrographs']} micrographs "
          f"({result.summary['picks_per_micrograph']:.1f} per micrograph) -> {result.output_nodes[0][0]}")
    for name, reason in result.failures.items():
        print(f"  skipped {name}: {reason}")
    return 0
