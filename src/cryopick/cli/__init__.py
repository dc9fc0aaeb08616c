"""``cryopick <command> ...``: one sub-command per stage, plus simulate / run.

Each command lives in ``cryopick.cli.<module>`` and defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``main(args) -> int``. Command modules import heavy
libraries only inside ``main`` so ``cryopick --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cryopick.errors import CryopickError

COMMAND_MODULES = (
    "simulate",
    "select",
    "autopick_log",
    "score_picks",
    "extract",
    "run",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryopick", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for modname in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"cryopick.cli.{modname}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cryopick.cli.{modname}":
                raise
            continue
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except CryopickError as exc:
        print(f"cryopick {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
