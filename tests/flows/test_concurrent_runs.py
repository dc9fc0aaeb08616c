"""Flow runs at the same time against one set of services: nothing lost, nothing mixed up.

Two runs of the same project share every job (the second waits for the first's job and takes
its result: one job directory per step, no duplicate numbers), and runs of different projects
each end with the outputs of a lone run of an identical project.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from cryopick.io.pipeline import read_pipeline

pytestmark = pytest.mark.slow


def _run(services_root: Path, name: str) -> dict:
    from cryopick.flows.particle_picking import particle_picking

    state = particle_picking(project_dir=str(services_root / name), service_project=name, topaz_route="pretrained",
                             return_state=True)
    assert state.is_completed(), state.message
    return {s["step"]: s["job_dir"] for s in state.result()["steps"]}


def _concurrently(*calls) -> list:
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def go(k: int, fn, args) -> None:
        try:
            results[k] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(k, fn, args)) for k, (fn, args) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if errors:
        raise errors[0]
    return results


def _outputs(root: Path, jobs: dict) -> dict[str, str]:
    """Digest of every STAR/MRC file of the runs' jobs (RELION's note and run files excluded)."""
    out = {}
    for job in sorted(set(jobs.values())):
        for p in sorted((root / job).rglob("*")):
            if p.is_file() and p.suffix in (".star", ".mrcs", ".mrc") and p.name != "job.star":
                out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _pipeline_is_intact(root: Path, jobs: dict) -> None:
    pipeline = read_pipeline(root)
    names = [p[0] for p in pipeline.processes]
    assert len(names) == len(set(names)), "a job is listed twice"
    assert set(jobs.values()) <= set(names)
    assert {p[3] for p in pipeline.processes if p[0] in jobs.values()} == {"Succeeded"}
    numbers = sorted(int(n.rstrip("/").rsplit("job", 1)[1]) for n in names)
    assert len(numbers) == len(set(numbers)) and pipeline.job_counter > max(numbers)


def test_two_runs_of_one_project_share_each_job(services, services_root, make_project):
    make_project(services_root, "twice", n_mics=2, seed=21)
    make_project(services_root, "twice_alone", n_mics=2, seed=21)
    first, second = _concurrently((_run, (services_root, "twice")), (_run, (services_root, "twice")))
    assert first == second  # the same job directory for every step
    root = services_root / "twice"
    for job in first.values():  # ... and each job ran once (a start appends to note.txt)
        assert (root / job / "note.txt").read_text().count("++++ Executing new job") == 1, job
    _pipeline_is_intact(root, first)
    for job_type in {j.split("/")[0] for j in first.values()}:  # no job ran twice in a second directory
        assert sorted(p.name for p in (root / job_type).glob("job*")) == \
            sorted(j.split("/")[1] for j in first.values() if j.startswith(job_type + "/"))
    alone = _run(services_root, "twice_alone")
    assert alone == first
    assert _outputs(root, first) == _outputs(services_root / "twice_alone", alone)


def test_runs_of_different_projects_each_equal_a_lone_run(services, services_root, make_project):
    names = [f"load{k}" for k in range(3)]
    for k, name in enumerate(names):
        make_project(services_root, name, n_mics=2, seed=30 + k)
        make_project(services_root, f"{name}_alone", n_mics=2, seed=30 + k)
    together = _concurrently(*[(_run, (services_root, name)) for name in names])
    for name, jobs in zip(names, together):
        alone = _run(services_root, f"{name}_alone")
        assert jobs == alone
        _pipeline_is_intact(services_root / name, jobs)
        assert _outputs(services_root / name, jobs) == _outputs(services_root / f"{name}_alone", alone)
