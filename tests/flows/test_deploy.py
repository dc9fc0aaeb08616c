"""The README's deployment walk-through, run as written, through a real Prefect worker.

The commands are read from the README's block marked ``run as written by
tests/flows/test_deploy.py``; only the project path is replaced by a simulated project under
the services' root, and ``--params`` with the flow tests' short job settings is added to
``cryopick deploy`` (the tutorial's Class2D and Topaz training take hours on a CPU). The worker
(``prefect worker start``) runs the deployment in its own process against the session's
services and Prefect server. Checked: the run completes; it wrote the same job directories and
byte-identical outputs as the embedded flow (``particle_picking(...)`` in this process) on a copy
of the same project; the worker stops within seconds of SIGTERM. ``prefect.yaml``'s templates:
the facility schedule is off, and a run of the placeholder project ends Cancelled, naming the
parameter, before any job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project_tree import job_dirs, tree

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MARKER = "run as written by tests/flows/test_deploy.py"
README_PROJECT = "/data/projects/ribosome"


def readme_commands() -> list[str]:
    """The shell lines of the README block that follows :data:`MARKER`."""
    text = (REPO / "README.md").read_text()
    after = text[text.index(MARKER):]
    block = after[after.index("```sh") + len("```sh"):]
    block = block[:block.index("```")]
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


def _environment(services) -> dict[str, str]:
    import prefect.settings

    return {**os.environ, "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value(), "CRYOPICK_REPO": str(REPO), "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **{f"CRYOPICK_{role.upper()}_ADDRESS": address for role, address in services.addresses.items()}}


def _flow_run_id(output: str) -> str:
    found = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
    assert found, output
    return found.group(1)


def _state(run_id: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def _wait_final(run_id: str, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _state(run_id)
        if state is not None and state.is_final():
            return state
        time.sleep(1.0)
    raise AssertionError(f"flow run {run_id} not finished after {timeout_s:.0f} s: {state}")


def test_the_readme_walkthrough_runs_the_chapter_through_a_worker(services, services_root, make_project,
                                                                   quick_chain, tmp_path):
    from cryopick.flows.params import ServiceAddresses
    from cryopick.flows.particle_picking import particle_picking

    commands = readme_commands()
    assert [c.split()[:2] for c in commands] == [["prefect", "work-pool"], ["cryopick", "deploy"],
                                                ["prefect", "worker"], ["prefect", "deployment"]]
    project = make_project(services_root, "ribosome", n_mics=2, seed=21)
    embedded = services_root / "ribosome-embedded"
    shutil.copytree(project, embedded, symlinks=True)
    params = tmp_path / "short.json"
    params.write_text(json.dumps({k: v.model_dump(mode="json") for k, v in quick_chain.items()}))
    env = _environment(services)

    def shell(line: str) -> list[str]:
        line = line.replace(README_PROJECT, str(project))
        if line.startswith("cryopick deploy"):
            line += f" --params {params}"
        return line.rstrip(" &").split()

    worker = None
    try:
        for line in commands:
            argv = shell(line)
            if line.endswith("&"):
                worker = subprocess.Popen(argv, env=env, stdout=open(tmp_path / "worker.log", "wb"),
                                          stderr=subprocess.STDOUT, start_new_session=True)
                continue
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            if argv[:2] == ["prefect", "deployment"]:
                state = _wait_final(_flow_run_id(done.stdout), 60)
                assert state.is_completed(), (state, (tmp_path / "worker.log").read_text()[-3000:])

        # the embedded flow on a copy of the same project: the same jobs, the same outputs
        reference = particle_picking(project_dir=str(embedded), service_project=embedded.name,
                                     services=ServiceAddresses(**services.addresses), return_state=True, **quick_chain)
        assert reference.is_completed(), reference.message
        assert job_dirs(project) == job_dirs(embedded) and "Extract/job011/" in job_dirs(project)  # the 8 steps ran
        assert tree(project) == tree(embedded)

        # prefect.yaml's templates: schedule off; the placeholder is refused before any job
        done = subprocess.run(["prefect", "--no-prompt", "deploy", "--all"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            facility = client.read_deployment_by_name("facility-picking/facility-new-micrographs")
        assert facility.schedules and not any(s.active for s in facility.schedules)
        done = subprocess.run(["prefect", "deployment", "run", "facility-picking/facility-new-micrographs"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        state = _wait_final(_flow_run_id(done.stdout), 120)
        assert state.is_cancelled() and "project_dir is still the placeholder" in state.message, state
        assert not Path("/data/projects/CHANGE_ME").exists()
    finally:
        if worker is not None:
            t0 = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            try:
                code = worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                code = None
            stopped_s = time.monotonic() - t0
    assert code is not None and stopped_s < 10, f"the worker took {stopped_s:.1f} s to stop on SIGTERM (exit {code})"


def test_a_worker_stopped_mid_run_leaves_nothing_that_blocks_the_next_run(services, services_root, make_project,
                                                                          quick_chain, tmp_path):
    """SIGTERM to the worker during Class2D: the worker and its flow stop within seconds; the
    killed run stays Running on the server (Prefect hears nothing more from it), yet the next
    run of the deployment is not held back by it and continues Class2D in its job directory."""
    project = make_project(services_root, "stopped", n_mics=2, seed=31)
    params = {k: v.model_dump(mode="json") for k, v in quick_chain.items()}
    params["class2d"].update(nr_classes=10, nr_iter=12)  # long enough to be stopped in the middle
    (tmp_path / "params.json").write_text(json.dumps(params))
    env = _environment(services)
    done = subprocess.run(["cryopick", "deploy", "--project", str(project), "--service-project", project.name,
                           "--params", str(tmp_path / "params.json"), "--pool", "stop-test"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    def worker(log: str) -> subprocess.Popen:
        return subprocess.Popen(["prefect", "worker", "start", "--pool", "stop-test"], env=env,
                                stdout=open(tmp_path / log, "wb"), stderr=subprocess.STDOUT)

    first = worker("worker1.log")
    try:
        out = subprocess.run(["prefect", "deployment", "run", "particle-picking/stopped"], env=env,
                             capture_output=True, text=True, timeout=120).stdout
        killed_run = _flow_run_id(out)
        deadline = time.monotonic() + 300
        while not list(project.glob("Class2D/job*/run_it002_model.star")):
            assert time.monotonic() < deadline and first.poll() is None, (tmp_path / "worker1.log").read_text()[-3000:]
            time.sleep(0.2)
    finally:
        t0 = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        stopped_s = time.monotonic() - t0
    assert stopped_s < 10, f"worker took {stopped_s:.1f} s to stop"
    assert not (project / "Class2D" / "job007" / "run_it012_model.star").exists()  # stopped mid-Class2D
    time.sleep(2)
    assert not _state(killed_run).is_final()  # no one told the server: it still says Running

    second = worker("worker2.log")
    try:
        done = subprocess.run(["prefect", "deployment", "run", "particle-picking/stopped", "--watch"], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0 and "Completed" in done.stdout, done.stdout[-3000:]
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert sorted(p.name for p in project.glob("Class2D/job*")) == ["job007"]  # continued, not started again
    assert (project / "Class2D" / "job007" / "run_it012_model.star").exists()
    assert (project / "Class2D" / "job007" / "note.txt").read_text().count("Executing new job") == 2  # begun twice
