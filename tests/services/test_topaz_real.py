"""The topaz service over real gRPC: Train then Pick with the trained model; the network stays loaded."""

from __future__ import annotations

import pytest

from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.jobdir import JobDir
from cryopick.services.gen import common_pb2, topaz_pb2, topaz_pb2_grpc
from cryopick.services.runtime.client import collect_result
from cryopick.synthetic.project import SimParams, simulate_project
from service_testkit import new_job

STAR = "CtfFind/job003/micrographs_ctf.star"


@pytest.fixture
def sim(tmp_path):
    return simulate_project(SimParams(n_micrographs=3, seed=2, particles_per_mic=25, carbon_fraction=0.0), tmp_path / "p")


def test_train_then_pick_with_the_trained_model(sim, start_service):
    root = sim.project_root
    _, channel = start_service("topaz", root)
    stub = topaz_pb2_grpc.TopazServiceStub(channel)
    train_job = new_job(root, "AutoPick")
    trained = collect_result(stub.Train(topaz_pb2.TrainRequest(
        target=common_pb2.JobTarget(job_dir=train_job), micrographs_star=STAR, particle_diameter_angstrom=170,
        particles_star="GroundTruth/particles.star", nr_particles_per_micrograph=40, test_ratio=0.3,
        nr_epochs=2, epoch_size=3, minibatch_size=32, threads=2), timeout=300))
    assert JobDir(root, train_job).status() == "success"
    assert trained.counts["epochs"] == 2 and trained.counts["test_micrographs"] >= 1
    for name in ("model_epoch1.sav", "model_epoch2.sav", "model_training.txt", "training_curves.png"):
        assert (root / train_job / name).exists(), name

    picks, jobs = [], []
    for _ in range(2):
        job = new_job(root, "AutoPick")
        jobs.append(job)
        res = collect_result(stub.Pick(topaz_pb2.PickRequest(
            target=common_pb2.JobTarget(job_dir=job), micrographs_star=STAR, particle_diameter_angstrom=170,
            model_path=f"{train_job}model_epoch2.sav", threads=2), timeout=300))
        listing = read_coordinate_list(root / job / "autopick.star")
        assert listing["rlnMicrographName"].tolist() == sim.micrographs
        picks.append([read_coordinates(root / f)["rlnCoordinateX"].tolist() for f in listing["rlnMicrographCoordinates"]])
        assert res.counts["picks"] == sum(len(p) for p in picks[-1]) > 0
    assert picks[0] == picks[1]
    # the service loads the network once: the second job finds it in memory
    assert "(loaded)" in (root / jobs[0] / "run.out").read_text()
    assert "(already in memory)" in (root / jobs[1] / "run.out").read_text()
