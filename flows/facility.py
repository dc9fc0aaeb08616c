"""Facility processing: pick and extract only the micrographs added since the last run.

Scheduled (see ``prefect.yaml``). Each run diffs the micrographs STAR against the record of
processed micrographs (``<project>/.cryopick/facility/processed.txt``); if there are new
ones it writes them as a Select job (``Select/jobNNN/micrographs_new.star``), picks them (LoG,
or Topaz with a trained model), extracts the particles and only then records them as
processed, so a failed or stopped run retries the same micrographs next time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cryopick.flows.chain import Chain, ChainStopped
from cryopick.flows.params import ExtractParams, LoGParams, ServiceAddresses, TopazPickParams
from cryopick.flows.tasks import ProjectRef, autopick_log, extract_particles, node, topaz_pick

PROCESSED = ".cryopick/facility/processed.txt"
NEW_STAR = "micrographs_new.star"


def processed_micrographs(project_dir: str | os.PathLike) -> set[str]:
    """Names of micrographs recorded as processed."""
    path = Path(project_dir) / PROCESSED
    return set(path.read_text().split()) if path.exists() else set()


def record_processed(project_dir: str | os.PathLike, names: list[str]) -> None:
    """Append micrograph names to the processed record (atomically rewritten)."""
    from cryopick.io.atomic import write_text_atomic

    path = Path(project_dir) / PROCESSED
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text() if path.exists() else ""
    write_text_atomic(path, old + "".join(f"{n}\n" for n in names))


@task(name="Select new micrographs", task_run_name="Select new micrographs", cache_policy=NO_CACHE)
def select_new_micrographs(project_dir: str, micrographs_star: str) -> dict[str, Any] | None:
    """Write the not-yet-processed micrographs into a new Select job; None if there are none."""
    from cryopick.io.jobdir import JobDir
    from cryopick.io.optics import read_optics_star, write_optics_star
    from cryopick.io.pipeline import allocate_job, register_job

    root = Path(project_dir)
    star = read_optics_star(root / micrographs_star, data_name="micrographs")
    done = processed_micrographs(root)
    names = [str(n) for n in star.data["rlnMicrographName"]]
    keep = [n not in done for n in names]
    new = [n for n, k in zip(names, keep) if k]
    if not new:
        return None
    job_dir = allocate_job(root, "Select")
    job = JobDir(root, job_dir)
    job.begin(f"cryopick facility: micrographs of {micrographs_star} not processed before", "relion.select",
              {"fn_mic": micrographs_star})
    with job.running():
        write_optics_star(root / job_dir / NEW_STAR, star.with_data(star.data[keep].reset_index(drop=True)))
        job.log(f"{len(new)} new of {len(names)} micrographs")
    out = f"{job_dir}{NEW_STAR}"
    register_job(root, job_dir, "relion.select", "Succeeded",
                 inputs=[(micrographs_star, "MicrographsData.star.relion.ctf")], outputs=[(out, "MicrographsData.star.relion")])
    return {"job_dir": job_dir, "micrographs_star": out, "micrographs": new}


@flow(name="facility-picking", persist_result=False)
def facility_picking(
    project_dir: str,
    micrographs_star: str = "CtfFind/job003/micrographs_ctf.star",
    picker: Literal["log", "topaz"] = "log",
    log_picking: LoGParams = LoGParams(),
    topaz_model: str = "",
    topaz_picking: TopazPickParams = TopazPickParams(),
    extract: ExtractParams = ExtractParams(),
    services: ServiceAddresses = ServiceAddresses(),
    service_project: str = "",
) -> Any:
    """Pick and extract the micrographs of ``micrographs_star`` that no earlier run processed.

    Parameters
    ----------
    project_dir : str
        The RELION project (as this flow's machine sees it).
    micrographs_star : str
        The growing micrographs STAR (e.g. the output of on-the-fly CTF estimation).
    picker : "log" | "topaz"
        LoG picking with ``log_picking``, or Topaz with ``topaz_model`` (project-relative .sav).
    """
    logger = get_run_logger()
    project = ProjectRef(project_dir=os.path.abspath(project_dir), service_project=service_project, services=services)
    new = select_new_micrographs(project.project_dir, micrographs_star)
    if new is None:
        logger.info("no new micrographs in %s", micrographs_star)
        return {"new_micrographs": 0, "steps": []}
    logger.info("%d new micrographs -> %s", len(new["micrographs"]), new["micrographs_star"])
    pick_task = autopick_log if picker == "log" else topaz_pick
    chain = Chain(project, planned=[pick_task.name, extract_particles.name])
    try:
        if picker == "log":
            picks = chain.run(autopick_log, micrographs_star=new["micrographs_star"], params=log_picking)
        else:
            picks = chain.run(topaz_pick, micrographs_star=new["micrographs_star"], model_path=topaz_model, params=topaz_picking)
        chain.run(extract_particles, micrographs_star=new["micrographs_star"], coords_star=node(picks, "MicrographsCoords"), params=extract)
    except ChainStopped:
        pass
    final = chain.finish("facility-picking")
    if not chain.stopped_at:
        record_processed(project.project_dir, new["micrographs"])
        final["new_micrographs"] = len(new["micrographs"])
    final["new_micrographs_star"] = new["micrographs_star"]
    return final
