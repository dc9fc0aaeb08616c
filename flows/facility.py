"""Facility processing: pick and extract only the micrographs added since the last run.

Scheduled (see ``prefect.yaml``). Each run compares the micrographs STAR with the selections
earlier runs processed completely (recorded in ``<project>/.cryopick/facility/processed.txt``,
one ``Select/jobNNN/micrographs_new.star`` per line). If there are new micrographs, the
picker service writes them as a Select job (stage ``select-new``), they are picked (LoG, or
Topaz with a trained model) and extracted, and only then is the selection recorded, so a
failed or stopped run retries the same micrographs next time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.states import Cancelled

from cryopick.flows.chain import Chain, ChainStopped
from cryopick.flows.params import (
    STEPS,
    ExtractParams,
    LoGPickingParams,
    NewMicrographsParams,
    ServiceAddresses,
    TopazPickingParams,
)
from cryopick.flows.placeholder import refused_run
from cryopick.flows.run_lock import exclusive_run
from cryopick.flows.tasks import ProjectRef, node
from cryopick.errors import MissingFileError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.optics import micrograph_names

PROCESSED = ".cryopick/facility/processed.txt"


def processed_selections(project_dir: str | os.PathLike) -> list[str]:
    """Project-relative micrograph lists (earlier selections) recorded as fully processed."""
    path = Path(project_dir) / PROCESSED
    return path.read_text().split() if path.exists() else []


def record_processed(project_dir: str | os.PathLike, selection_star: str) -> None:
    """Record one selection as processed (the record is rewritten atomically)."""
    done = processed_selections(project_dir)
    write_text_atomic(Path(project_dir) / PROCESSED, "".join(f"{s}\n" for s in [*done, selection_star]))


def new_micrograph_count(project_dir: str | os.PathLike, micrographs_star: str, processed: list[str]) -> int:
    """How many micrographs of ``micrographs_star`` are in none of the ``processed`` lists."""
    root = Path(project_dir)
    done: set[str] = set()
    for rel in processed:
        done.update(micrograph_names(root / rel))
    return sum(1 for n in micrograph_names(root / micrographs_star) if n not in done)


@flow(name="facility-picking", persist_result=False)
def facility_picking(
    project_dir: str,
    micrographs_star: str = "CtfFind/job003/micrographs_ctf.star",
    picker: Literal["log", "topaz"] = "log",
    log_picking: LoGPickingParams = LoGPickingParams(),
    topaz_model: str = "",
    topaz_picking: TopazPickingParams = TopazPickingParams(),
    extract: ExtractParams = ExtractParams(),
    services: ServiceAddresses = ServiceAddresses(),
    service_project: str = "",
) -> Any:
    """Pick and extract the micrographs of micrographs_star that no earlier run processed.

    (Google style: the Prefect UI shows these as the parameters' descriptions.)

    Args:
        project_dir: The RELION project directory, as the machine running this flow sees it.
        micrographs_star: The growing micrographs STAR, relative to the project (e.g. the output
            of on-the-fly CTF estimation).
        picker: log: LoG picking with log_picking. topaz: Topaz picking with topaz_model.
        log_picking: Laplacian-of-Gaussian auto-picking job (picker log).
        topaz_model: Project-relative Topaz model (.sav) for picker topaz; "" = the pretrained network.
        topaz_picking: Topaz picking job (picker topaz).
        extract: Particle extraction job of the new picks.
        services: host:port of each service; an empty field uses CRYOPICK_<ROLE>_ADDRESS.
        service_project: The project's path relative to the services' --project-root ("" = the
            root itself). Set it when the project lies under that root.

    Returns:
        The run's report with new_micrographs (how many were processed) and new_micrographs_star.
        A run on the deployment's placeholder project ends Cancelled before any job.
    """
    if (refusal := refused_run(project_dir)) is not None:
        return refusal
    if not Path(project_dir).is_dir():
        raise MissingFileError(f"{project_dir}: project directory not found")
    with exclusive_run(project_dir) as held:
        if not held:
            message = (f"{project_dir}: the previous facility run of this project is still going; this run is "
                       "skipped (no job was run)")
            get_run_logger().info(message)
            return Cancelled(message=message)
        return _pick_new(project_dir, micrographs_star, picker, log_picking, topaz_model, topaz_picking, extract,
                         services, service_project)


def _pick_new(project_dir: str, micrographs_star: str, picker: str, log_picking: LoGPickingParams, topaz_model: str,
              topaz_picking: TopazPickingParams, extract: ExtractParams, services: ServiceAddresses,
              service_project: str) -> Any:
    """The body of :func:`facility_picking`, run while holding the project's facility run lock."""
    logger = get_run_logger()
    project = ProjectRef(project_dir=os.path.abspath(project_dir), service_project=service_project, services=services)
    processed = processed_selections(project.project_dir)
    n_new = new_micrograph_count(project.project_dir, micrographs_star, processed)
    if n_new == 0:
        logger.info("no new micrographs in %s", micrographs_star)
        return {"new_micrographs": 0, "steps": []}
    pick_key = "log_picking" if picker == "log" else "topaz_picking"
    chain = Chain(project, planned=[STEPS[k].title for k in ("new_micrographs", pick_key, "extract")])
    new_star = ""
    try:
        selection = chain.run("new_micrographs", NewMicrographsParams(), micrographs_star=micrographs_star,
                              processed_stars=tuple(processed))
        new_star = node(selection, "MicrographsData")
        logger.info("%d new micrographs -> %s", selection["counts"]["micrographs"], new_star)
        if picker == "log":
            picks = chain.run("log_picking", log_picking, micrographs_star=new_star)
        else:
            picks = chain.run("topaz_picking", topaz_picking, micrographs_star=new_star, model_path=topaz_model)
        chain.run("extract", extract, micrographs_star=new_star, coords_star=node(picks, "MicrographsCoords"))
    except ChainStopped:
        pass
    final = chain.finish("facility-picking")
    report = final if isinstance(final, dict) else final.result(raise_on_failure=False)
    if not chain.stopped_at:
        record_processed(project.project_dir, new_star)
    report["new_micrographs"] = n_new if not chain.stopped_at else 0
    report["new_micrographs_star"] = new_star
    return final
