"""Job numbering for flow tasks: allocate ``Type/jobNNN/`` only when a job really runs, once per key.

The job directory allocated for a cache key is remembered under ``.cryopick/jobs/<key>.json``.
A retry of the task (same key) and a re-run after a crash reuse that directory, so the stage
continues per micrograph instead of starting a new job number; a key whose directory was
deleted gets a new number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryopick.io.atomic import write_text_atomic
from cryopick.io.pipeline import allocate_job, release_job

from cryopick.flows.caching import JOBS_DIR


def job_dir_for(project_root: str | os.PathLike, job_type: str, key: str) -> tuple[str, bool]:
    """The job directory for a job with cache key ``key``: ``(job_dir, reused)``.

    Parameters
    ----------
    project_root : path
        The project directory.
    job_type : str
        RELION job type directory, e.g. ``"AutoPick"``.
    key : str
        The job's cache key.
    """
    root = Path(project_root)
    record = root / JOBS_DIR / f"{key}.json"
    if record.exists():
        try:
            job_dir = json.loads(record.read_text())["job_dir"]
        except (ValueError, KeyError):
            job_dir = ""
        if job_dir and job_dir.startswith(f"{job_type}/") and (root / job_dir).is_dir():
            return job_dir, True
    job_dir = allocate_job(root, job_type)
    record.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(record, json.dumps({"job_dir": job_dir, "job_type": job_type}) + "\n")
    return job_dir, False


def release_job_dir(project_root: str | os.PathLike, job_dir: str, key: str) -> bool:
    """Give back a job directory nothing was written to (the service could not run the job).

    Removes the empty directory and steps the job counter back (:func:`cryopick.io.pipeline.release_job`)
    and forgets the key's record. Returns False (and does nothing) if the directory is not empty.
    """
    root = Path(project_root)
    if not release_job(root, job_dir):
        return False
    (root / JOBS_DIR / f"{key}.json").unlink(missing_ok=True)
    return True
