"""``cryopick <stage> ...``: the command line of every registered stage, built from its ``Params``.

Flags, defaults, help texts (the RELION GUI's words, the unit, the RELION option) and
required inputs all come from the field metadata (:mod:`cryopick.stages.fields`); nothing
here knows a particular stage. Besides the stage's fields every command takes ``--o JOBDIR``
(default: the next ``<Type>/jobNNN/`` of the project), ``--project-root`` and ``--quiet``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cryopick.cli.progress import ProgressBar
from cryopick.io.pipeline import allocate_job
from cryopick.stages.fields import MISSING, coerce, fields_of
from cryopick.stages.registry import StageSpec


def _help(f: Any) -> str:
    text = f.info.help + (f" [{f.info.unit}]" if f.info.unit else "")
    if f.default is MISSING:
        text += " (required)"
    elif f.base is not bool and f.default not in (None, "", ()):
        text += f" (default: {f.default:g})" if isinstance(f.default, float) else f" (default: {f.default})"
    elif f.base is bool:
        text += f" (default: {'yes' if f.default else 'no'})"
    if f.info.relion:
        text += f"; RELION {f.info.relion}"
    return text.replace("%", "%%")


def add_arguments(parser: argparse.ArgumentParser, spec: StageSpec) -> None:
    """Add one argument per ``Params`` field of ``spec``, plus ``--o``, ``--project-root``, ``--quiet``."""
    for f in fields_of(spec.params_class):
        kw: dict[str, Any] = {"dest": f.name, "help": _help(f)}
        if f.base is bool:
            kw.update(action=argparse.BooleanOptionalAction, default=f.default)
        elif f.base is tuple:
            kw.update(nargs="+", default=f.default, metavar="FILE")
        else:
            kw.update(type=f.base, default=None if f.default is MISSING else f.default)
            if f.choices:
                kw["choices"] = f.choices
            if f.is_input:
                kw["metavar"] = "FILE"
            kw["required"] = f.default is MISSING
        parser.add_argument(f.info.cli, **kw)
    parser.add_argument("--o", dest="output", metavar="JOBDIR",
                        help=f"output job directory, e.g. {spec.job_type}/job006/ (default: the next job number)")
    parser.add_argument("--project-root", default=".", help="project directory (default: the current directory)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def params_from_args(spec: StageSpec, args: argparse.Namespace) -> Any:
    """The stage's ``Params`` from parsed arguments."""
    cls = spec.params_class
    return cls(**{f.name: coerce(cls, f.name, getattr(args, f.name)) for f in fields_of(cls)})


def main(spec: StageSpec, args: argparse.Namespace) -> int:
    """Run the stage into ``--o`` (or the next job directory) and print what it made."""
    if not spec.implemented:
        print(f"cryopick {spec.name}: {spec.title} is not implemented yet", file=sys.stderr)
        return 2
    params = params_from_args(spec, args)
    job_dir = args.output
    if not job_dir:
        job_dir = allocate_job(args.project_root, spec.job_type)
    progress = None if args.quiet else ProgressBar(spec.name)
    result = spec.module().run(params, args.project_root, job_dir, progress=progress)
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.counts.items() if v)
    print(f"{spec.title}: {result.job_dir}" + (f" ({counts})" if counts else ""))
    for path, _label in result.output_nodes:
        print(f"  {path}")
    for name, reason in result.failures.items():
        print(f"  skipped {name}: {reason}", file=sys.stderr)
    return 0
