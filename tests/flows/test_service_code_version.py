"""A service restarted with other code: its cached jobs are not reused, the others are.

The extractor is restarted on the same port by a process whose cryopick reports another
version (``cryopick.__version__`` changed before the service starts, so its stage code version
differs, as after an upgrade). The flow's cache keys include the code version each service
reports (``cryopick.v1.InfoService``), so the final extraction runs again, in a new job
directory, while the subset selection and Topaz picking stay cached. Back on the old code,
every job is cached again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cryopick.services.runtime.launch import ServiceProcess

pytestmark = pytest.mark.slow

_PATCHED = (
    "import runpy, sys, cryopick; cryopick.__version__ += '+other-build'; "
    "sys.argv = ['cryopick.services.extractor', *sys.argv[1:]]; "
    "runpy.run_module('cryopick.services.extractor', run_name='__main__')"
)


class OtherBuild(ServiceProcess):
    """The extractor service run by a cryopick that reports another version."""

    def command(self) -> list[str]:
        return [sys.executable, "-c", _PATCHED, *super().command()[3:]]


def _run(services_root: Path, name: str, extractor: str):
    from cryopick.flows.particle_picking import particle_picking

    state = particle_picking(project_dir=str(services_root / name), service_project=name, topaz_route="pretrained",
                             services={"extractor": extractor}, return_state=True)
    steps = {s["step"]: s for s in state.result(raise_on_failure=False)["steps"]}
    assert state.is_completed(), state.message
    return {k: (s["job_dir"], s["cached"]) for k, s in steps.items()}


def test_a_service_restarted_with_other_code_runs_its_jobs_again(services, services_root, make_project, tmp_path):
    from cryopick.flows.client import service_code_version

    make_project(services_root, "codeversion", n_mics=2, seed=11)
    project = services_root / "codeversion"
    current = ServiceProcess("extractor", services_root, tmp_path / "extractor.log")
    current.start()
    address = current.address
    try:
        first = _run(services_root, "codeversion", address)
        assert not any(cached for _, cached in first.values())
        final = first["Final extraction"][0]
        particles = (project / final / "particles.star").read_bytes()
        assert _run(services_root, "codeversion", address) == {k: (d, True) for k, (d, _) in first.items()}
        old_version = service_code_version(address, "cryopick.stages.extract")
        current.stop()

        other = OtherBuild("extractor", services_root, tmp_path / "extractor.log", port=current.port)
        other.start()
        try:
            assert other.address == address
            assert service_code_version(address, "cryopick.stages.extract") != old_version
            upgraded = _run(services_root, "codeversion", address)
        finally:
            other.stop()
        rerun_dir, rerun_cached = upgraded.pop("Final extraction")
        assert not rerun_cached and rerun_dir != final  # a new job directory; the old job is kept
        assert (project / final / "RELION_JOB_EXIT_SUCCESS").exists()
        assert upgraded == {k: (d, True) for k, (d, _) in first.items() if k != "Final extraction"}
        rerun = (project / rerun_dir / "particles.star").read_bytes()
        assert rerun == particles.replace(final.encode(), rerun_dir.encode())  # same code path, same particles

        current.start()  # the old build again, on the same port
        assert current.address == address
        again = _run(services_root, "codeversion", address)
        assert again == {k: (d, True) for k, (d, _) in first.items()}
    finally:
        current.stop()


def test_a_service_that_does_not_say_its_code_version_gets_no_job_directory(prefect_harness, services_root,
                                                                           make_project):
    """A key computed while the service was down is not the job's: the attempt fails (transient,
    so a retry computes the key again) before it takes a job directory, and nothing is left behind."""
    import socket

    from prefect import flow

    from cryopick.flows.caching import key_lacks_service_code
    from cryopick.flows.params import STEPS, FinalExtractParams, ServiceAddresses
    from cryopick.flows.tasks import ProjectRef, for_project, job_task

    project = make_project(services_root, "nocodeversion", n_mics=1, seed=3)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    ref = ProjectRef(project_dir=str(project), service_project="nocodeversion",
                     services=ServiceAddresses(extractor=dead), connect_timeout_s=1.0)
    step = STEPS["final_extract"]
    files = {"micrographs_star": "CtfFind/job003/micrographs_ctf.star", "coords_star": "AutoPick/job001/autopick.star"}
    params = FinalExtractParams()
    task_obj = for_project(job_task(step), ref).with_options(retries=0)

    @flow
    def one_step():
        return task_obj(project=ref, params=params, files=files, return_state=True)

    state = one_step(return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match="did not say which code version") as info:
        state.result()
    assert info.value.transient
    assert not (project / "Extract").exists()  # no job directory allocated for the unstable key
    policy = task_obj.cache_policy
    key = policy.compute_key(None, {"project": ref, "params": params, "files": files}, {})
    assert key_lacks_service_code(key)
    assert not (project / ".cryopick" / "jobs" / f"{key}.json").exists()
