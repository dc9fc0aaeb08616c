"""Job numbering for flow tasks: allocate ``Type/jobNNN/`` only when a job really runs, once per key.

The job directory allocated for a cache key is remembered under ``.cryopick/jobs/<key>.json``.
A retry of the task (same key) and a re-run after a crash reuse that directory, so the stage
continues per micrograph instead of starting a new job number; a key whose directory was
deleted gets a new number. The record is written under the pipeline lock before the directory
is created, so a flow killed while allocating leaves either nothing (the number is given again)
or a directory its key finds again — never an empty job directory that nothing claims.

Two flow runs of one project may reach the same job (same key) at once. :func:`claimed_job`
holds the key's lock (``.cryopick/jobs/<key>.lock``, ``flock``; released by the kernel if the
holder dies) while the job runs; the other run waits, then takes the finished job's result from
the key's record instead of running it a second time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from cryopick.io.atomic import write_text_atomic
from cryopick.io.pipeline import allocate_job, release_job

from cryopick.flows.caching import JOBS_DIR, job_outputs_present


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
    record.parent.mkdir(parents=True, exist_ok=True)

    def remember(job_dir: str) -> None:  # before the directory exists: a flow killed in between leaves no orphan
        write_text_atomic(record, json.dumps({"job_dir": job_dir, "job_type": job_type}) + "\n")

    return allocate_job(root, job_type, reserve=remember), False


@dataclass
class JobClaim:
    """The job of one key, held by this run (see :func:`claimed_job`).

    Attributes
    ----------
    job_dir : str
        Its job directory ("" when ``finished``).
    reused : bool
        The directory was allocated earlier (a retry, or a run after a crash): the stage continues.
    finished : dict or None
        The result of the job, when a concurrent run finished it while this one waited.
    """

    root: Path
    key: str
    job_type: str
    job_dir: str = ""
    reused: bool = False
    finished: dict[str, Any] | None = None

    def done(self, result: Mapping[str, Any]) -> None:
        """Record the finished job's result, for a run waiting on the same key."""
        record = self.root / JOBS_DIR / f"{self.key}.json"
        write_text_atomic(record, json.dumps({"job_dir": self.job_dir, "job_type": self.job_type, "result": dict(result)}) + "\n")


def _finished_result(root: Path, key: str) -> dict[str, Any] | None:
    try:
        result = json.loads((root / JOBS_DIR / f"{key}.json").read_text()).get("result")
    except (OSError, ValueError, AttributeError):
        return None
    return result if isinstance(result, dict) and job_outputs_present(root, result) else None


@contextlib.contextmanager
def claimed_job(project_root: str | os.PathLike, job_type: str, key: str) -> Iterator[JobClaim]:
    """Hold the key's job while it runs: ``with claimed_job(...) as claim: ...; claim.done(result)``.

    Blocks while another run holds the key. If that run finished the job, ``claim.finished`` is
    its result and no directory is allocated; otherwise ``claim.job_dir`` is the key's job
    directory (:func:`job_dir_for`).
    """
    root = Path(project_root)
    lock_path = root / JOBS_DIR / f"{key}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            claim = JobClaim(root, key, job_type, finished=_finished_result(root, key))
            if claim.finished is None:
                claim.job_dir, claim.reused = job_dir_for(root, job_type, key)
            yield claim
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
