"""The README's facility deployment, run as written: Prefect server, services over mutual TLS,
the worker's environment, one project's deployments, a run through a real Prefect worker.

The commands are read from the README: the inline ``prefect server start`` of step 1 and the
blocks marked ``run as written by tests/flows/test_deploy.py``. Substituted: paths (``/data/projects``
becomes the test's services root, ``/etc/cryopick/*`` the certificates ``tests/certs.py`` makes),
host names and ports (free ones); ``--params`` with the flow tests' short job settings is added to
``cryopick deploy`` (the tutorial's Class2D and Topaz training take hours on a CPU). Checked: the
run completes through the worker, with the same job directories and byte-identical outputs as
the embedded flow on a copy of the same project; a second run with ``--param
topaz_route=pretrained`` (the README's example) adds only its two jobs; the worker stops within
seconds of SIGTERM. ``prefect.yaml``'s templates: the facility schedule is off, and a run of the
placeholder project ends Cancelled, naming the parameter, before any job.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from certs import Authority
from project_tree import job_dirs, tree

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MARKER = "run as written by tests/flows/test_deploy.py"
ROLES = ("picker", "extractor", "classifier", "ranker", "topaz")


def marked_blocks() -> list[list[str]]:
    """The command lines of each README block that follows :data:`MARKER`, in order."""
    text, blocks, pos = README.read_text(), [], 0
    while (i := text.find(MARKER, pos)) >= 0:
        body = text[text.index("```", i):]
        body = body[body.index("\n") + 1:]
        blocks.append([line.strip() for line in body[:body.index("```")].splitlines() if line.strip()])
        pos = i + len(MARKER)
    return blocks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_get(api: str, path: str) -> dict:
    with urllib.request.urlopen(f"{api}{path}", timeout=10) as response:
        return json.loads(response.read())


def _flow_run_id(output: str) -> str:
    found = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
    assert found, output
    return found.group(1)


def _state(run_id: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def wait_final(api: str, run_id: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = api_get(api, f"/flow_runs/{run_id}")["state"]
        if state and state["type"] in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED"):
            return state
        time.sleep(1.0)
    raise AssertionError(f"flow run {run_id} not finished after {timeout_s:.0f} s: {state}")


def exports(line: str, substitute) -> dict[str, str]:
    """``export A=B C=D  # comment`` -> {A: B, C: D}, values substituted (a ``...`` value is left out)."""
    words = shlex.split(line, comments=True)
    assert words[0] == "export", line
    pairs = dict(w.split("=", 1) for w in words[1:])
    return {k: substitute(v) for k, v in pairs.items() if v != "..."}


def _environment(services) -> dict[str, str]:
    import prefect.settings

    return {**os.environ, "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value(), "CRYOPICK_REPO": str(REPO),
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **{f"CRYOPICK_{role.upper()}_ADDRESS": address for role, address in services.addresses.items()}}


