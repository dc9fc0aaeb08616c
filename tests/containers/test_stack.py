"""Opt-in (``make test-containers``): the compose stack runs the chapter as the README says.

With the images built (``containers/build.sh``) and PyPI's podman-compose installed, this brings
up ``containers/compose.yaml`` (Prefect server, the five services, a worker) on free host ports,
as uid:gid 1000:1000 over a projects directory owned by that user; deploys a simulated project
with ``cryopick deploy`` in the worker container; runs ``particle-picking/<project>`` through the
worker; and checks the result against the embedded ``cryopick run`` on a copy of the same project
on the host: the same job directories and the same final particles. Every file the stack wrote
belongs to 1000:1000. The stack is torn down (``down -v``) at the end, also on failure. Prints
the time of each step and the size of each image.

Short job settings (2 classes × 1 iteration, one short Topaz epoch), as the flow tests: the
tutorial's take hours on a CPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from project_tree import job_dirs, tree

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "containers" / "compose.yaml"
IMAGES = ["cryopick-light", "cryopick-picker", "cryopick-extractor", "cryopick-base", "cryopick-classifier",
          "cryopick-ranker", "cryopick-topaz"]
SHORT = {"class2d": {"nr_classes": 2, "nr_iter": 1, "threads": 2},
         "auto_select": {"select_min_nr_classes": 1},
         "topaz_training": {"nr_epochs": 1, "epoch_size": 4, "minibatch_size": 32, "nr_particles_per_micrograph": 30}}
UID = GID = 1000

pytestmark = [
    pytest.mark.containers,
    pytest.mark.skipif(os.environ.get("CRYOPICK_CONTAINER_TESTS") != "1",
                       reason="container stack test is opt-in: make test-containers (needs root and podman)"),
]


def podman_env() -> dict[str, str]:
    """The environment containers/env.sh sets up (podman settings and storage in the scratch dir)."""
    out = subprocess.run(["sh", "-c", f"here={REPO / 'containers'}; . \"$here/env.sh\"; env -0"], check=True,
                         capture_output=True, text=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_for(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1.0)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


def particles(project: Path) -> list[tuple]:
    """The final extraction's particles: (micrograph, x, y, FOM), in file order."""
    from cryopick.io.star import read_star

    table = read_star(project / "Extract" / "job011" / "particles.star")["particles"]
    return list(zip(table["rlnMicrographName"], table["rlnCoordinateX"], table["rlnCoordinateY"],
                    table["rlnAutopickFigureOfMerit"]))


