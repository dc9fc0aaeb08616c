"""``cryopick <command> ...``: one sub-command per registered stage, plus simulate / score-picks / run.

Stage commands are built from the stage registry and each stage's ``Params``
(:mod:`cryopick.cli.stage_command`); only the command being run imports its module, so
``cryopick <stage>`` starts as fast as the stage allows. The other commands live in
``cryopick.cli.<module>`` and define ``add_arguments(parser)`` and ``main(args) -> int``.

Importing this module sets the chosen stage's environment defaults first (the registry's
``cli_env``, e.g. single-threaded OpenBLAS for the commands that run micrographs in threads):
OpenBLAS reads them once, when numpy loads, which the imports below do.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from cryopick.errors import CryopickError
from cryopick.stages.registry import STAGES

#: Commands that are not RELION jobs: name -> (module under cryopick.cli, one-line help).
OTHER_COMMANDS = {
    "simulate": ("simulate", "Write a synthetic RELION project (micrographs, CTF STAR, pipeline) with ground-truth "
                             "particles and junk."),
    "score-picks": ("score_picks", "Score an autopick.star against ground-truth particles (precision, recall, F1, AP)."),
    "run": ("run", "Run the particle-picking flow (Select, LoG, Extract, Class2D, ...) on a project."),
    "deploy": ("deploy", "Register one project's particle-picking and facility-picking deployments with Prefect."),
    "train-ranker": ("train_ranker", "Make labelled 2D class averages from simulated projects and train the class scorer."),
}


def _selected(argv: list[str]) -> str | None:
    return argv[0] if argv and not argv[0].startswith("-") else None


def _stage_environment(argv: list[str]) -> None:
    """Environment defaults of the chosen stage, set before numpy is first imported (explicit settings win)."""
    spec = next((s for s in STAGES if s.name == _selected(argv)), None)
    if spec is not None and "numpy" not in sys.modules:
        for name, value in spec.cli_env:
            os.environ.setdefault(name, value)


_stage_environment(sys.argv[1:])

from cryopick.cli import stage_command  # noqa: E402  (imports numpy: after the environment is set)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``selected`` gets its full set of arguments (all of them when None)."""
    parser = argparse.ArgumentParser(prog="cryopick", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for spec in STAGES:
        p = sub.add_parser(spec.name, help=spec.summary, description=spec.summary)
        if selected in (None, spec.name):
            stage_command.add_arguments(p, spec)
        p.set_defaults(_main=lambda args, spec=spec: stage_command.main(spec, args))
    for name, (module, summary) in OTHER_COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if selected in (None, name):
            mod = importlib.import_module(f"cryopick.cli.{module}")
            mod.add_arguments(p)
            p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _stage_environment(argv)
    args = build_parser(_selected(argv)).parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except CryopickError as exc:
        print(f"cryopick {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
