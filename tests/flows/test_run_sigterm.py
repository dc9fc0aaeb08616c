"""``cryopick run`` stopped by SIGTERM (``kill``, ``timeout``, a service manager) stops what it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (proc / "stat").read_text().split(") ", 1)[1][0]
            except OSError:
                continue
            if text in cmdline and state != "Z" and int(proc.name) != os.getpid():
                found.append(int(proc.name))
    return found


def test_sigterm_stops_the_run_and_every_service_it_started(tmp_path):
    from cryopick.sim.params import SimParams
    from cryopick.synthetic.project import simulate_project

    project = tmp_path / "sigterm-project"
    simulate_project(SimParams(n_micrographs=2, seed=5), project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRYOPICK_"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    run = subprocess.Popen([sys.executable, "-m", "cryopick", "run", "--project", str(project)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # wait until the services are up and a job has started
        while not list(project.glob("Select/job*/note.txt")) and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.1)
        assert run.poll() is None, run.communicate()
        services = _processes_mentioning(f"--project-root {project}")
        assert len(services) == 5, services
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    assert "interrupted; services stopped" in err
    deadline = time.monotonic() + 15
    while _processes_mentioning(f"--project-root {project}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(f"--project-root {project}") == []
