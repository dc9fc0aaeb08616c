"""Deployments that are safe by default: the placeholder project is refused before any job,
``cryopick deploy`` registers only real projects, and a forgotten ``service_project`` leaves no
empty job directory and says what to set."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cryopick.errors import BadInputError, MissingFileError


def test_the_placeholder_is_recognised():
    from cryopick.flows.placeholder import placeholder_refusal

    assert "project_dir is still the placeholder '/data/projects/CHANGE_ME'" in placeholder_refusal(
        "/data/projects/CHANGE_ME")
    assert placeholder_refusal("/data/projects/ribosome") is None


@pytest.mark.parametrize("flow_name", ["particle_picking", "facility_picking"])
def test_a_run_on_the_placeholder_ends_cancelled_before_any_job(prefect_harness, flow_name, tmp_path):
    import importlib

    module = importlib.import_module(f"cryopick.flows.{'particle_picking' if flow_name == 'particle_picking' else 'facility'}")
    state = getattr(module, flow_name)(project_dir=str(tmp_path / "CHANGE_ME"), return_state=True)
    assert state.is_cancelled(), state
    assert "project_dir is still the placeholder" in state.message and "no job was run" in state.message
    assert list(tmp_path.iterdir()) == []


def test_deploy_checks_the_project_first(tmp_path):
    from cryopick.flows.deploy import ProjectDeployment, check

    with pytest.raises(BadInputError, match="placeholder"):
        check(ProjectDeployment("/data/projects/CHANGE_ME"))
    with pytest.raises(BadInputError, match="absolute path"):
        check(ProjectDeployment("projects/ribosome"))
    with pytest.raises(MissingFileError, match="project directory not found"):
        check(ProjectDeployment(str(tmp_path / "nowhere")))
    with pytest.raises(MissingFileError, match="micrographs_ctf.star: micrographs STAR not found"):
        check(ProjectDeployment(str(tmp_path)))
    star = tmp_path / "CtfFind" / "job003" / "micrographs_ctf.star"
    star.parent.mkdir(parents=True)
    star.write_text("data_micrographs\n\nloop_\n_rlnMicrographName #1\nmic.mrc\n")
    check(ProjectDeployment(str(tmp_path)))
    with pytest.raises(BadInputError, match="deployment name 'my project'"):
        check(ProjectDeployment(str(tmp_path), name="my project"))


def test_deploy_needs_a_prefect_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([sys.executable, "-m", "cryopick", "deploy", "--project", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "PREFECT_API_URL is not set" in done.stderr, done.stderr


def test_a_forgotten_service_project_gives_back_its_job_directory_and_says_what_to_set(services, services_root,
                                                                                      make_project):
    from cryopick.flows.params import ServiceAddresses
    from cryopick.flows.particle_picking import particle_picking

    project = make_project(services_root, "forgotten", n_mics=2, seed=23)
    pipeline = (project / "default_pipeline.star").read_bytes()
    state = particle_picking(project_dir=str(project), services=ServiceAddresses(**services.addresses),
                             return_state=True)  # service_project omitted: the services look at their root
    assert state.is_failed()
    assert "NOT_FOUND" in state.message and "set the flow parameter service_project" in state.message, state.message
    assert not (project / "Select").exists()  # the empty Select/job004/ was given back
    assert (project / "default_pipeline.star").read_bytes() == pipeline  # job counter stepped back
    again = particle_picking(project_dir=str(project), service_project="forgotten", topaz_route="pretrained",
                             services=ServiceAddresses(**services.addresses), return_state=True)
    assert again.is_completed(), again.message
    assert (project / "AutoPick" / "job004").is_dir()  # the number was given again


def test_deploy_registers_both_flows_with_per_project_limits_and_creates_the_pool(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client

    from cryopick.flows.deploy import ProjectDeployment, deploy

    star = tmp_path / "p1" / "CtfFind" / "job003" / "micrographs_ctf.star"
    star.parent.mkdir(parents=True)
    star.write_text("data_micrographs\n\nloop_\n_rlnMicrographName #1\nmic.mrc\n")
    ids = deploy(ProjectDeployment(str(tmp_path / "p1"), service_project="p1", work_pool="fresh-pool",
                                   schedule_minutes=10, chapter_params={"topaz_route": "pretrained"}))
    assert sorted(ids) == ["facility-picking/p1", "particle-picking/p1"]
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("fresh-pool").type == "process"
        chapter = client.read_deployment_by_name("particle-picking/p1")
        facility = client.read_deployment_by_name("facility-picking/p1")
    assert chapter.parameters == {"project_dir": str(tmp_path / "p1"), "service_project": "p1",
                                  "micrographs_star": "CtfFind/job003/micrographs_ctf.star", "topaz_route": "pretrained"}
    assert not chapter.schedules
    # no deployment concurrency limit: a run killed with its worker would hold the slot for ever
    assert chapter.global_concurrency_limit is None and facility.global_concurrency_limit is None
    assert [s.schedule.interval.total_seconds() for s in facility.schedules if s.active] == [600.0]
    assert facility.parameter_openapi_schema["properties"]["service_project"]["description"].startswith(
        "The project's path relative to the services' --project-root")


def test_a_facility_run_is_skipped_while_another_live_run_holds_the_project_and_not_after_it_died(
        services, services_root, make_project):
    from cryopick.flows.facility import facility_picking
    from cryopick.flows.params import ServiceAddresses
    from cryopick.flows.run_lock import RUN_LOCK

    project = make_project(services_root, "facility-lock", n_mics=2, seed=29)
    (project / RUN_LOCK).parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; h = open(sys.argv[1], 'a'); fcntl.flock(h, fcntl.LOCK_EX); print('held', flush=True); "
        "time.sleep(600)"), str(project / RUN_LOCK)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        kw = dict(project_dir=str(project), service_project=project.name, services=ServiceAddresses(**services.addresses),
                  return_state=True)
        state = facility_picking(**kw)
        assert state.is_cancelled() and "previous facility run of this project is still going" in state.message
        assert not (project / "Select").exists()
    finally:
        holder.kill()  # the holder dies without releasing anything: the kernel drops its flock
        holder.wait()
    state = facility_picking(**kw)
    assert state.is_completed(), state.message
    assert state.result()["new_micrographs"] == 2


def test_a_facility_run_on_a_missing_project_creates_nothing(prefect_harness, tmp_path):
    from cryopick.flows.facility import facility_picking

    state = facility_picking(project_dir=str(tmp_path / "gone"), return_state=True)
    assert state.is_failed() and "project directory not found" in state.message
    assert not (tmp_path / "gone").exists()
