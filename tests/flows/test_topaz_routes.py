"""Topaz in the flow, through the topaz service: training on LoG picks, and the pretrained shortcut."""

from __future__ import annotations

import pytest

from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.pipeline import read_pipeline
from cryopick.io.star import read_star

pytestmark = pytest.mark.slow


def run_flow(services_root, name, **params):
    from cryopick.flows.particle_picking import particle_picking

    return particle_picking(project_dir=str(services_root / name), service_project=name, return_state=True, **params)


def steps(state):
    return {s["step"]: s for s in state.result(raise_on_failure=False)["steps"]}


def good_picks(root, autopick_star, threshold=-3.0):
    files = read_coordinate_list(root / autopick_star)["rlnMicrographCoordinates"]
    return sum(int((read_coordinates(root / f)["rlnAutopickFigureOfMerit"] > threshold).sum()) for f in files)


def test_pretrained_shortcut_picks_every_micrograph_and_extracts_above_fom_minus_3(services, services_root, make_project):
    root = make_project(services_root, "pretrained", n_mics=3, seed=6)
    state = run_flow(services_root, "pretrained", topaz_route="pretrained")
    assert state.is_completed() and state.name == "Completed", state.message
    s = steps(state)
    assert list(s) == ["Topaz picking", "Final extraction"]
    assert s["Topaz picking"]["job_dir"] == "AutoPick/job004/" and s["Final extraction"]["job_dir"] == "Extract/job005/"
    assert s["Topaz picking"]["result"]["counts"]["micrographs"] == 3
    particles = read_star(root / "Extract/job005/particles.star")["particles"]
    assert 0 < len(particles) <= good_picks(root, "AutoPick/job004/autopick.star")
    assert (particles["rlnAutopickFigureOfMerit"] > -3).all()
    processes = {p[0]: p[2] for p in read_pipeline(root).processes}
    assert processes["AutoPick/job004/"] == "relion.autopick.topaz.pick" and "Select/job004/" not in processes
    assert (root / "AutoPick/job004/picks_by_fom.png").stat().st_size > 0


def test_final_threshold_from_the_expected_number_of_particles(services, services_root, make_project):
    from cryopick.flows.params import TopazPickingParams

    root = make_project(services_root, "expected", n_mics=3, seed=6)
    state = run_flow(services_root, "expected", topaz_route="pretrained", final_threshold="expected_count",
                     topaz_picking=TopazPickingParams(nr_particles_per_micrograph=12))
    assert state.is_completed() and state.name == "Completed", state.message
    s = steps(state)
    threshold = s["Topaz picking"]["result"]["summary"]["fom_at_expected_count"]
    assert len(read_star(root / "Extract/job005/particles.star")["particles"]) == 36  # 12 per micrograph
    assert f"minimum_pick_fom {threshold:g}" in " ".join((root / "Extract/job005/job.star").read_text().split())
    refused = run_flow(services_root, "expected", topaz_route="pretrained", final_threshold="expected_count")
    assert refused.is_failed() and "nr_particles_per_micrograph" in refused.message


def test_training_on_log_picks_then_picking_with_the_trained_model(services, services_root, make_project):
    from cryopick.flows.params import TopazTrainingParams

    root = make_project(services_root, "logtrain", n_mics=3, seed=7)
    quick = TopazTrainingParams(nr_epochs=2, epoch_size=15, minibatch_size=64, test_ratio=0.3, threads=2,
                                nr_particles_per_micrograph=40)  # these 512 x 496 px micrographs hold ~30
    state = run_flow(services_root, "logtrain", topaz_route="log_picks", topaz_training=quick)
    assert state.is_completed() and state.name == "Completed", state.message
    s = steps(state)
    assert list(s) == ["Subset selection", "LoG picking", "Topaz training", "Topaz picking", "Final extraction"]
    assert all(step["state"] == "Completed" for step in s.values())
    train_job = s["Topaz training"]["job_dir"]
    assert (root / train_job / "model_epoch2.sav").exists() and (root / train_job / "training_curves.png").exists()
    assert (root / train_job / "model_best.sav").exists()
    assert f"with {train_job}model_best.sav" in (root / s["Topaz picking"]["job_dir"] / "run.out").read_text()
    assert s["Final extraction"]["result"]["counts"]["particles"] > 0

    again = run_flow(services_root, "logtrain", topaz_route="log_picks", topaz_training=quick)
    assert [step["state"] for step in steps(again).values()] == ["Cached"] * 5


def test_the_run_graph_links_each_job_to_the_jobs_that_wrote_its_inputs(services, services_root, make_project):
    from prefect.client.orchestration import get_client

    make_project(services_root, "graph", n_mics=3, seed=8)
    state = run_flow(services_root, "graph", topaz_route="pretrained")
    s = steps(state)
    with get_client(sync_client=True) as client:
        extract = client.read_task_run(s["Final extraction"]["task_run_id"])
        picking = client.read_task_run(s["Topaz picking"]["task_run_id"])
    upstream = {str(i.id) for inputs in extract.task_inputs.values() for i in inputs}
    assert s["Topaz picking"]["task_run_id"] in upstream
    assert not any(picking.task_inputs.get("wait_for", []))  # the first job has no upstream job