def test_the_compose_stack_runs_the_chapter_like_the_embedded_run(tmp_path_factory):
    for tool in ("podman", "podman-compose"):
        assert shutil.which(tool), f"{tool} not found: make test-containers installs it"
    env = podman_env()
    times: dict[str, float] = {}
    sizes = subprocess.run(["podman", "images", "--format", "{{.Repository}} {{.Size}}"], env=env, check=True,
                           capture_output=True, text=True).stdout
    for image in IMAGES:
        assert f"localhost/{image} " in sizes, f"image {image} not built: containers/build.sh\n{sizes}"

    root = tmp_path_factory.mktemp("stack")
    projects = root / "projects"
    projects.mkdir()
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "cryopick", "simulate", "--o", str(projects / "ribosome"), "--n-mics", "3",
                    "--seed", "7"], check=True, capture_output=True)
    (projects / "short.json").write_text(json.dumps(SHORT))
    embedded = root / "embedded"
    shutil.copytree(projects / "ribosome", embedded, symlinks=True)
    subprocess.run(["chown", "-R", f"{UID}:{GID}", str(projects)], check=True)
    times["simulate 3 micrographs"] = time.monotonic() - t0

    ports = free_ports(6)
    env.update({"CRYOPICK_PROJECTS": str(projects), "CRYOPICK_UID": str(UID), "CRYOPICK_GID": str(GID),
                "CRYOPICK_PREFECT_PORT": str(ports[0]),
                **{f"CRYOPICK_{r}_PORT": str(p) for r, p in zip(("PICKER", "EXTRACTOR", "CLASSIFIER", "RANKER", "TOPAZ"),
                                                               ports[1:])}})
    name = f"cryopick-test-{os.getpid()}"
    compose = ["podman-compose", "-f", str(COMPOSE), "-p", name]

    def run(*argv: str, timeout: float = 900) -> str:
        done = subprocess.run([*compose, *argv], env=env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        return done.stdout

    try:
        t0 = time.monotonic()
        run("up", "-d")
        wait_for(f"http://127.0.0.1:{ports[0]}/api/health", 120)
        times["up -d until the Prefect API answers"] = time.monotonic() - t0
        wait_for(f"http://127.0.0.1:{ports[0]}/", 30)  # the UI is served (its static files were writable)

        t0 = time.monotonic()
        project = projects / "ribosome"
        out = run("exec", "-T", "worker", "cryopick", "deploy", "--project", str(project), "--service-project",
                  "ribosome", "--params", str(projects / "short.json"), timeout=300)
        assert "particle-picking/ribosome" in out, out
        times["cryopick deploy"] = time.monotonic() - t0

        t0 = time.monotonic()
        out = run("exec", "-T", "worker", "prefect", "deployment", "run", "particle-picking/ribosome", "--watch",
                  timeout=1800)
        assert "Completed" in out, out[-4000:]
        times["deployment run through the worker (chapter, 3 micrographs)"] = time.monotonic() - t0

        for service in ("worker", "prefect", "topaz", "picker"):  # SIGTERM, then SIGKILL after 40 s
            container = f"{name}_{service}_1"
            t0 = time.monotonic()
            subprocess.run(["podman", "stop", "-t", "40", container], env=env, check=True, capture_output=True)
            stopped_s = times[f"podman stop {service} (SIGTERM)"] = time.monotonic() - t0
            code = subprocess.run(["podman", "inspect", "--format", "{{.State.ExitCode}}", container], env=env,
                                  check=True, capture_output=True, text=True).stdout.strip()
            assert stopped_s < 15, f"{service} took {stopped_s:.1f} s to stop on SIGTERM (exit code {code})"
    finally:
        logs = subprocess.run([*compose, "logs", "--tail", "40"], env=env, capture_output=True, text=True).stdout
        t0 = time.monotonic()
        down = subprocess.run([*compose, "down", "-v"], env=env, capture_output=True, text=True, timeout=300)
        times["down -v"] = time.monotonic() - t0
        print(logs[-6000:])
    assert down.returncode == 0, down.stderr[-3000:]

    t0 = time.monotonic()
    host_env = {k: v for k, v in os.environ.items() if not k.startswith(("CRYOPICK_", "PREFECT_API_URL"))}
    done = subprocess.run([sys.executable, "-m", "cryopick", "run", "--project", str(embedded), "--params",
                           str(projects / "short.json"), "--quiet"], env=host_env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    times["embedded cryopick run on the host"] = time.monotonic() - t0
    # the README's way to browse the embedded run afterwards: its Prefect database in the project
    browse = re.search(r"(PREFECT_HOME=\S+) (prefect server start)", done.stdout)
    assert browse and browse.group(1) == f"PREFECT_HOME={embedded / '.cryopick' / 'prefect-home'}", done.stdout[-2000:]
    port = free_ports(1)[0]
    server = subprocess.Popen([*browse.group(2).split(), "--port", str(port)],
                              env={**host_env, "PREFECT_HOME": browse.group(1).split("=", 1)[1]},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/health", 120)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/flow_runs/filter", data=b"{}",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            runs = json.loads(response.read())
        assert [r["state"]["type"] for r in runs] == ["COMPLETED"], runs
    finally:
        server.terminate()
        server.wait(30)

    assert job_dirs(project) == job_dirs(embedded) and "Extract/job011/" in job_dirs(project)
    got, want = particles(project), particles(embedded)
    assert len(got) > 0 and got == want, f"{len(got)} particles from the stack, {len(want)} from the embedded run"
    a, b = tree(project), tree(embedded)
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in project.rglob("*")}
    assert owners == {(UID, GID)}, f"files of the stack's run owned by {owners}"

    print("\nstack figures:")
    for step, seconds in times.items():
        print(f"  {step:<62} {seconds:7.1f} s")
    print(f"  files that differ from the embedded run (STAR/MRC/figures, logs aside): {len(differ)} of {len(a)}"
          + (f": {differ[:8]}" if differ else ""))
    print("  image sizes:\n" + "\n".join(f"    {line}" for line in sizes.splitlines() if "cryopick" in line))
