"""One project's deployments: ``particle-picking/<name>`` and ``facility-picking/<name>``.

A facility gives each project its own pair of deployments (``cryopick deploy``), with the
project's directory, its path under the services' root and its job parameters. They name a real
project: its directory and micrographs STAR are checked before anything is registered, and the
placeholder of ``prefect.yaml``'s templates is refused. They carry no Prefect concurrency limit
(a run killed with its worker would hold the slot for ever, :mod:`cryopick.flows.run_lock`):
two runs of one project share each job, and a facility run that falls due while the previous one
is still going is skipped. The worker runs the flows from the installed cryopick (the directory
holding ``flows/``), as ``prefect.yaml`` does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryopick.errors import BadInputError, MissingFileError
from cryopick.flows.placeholder import is_placeholder

#: Deployment name -> (flow entrypoint inside the flows directory).
ENTRYPOINTS = {
    "particle-picking": "particle_picking.py:particle_picking",
    "facility-picking": "facility.py:facility_picking",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ProjectDeployment:
    """What ``cryopick deploy`` registers for one project.

    Attributes
    ----------
    project_dir : str
        The project as the worker sees it (absolute).
    name : str
        Deployment name shared by both flows (default: the project directory's name).
    service_project : str
        The project relative to the services' ``--project-root`` ("" = the root itself).
    micrographs_star : str
        Project-relative micrographs STAR both flows read.
    work_pool : str
        The Prefect work pool whose worker runs the flows (created, type ``process``, if missing).
    schedule_minutes : float
        Interval of the facility flow's schedule; 0 registers it without a schedule.
    chapter_params : dict
        Further ``particle-picking`` parameters (job parameters, ``topaz_route``...).
    facility_params : dict
        Further ``facility-picking`` parameters (``picker``, ``topaz_model``...).
    """

    project_dir: str
    name: str = ""
    service_project: str = ""
    micrographs_star: str = "CtfFind/job003/micrographs_ctf.star"
    work_pool: str = "cryopick"
    schedule_minutes: float = 0.0
    chapter_params: dict[str, Any] = field(default_factory=dict)
    facility_params: dict[str, Any] = field(default_factory=dict)

    @property
    def deployment_name(self) -> str:
        return self.name or Path(self.project_dir).name


def check(d: ProjectDeployment) -> None:
    """Refuse a deployment that could not run: placeholder or missing project, bad name.

    Raises
    ------
    BadInputError
        The placeholder project, a relative project path, a name Prefect's CLI could not address,
        or a negative schedule.
    MissingFileError
        No such project directory, or no micrographs STAR in it.
    """
    if is_placeholder(d.project_dir):
        raise BadInputError(f"{d.project_dir}: this is the placeholder of prefect.yaml's templates; give cryopick "
                            "deploy the directory of a real RELION project")
    if not os.path.isabs(d.project_dir):
        raise BadInputError(f"{d.project_dir}: give the project as an absolute path (the worker runs elsewhere)")
    if not Path(d.project_dir).is_dir():
        raise MissingFileError(f"{d.project_dir}: project directory not found")
    if not (Path(d.project_dir) / d.micrographs_star).is_file():
        raise MissingFileError(f"{Path(d.project_dir) / d.micrographs_star}: micrographs STAR not found")
    if not _NAME.match(d.deployment_name):
        raise BadInputError(f"deployment name {d.deployment_name!r}: use letters, digits, '.', '_' and '-' "
                            "(it is typed in 'prefect deployment run <flow>/<name>')")
    if d.schedule_minutes < 0:
        raise BadInputError(f"--schedule-minutes {d.schedule_minutes:g}: must be 0 (no schedule) or more")


def deploy(d: ProjectDeployment) -> dict[str, str]:
    """Register both deployments of the project with the Prefect API in ``PREFECT_API_URL``.

    Returns
    -------
    dict
        ``"<flow>/<name>"`` -> deployment id, for both flows.
    """
    check(d)
    from prefect import flow

    ensure_work_pool(d.work_pool)
    flows_dir = Path(__file__).resolve().parent
    common = {"project_dir": d.project_dir, "micrographs_star": d.micrographs_star,
              "service_project": d.service_project}
    plans = {  # no deployment concurrency limit: see cryopick.flows.run_lock for why and what instead
        "particle-picking": ({**common, **d.chapter_params}, None),  # started by hand or from the UI
        "facility-picking": ({**common, **d.facility_params}, d.schedule_minutes * 60 if d.schedule_minutes > 0 else None),
    }
    ids = {}
    for flow_name, (parameters, interval_s) in plans.items():
        source = flow.from_source(source=str(flows_dir.parent), entrypoint=f"{flows_dir.name}/{ENTRYPOINTS[flow_name]}")
        ids[f"{flow_name}/{d.deployment_name}"] = str(source.deploy(
            name=d.deployment_name, work_pool_name=d.work_pool, parameters=parameters,
            interval=interval_s, tags=["cryopick", d.deployment_name], build=False, push=False,
            print_next_steps=False, ignore_warnings=True,
            description=f"{flow_name} of {d.project_dir}",
        ))
    return ids


def ensure_work_pool(name: str) -> None:
    """Create the work pool (type ``process``) unless it exists; a worker started with ``--type process``
    may create it at the same moment, which is fine."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            try:
                client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            except ObjectAlreadyExists:
                pass
