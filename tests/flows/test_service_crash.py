"""A service killed in the middle of a job: the task's retry finishes the job in the same job directory."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

JOB = "AutoPick/job005/"


class KillPickerMidJob(threading.Thread):
    """Wait for the first per-micrograph coordinate file of the LoG job, freeze the picker
    (SIGSTOP), record how far the job got, then SIGKILL it."""

    def __init__(self, services, project: Path, n_mics: int):
        super().__init__(daemon=True)
        self.services, self.project, self.n_mics = services, project, n_mics
        self.done_at_kill: int | None = None
        self.finished_at_kill: bool | None = None
        self.killed_pid: int | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 180
        job = self.project / JOB
        while time.monotonic() < deadline:
            if job.is_dir() and any(job.rglob("*_autopick.star")):
                proc = self.services.services["picker"].proc
                os.kill(proc.pid, signal.SIGSTOP)
                self.done_at_kill = len(list(job.rglob("*_autopick.star")))
                self.finished_at_kill = (job / "RELION_JOB_EXIT_SUCCESS").exists()
                self.killed_pid = proc.pid
                os.kill(proc.pid, signal.SIGKILL)
                return
            time.sleep(0.001)


def _files(root: Path, job: str) -> dict[str, bytes]:
    """The job's STAR files; job.star without its rlnJobIsContinue line (1 for the continued job, as RELION)."""
    out = {str(p.relative_to(root / job)): p.read_bytes() for p in sorted((root / job).rglob("*.star"))}
    out["job.star"] = b"".join(ln for ln in out["job.star"].splitlines(True) if not ln.startswith(b"_rlnJobIsContinue"))
    return out


def test_killed_picker_is_restarted_and_the_retry_finishes_the_job(services, services_root, make_project, quick_chain):
    from prefect.client.orchestration import get_client

    from cryopick.flows.particle_picking import particle_picking

    n = 4
    crashed = make_project(services_root, "crash", n_mics=n, seed=7)
    clean = make_project(services_root, "clean", n_mics=n, seed=7)

    reference = particle_picking(project_dir=str(clean), service_project="clean", return_state=True, **quick_chain)
    assert {s["step"]: s["job_dir"] for s in reference.result(raise_on_failure=False)["steps"]}["LoG picking"] == JOB

    restarts_before = services.services["picker"].restarts
    killer = KillPickerMidJob(services, crashed, n)
    killer.start()
    state = particle_picking(project_dir=str(crashed), service_project="crash", return_state=True, **quick_chain)
    killer.join(timeout=5)

    # the kill really happened in the middle of the job
    assert killer.killed_pid is not None, "the LoG job never wrote a coordinate file"
    assert killer.finished_at_kill is False and 1 <= killer.done_at_kill < n
    assert services.services["picker"].restarts == restarts_before + 1
    assert services.services["picker"].proc.pid != killer.killed_pid

    steps = {s["step"]: s for s in state.result(raise_on_failure=False)["steps"]}
    log = steps["LoG picking"]
    assert log["state"] == "Completed" and log["job_dir"] == JOB  # same job directory, no new number
    assert not (crashed / "AutoPick/job006").exists()
    with get_client(sync_client=True) as client:
        assert client.read_task_run(log["task_run_id"]).run_count >= 2  # it was retried

    # outputs equal those of the uninterrupted run
    assert _files(crashed, JOB) == _files(clean, JOB)
    assert (crashed / JOB / "RELION_JOB_EXIT_SUCCESS").exists()
    ext = steps["Extraction"]["job_dir"]
    assert (crashed / ext / "particles.star").read_bytes() == (clean / ext / "particles.star").read_bytes()
