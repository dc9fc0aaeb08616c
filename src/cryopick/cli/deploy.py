"""``cryopick deploy``: register one project's deployments with the Prefect API (see :mod:`cryopick.flows.deploy`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cryopick.cli.run import flow_parameters
from cryopick.errors import BadInputError
from cryopick.flows.deploy import ProjectDeployment, check, deploy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, help="RELION project directory, as the worker sees it")
    parser.add_argument("--name", default="", help="deployment name (default: the project directory's name)")
    parser.add_argument("--service-project", default="",
                        help="the project's path relative to the services' --project-root (default: the root itself)")
    parser.add_argument("--micrographs", default="CtfFind/job003/micrographs_ctf.star",
                        help="project-relative micrographs STAR (default: %(default)s)")
    parser.add_argument("--pool", default="cryopick", help="Prefect work pool (type process; default: %(default)s)")
    parser.add_argument("--schedule-minutes", type=float, default=0.0,
                        help="run facility-picking every N minutes (default 0: no schedule)")
    parser.add_argument("--preset", default="tutorial", choices=("tutorial", "tutorial-cpu"),
                        help="job parameters of particle-picking (as cryopick run)")
    parser.add_argument("--params", help="YAML or JSON file of further particle-picking parameters")
    parser.add_argument("--picker", default="log", choices=("log", "topaz"), help="facility-picking's picker")
    parser.add_argument("--topaz-model", default="", help="facility-picking's project-relative Topaz model (.sav)")


def main(args: argparse.Namespace) -> int:
    if not os.environ.get("PREFECT_API_URL"):
        raise BadInputError("PREFECT_API_URL is not set: point it at the facility's Prefect server "
                            "(e.g. http://prefect-host:4200/api)")
    chapter = flow_parameters(args.params, args.preset)
    for key in ("project_dir", "micrographs_star", "service_project"):
        if key in chapter:
            raise BadInputError(f"{args.params}: give {key} as a cryopick deploy option, not in --params")
    facility = {"picker": args.picker, "topaz_model": args.topaz_model}
    d = ProjectDeployment(project_dir=str(Path(args.project).resolve()), name=args.name,
                          service_project=args.service_project, micrographs_star=args.micrographs, work_pool=args.pool,
                          schedule_minutes=args.schedule_minutes, chapter_params=chapter, facility_params=facility)
    check(d)
    for name, deployment_id in deploy(d).items():
        print(f"cryopick deploy: {name} ({deployment_id})")
    schedule = (f"every {args.schedule_minutes:g} min" if args.schedule_minutes > 0 else "no schedule")
    print(f"  facility-picking/{d.deployment_name}: {schedule}; a run due while the last one is going is cancelled")
    print(f"  start the chapter with: prefect deployment run particle-picking/{d.deployment_name}")
    return 0
