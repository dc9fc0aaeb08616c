"""``cryopick <command> ...``: one sub-command per registered stage, plus simulate / score-picks / run.

Stage commands are built from the stage registry and each stage's ``Params``
(:mod:`cryopick.cli.stage_command`); only the command being run imports its stage, so
``cryopick <stage>`` starts as fast as the stage allows. The other commands live in
``cryopick.cli.<module>`` and define ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from cryopick.cli import stage_command
from cryopick.errors import CryopickError
from cryopick.stages.registry import STAGES

OTHER_COMMANDS = ("simulate", "score_picks", "run")


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``selected`` gets its full set of arguments (all of them when None)."""
    parser = argparse.ArgumentParser(prog="cryopick", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for spec in STAGES:
        p = sub.add_parser(spec.name, help=spec.summary, description=spec.summary)
        if selected in (None, spec.name):
            stage_command.add_arguments(p, spec)
        p.set_defaults(_main=lambda args, spec=spec: stage_command.main(spec, args))
    for modname in OTHER_COMMANDS:
        mod = importlib.import_module(f"cryopick.cli.{modname}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = argv[0] if argv and not argv[0].startswith("-") else None
    spec = next((s for s in STAGES if s.name == selected), None)
    if spec is not None and "numpy" not in sys.modules:
        for name, value in spec.cli_env:  # e.g. single-threaded OpenBLAS: it reads this when it loads
            os.environ.setdefault(name, value)
    args = build_parser(selected).parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except CryopickError as exc:
        print(f"cryopick {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