def test_the_readme_facility_deployment_runs_as_written(services, services_root, make_project, quick_chain,
                                                        tmp_path):
    from cryopick.flows.params import ServiceAddresses
    from cryopick.flows.particle_picking import particle_picking

    services_block, worker_block, deploy_block = marked_blocks()
    server_command = re.search(r"`(prefect server start[^`]*)`", README.read_text()).group(1)
    root = tmp_path / "projects"
    root.mkdir()
    project = make_project(root, "ribosome", n_mics=2, seed=21)
    embedded = services_root / "ribosome-embedded"
    shutil.copytree(project, embedded, symlinks=True)
    params = tmp_path / "short.json"
    params.write_text(json.dumps({k: v.model_dump(mode="json") for k, v in quick_chain.items()}))

    ca = Authority(tmp_path / "pki", "facility-ca")
    server_pem, worker_pem = ca.issue("service"), ca.issue("worker", client=True)
    files = {"/etc/cryopick/service.crt": server_pem.cert, "/etc/cryopick/service.key": server_pem.key,
             "/etc/cryopick/facility-ca.crt": ca.pem.cert, "/etc/cryopick/worker.crt": worker_pem.cert,
             "/etc/cryopick/worker.key": worker_pem.key}
    ports = {role: free_port() for role in ROLES}
    prefect_port = free_port()
    api = f"http://127.0.0.1:{prefect_port}/api"

    def substitute(text: str) -> str:
        for written, real in files.items():
            text = text.replace(written, str(real))
        text = text.replace("/data/projects", str(root)).replace("$PWD", str(REPO))
        text = text.replace("<server>:4200", f"127.0.0.1:{prefect_port}")
        for i, role in enumerate(ROLES):
            text = text.replace(f"{role}-host:{50051 + i}", f"localhost:{ports[role]}")
        return text

    base = {k: v for k, v in os.environ.items() if not k.startswith(("CRYOPICK_", "PREFECT_API_URL"))}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    processes: list[subprocess.Popen] = []

    def start(argv: list[str], env: dict, log: str) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=open(tmp_path / log, "wb"), text=True,
                                start_new_session=True)
        processes.append(proc)
        return proc

    worker = None
    try:
        # 1. Prefect server
        server_env = {**base, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        start([*shlex.split(server_command), "--port", str(prefect_port)], server_env, "server.log")

        # 2. services, over mutual TLS
        service_env = dict(base)
        for line in services_block:
            if line.startswith("export"):
                service_env.update(exports(line, substitute))
                continue
            argv = shlex.split(substitute(line), comments=True)
            role = argv[2].rsplit(".", 1)[1]
            port = argv.index("--port") + 1
            assert argv[port] == str(50051 + ROLES.index(role)), line
            argv[port] = str(ports[role])
            proc = start([sys.executable if argv[0] == "python" else argv[0], *argv[1:]], service_env, f"{role}.log")
            assert proc.stdout.readline().startswith("LISTENING"), (tmp_path / f"{role}.log").read_text()[-2000:]
        assert {"CRYOPICK_TLS_CERT", "CRYOPICK_TLS_KEY", "CRYOPICK_TLS_CLIENT_CA"} <= set(service_env)

        # 3. the worker's environment (the README's "... # one per role": every role)
        env = dict(base, PREFECT_WORKER_QUERY_SECONDS="2")
        for line in worker_block:
            env.update(exports(line, substitute))
        for role in ROLES:
            env.setdefault(f"CRYOPICK_{role.upper()}_ADDRESS", f"localhost:{ports[role]}")
        assert env["PREFECT_API_URL"] == api and "CRYOPICK_TLS_CLIENT_CERT" in env
        deadline = time.monotonic() + 120
        while True:
            try:
                api_get(api, "/health")
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
                time.sleep(0.5)

        # 4. one project's deployments, a worker, a run
        for line in deploy_block:
            argv = shlex.split(substitute(line).rstrip(" &"))
            if argv[:2] == ["cryopick", "deploy"]:
                argv += ["--params", str(params)]
            if line.endswith("&"):
                worker = subprocess.Popen(argv, env=env, stdout=open(tmp_path / "worker.log", "wb"),
                                          stderr=subprocess.STDOUT, start_new_session=True)
                continue
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            if argv[:2] == ["prefect", "deployment"]:
                state = wait_final(api, _flow_run_id(done.stdout), 60)
                assert state["type"] == "COMPLETED", (state, (tmp_path / "worker.log").read_text()[-3000:])
        chapter_jobs = job_dirs(project)

        # the README's example of changing a parameter for one run
        example = re.search(r"`(prefect deployment run particle-picking/ribosome --param [^`]*)`", README.read_text())
        done = subprocess.run(shlex.split(example.group(1)), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        state = wait_final(api, _flow_run_id(done.stdout), 300)
        assert state["type"] == "COMPLETED", state
        assert sorted(set(job_dirs(project)) - set(chapter_jobs)) == ["AutoPick/job012/", "Extract/job013/"]

        # prefect.yaml's templates: schedule off; the placeholder is refused before any job
        done = subprocess.run(["prefect", "--no-prompt", "deploy", "--all"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        facility = api_get(api, "/deployments/name/facility-picking/facility-new-micrographs")
        assert facility["schedules"] and not any(s["active"] for s in facility["schedules"])
        done = subprocess.run(["prefect", "deployment", "run", "facility-picking/facility-new-micrographs"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        state = wait_final(api, _flow_run_id(done.stdout), 120)
        assert state["type"] == "CANCELLED" and "project_dir is still the placeholder" in state["message"], state
        assert not Path("/data/projects/CHANGE_ME").exists()
    finally:
        code = stopped_s = None
        if worker is not None:
            t0 = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            try:
                code = worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
            stopped_s = time.monotonic() - t0
        for proc in processes:
            proc.send_signal(signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    assert code is not None and stopped_s < 10, f"the worker took {stopped_s} s to stop on SIGTERM (exit {code})"

    # the embedded flow on a copy of the same project (plaintext services): the same jobs, the same outputs
    reference = particle_picking(project_dir=str(embedded), service_project=embedded.name,
                                 services=ServiceAddresses(**services.addresses), return_state=True, **quick_chain)
    assert reference.is_completed(), reference.message
    assert chapter_jobs == job_dirs(embedded) and "Extract/job011/" in chapter_jobs
    extra = ("AutoPick/job012/", "Extract/job013/")  # the pretrained run's jobs and their .Nodes entries
    deployed = {k: v for k, v in tree(project).items() if not any(e in k for e in extra)}
    embedded_tree = tree(embedded)
    differ = sorted(k for k in deployed.keys() | embedded_tree.keys() if deployed.get(k) != embedded_tree.get(k))
    assert differ == ["default_pipeline.star"], differ  # the deployed project also lists the pretrained run's jobs


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
