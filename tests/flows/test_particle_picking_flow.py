"""The particle-picking flow against real services: caching, re-runs, stopping, no retry on bad input."""

from __future__ import annotations

import shutil

import pytest

from cryopick.io.jobdir import existing_job_numbers
from cryopick.io.pipeline import read_pipeline

pytestmark = pytest.mark.slow


def run_flow(services_root, name, short, **params):
    """The flow on project ``name`` with the short chapter's settings (``quick_chain``), overridden by ``params``."""
    from cryopick.flows.particle_picking import particle_picking

    return particle_picking(project_dir=str(services_root / name), service_project=name, return_state=True,
                            **{**short, **params})


def steps_by_name(state):
    return {s["step"]: s for s in state.result(raise_on_failure=False)["steps"]}


def test_unchanged_project_runs_no_job_and_threshold_change_reruns_downstream(services, services_root, make_project,
                                                                             quick_chain):
    from cryopick.flows.params import LoGPickingParams

    root = make_project(services_root, "cache", n_mics=3, seed=3)

    first = run_flow(services_root, "cache", quick_chain)
    assert first.is_completed(), first.message  # the whole chapter
    s1 = steps_by_name(first)
    chapter = ["Subset selection", "LoG picking", "Extraction", "Class2D", "Auto-select 2D classes", "Topaz training",
               "Topaz picking", "Final extraction"]
    assert list(s1) == chapter and all(s["state"] == "Completed" for s in s1.values())
    final = s1["Final extraction"]["result"]
    assert final["counts"]["particles"] > 0 and (root / final["job_dir"] / "particles.star").exists()
    assert s1["Topaz picking"]["result"]["counts"]["micrographs"] == 3  # every micrograph, not the training subset
    ranked = s1["Auto-select 2D classes"]["result"]
    assert ranked["counts"]["selected_classes"] >= 1 and (root / ranked["job_dir"] / "class_scores.png").stat().st_size
    card = [a for a in _artifacts("auto-select-2d-classes") if f"(in `{root}`)" in a.data]
    assert len(card) == 1 and "green: selected" in card[0].data and "| selected_particles |" in card[0].data
    assert [s1[n]["state"] for n in ("Subset selection", "LoG picking", "Extraction")] == ["Completed"] * 3
    assert (s1["Subset selection"]["job_dir"], s1["LoG picking"]["job_dir"], s1["Extraction"]["job_dir"]) == (
        "Select/job004/", "AutoPick/job005/", "Extract/job006/")
    assert s1["LoG picking"]["result"]["counts"]["picks"] > 0
    assert (root / "AutoPick/job005/picks_by_fom.png").stat().st_size > 0
    assert (root / "Extract/job006/particles_montage.png").stat().st_size > 0
    processes = {p[0]: p[3] for p in read_pipeline(root).processes}
    assert processes["AutoPick/job005/"] == "Succeeded" and processes["Extract/job006/"] == "Succeeded"
    jobs_before = existing_job_numbers(root)

    second = run_flow(services_root, "cache", quick_chain)
    s2 = steps_by_name(second)
    assert [s2[n]["state"] for n in chapter] == ["Cached"] * len(chapter)
    assert s2["LoG picking"]["job_dir"] == "AutoPick/job005/"
    assert existing_job_numbers(root) == jobs_before  # no job allocated

    third = run_flow(services_root, "cache", quick_chain, log_picking=LoGPickingParams(threshold_stddev=0.5))
    s3 = steps_by_name(third)
    assert s3["Subset selection"]["state"] == "Cached"
    n = max(jobs_before)  # the changed job and everything downstream of it run again, in new job directories
    assert s3["LoG picking"]["state"] == "Completed" and s3["LoG picking"]["job_dir"] == f"AutoPick/job{n + 1:03d}/"
    assert s3["Extraction"]["state"] == "Completed" and s3["Extraction"]["job_dir"] == f"Extract/job{n + 2:03d}/"
    assert s3["LoG picking"]["result"]["counts"]["picks"] < s1["LoG picking"]["result"]["counts"]["picks"]

    # a cached job whose directory was deleted runs again (in a new job directory)
    shutil.rmtree(root / "Extract/job006")
    last_job = max(existing_job_numbers(root))
    fourth = run_flow(services_root, "cache", quick_chain)
    s4 = steps_by_name(fourth)
    assert s4["LoG picking"]["state"] == "Cached" and s4["LoG picking"]["job_dir"] == "AutoPick/job005/"
    extract = s4["Extraction"]["job_dir"]
    assert s4["Extraction"]["state"] == "Completed" and int(extract[-4:-1]) > last_job
    assert (root / extract / "particles.star").exists()


def test_unavailable_step_stops_the_flow_with_a_clear_message(services, services_root, make_project, quick_chain):
    import os

    from cryopick.flows.params import ServiceAddresses

    root = make_project(services_root, "stop", n_mics=3, seed=4)
    # the ranker's address points at the picker (a misconfiguration, or an older service): UNIMPLEMENTED
    state = run_flow(services_root, "stop", quick_chain,
                     services=ServiceAddresses(ranker=os.environ["CRYOPICK_PICKER_ADDRESS"]))
    assert state.is_cancelled() and state.name == "Incomplete"  # not a green success in the UI
    assert state.message.startswith("INCOMPLETE: stopped at Auto-select 2D classes: ranker service says: ")
    assert state.message.endswith("not run: Topaz training, Topaz picking, Final extraction")
    report = state.result(raise_on_failure=False)
    assert report["stopped_at"] == "Auto-select 2D classes"
    assert report["not_run"] == ["Topaz training", "Topaz picking", "Final extraction"]
    classes = steps_by_name(state)["Class2D"]
    assert classes["state"] == "Completed" and classes["job_dir"] == "Class2D/job007/"
    assert (root / "Class2D/job007/run_it001_optimiser.star").exists()
    assert (root / "Class2D/job007/class_gallery.png").stat().st_size > 0
    mine = [a for a in _artifacts("class2d") if f"(in `{root}`)" in a.data]  # the job's card
    assert len(mine) == 1 and mine[0].type == "markdown" and mine[0].description == "Class2D: Class2D/job007/"
    card = mine[0].data
    assert "particle count under each" in card and "data:image/jpeg;base64," in card
    assert "`Class2D/job007/class_gallery_counts.png`" in card and "| nr_classes | 2 |" in card
    # nothing faked: no Select job directory for the ranker, and its number is free again
    assert not (root / "Select/job008").exists()
    assert read_pipeline(root).job_counter == max(existing_job_numbers(root)) + 1


def _artifacts(key: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def test_bad_parameters_fail_the_flow_without_retries(services, services_root, make_project, quick_chain):
    from prefect.client.orchestration import get_client

    from cryopick.flows.params import LoGPickingParams

    make_project(services_root, "bad", n_mics=3, seed=5)
    state = run_flow(services_root, "bad", quick_chain,
                     log_picking=LoGPickingParams(diameter_min_angstrom=300, diameter_max_angstrom=100))
    assert state.is_failed()
    assert "INVALID_ARGUMENT" in state.message or "LoG picking" in state.message
    with get_client(sync_client=True) as client:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    log_runs = [r for r in runs if r.name == "LoG picking"]
    assert len(log_runs) == 1 and log_runs[0].run_count == 1
