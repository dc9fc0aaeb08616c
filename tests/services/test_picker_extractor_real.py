"""PickLoG and Extract over real gRPC with the real stages on small synthetic micrographs."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.jobdir import JobDir
from cryopick.io.optics import read_optics_star
from cryopick.services.gen import common_pb2, extractor_pb2, extractor_pb2_grpc, picker_pb2, picker_pb2_grpc
from cryopick.services.runtime.client import collect_result
from micrograph_factory import blob_micrograph, separated_centres, write_project
from service_testkit import new_job

APIX = 3.0
SHAPE = (300, 320)


@pytest.fixture
def log_project(tmp_path: Path):
    root = tmp_path / "proj"
    root.mkdir()
    truths, mics = [], []
    for k in range(4):
        truth = separated_centres(SHAPE, 12, min_dist=60, margin=40, seed=k)
        truths.append(truth)
        mics.append(blob_micrograph(SHAPE, truth, 12, -1.0, 1.0, 50 + k))
    star = write_project(root, mics, APIX)
    return root, star, truths


def pick_request(job: str, star: str, **kw) -> picker_pb2.PickLoGRequest:
    return picker_pb2.PickLoGRequest(target=common_pb2.JobTarget(job_dir=job), micrographs_star=star,
                                     diameter_min_angstrom=60, diameter_max_angstrom=90, **kw)


def test_pick_then_extract(log_project, start_service):
    root, star, truths = log_project
    _, picker_channel = start_service("picker", root)
    _, extractor_channel = start_service("extractor", root)
    picker = picker_pb2_grpc.PickerServiceStub(picker_channel)

    pick_job = new_job(root, "AutoPick")
    progress = []
    picked = collect_result(picker.PickLoG(pick_request(pick_job, star), timeout=120), progress.append)
    assert JobDir(root, pick_job).status() == "success"
    assert [n.path for n in picked.output_nodes][0] == f"{pick_job}autopick.star"
    # one progress event per micrograph, naming it
    assert sorted(p.item for p in progress) == [f"MotionCorr/job002/Movies/mic_{k:03d}.mrc" for k in range(1, 5)]
    listing = read_coordinate_list(root / picked.output_nodes[0].path)
    n_picks = 0
    for k, coord_file in enumerate(listing["rlnMicrographCoordinates"]):
        picks = read_coordinates(root / coord_file)
        n_picks += len(picks["rlnCoordinateX"])
        xy = np.c_[picks["rlnCoordinateX"], picks["rlnCoordinateY"]]
        # every true blob has a pick within 5 px
        d = np.linalg.norm(truths[k][:, None, :] - xy[None, :, :], axis=2).min(axis=1)
        assert (d < 5).all()
    assert picked.counts["picks"] == n_picks and picked.counts["micrographs"] == 4
    assert picked.figures == [f"{pick_job}logfile.pdf"]

    extract_job = new_job(root, "Extract")
    extractor = extractor_pb2_grpc.ExtractorServiceStub(extractor_channel)
    extracted = collect_result(extractor.Extract(extractor_pb2.ExtractRequest(
        target=common_pb2.JobTarget(job_dir=extract_job), micrographs_star=star,
        coords_star=picked.output_nodes[0].path, box_size_px=32, float16=False), timeout=120))
    particles = next(n.path for n in extracted.output_nodes if n.path.endswith("particles.star"))
    data = read_optics_star(root / particles, "particles").data
    assert 0 < len(data) <= n_picks
    assert JobDir(root, extract_job).status() == "success"


def test_min_diameter_above_max_is_invalid_argument(log_project, start_service):
    root, star, _ = log_project
    _, channel = start_service("picker", root)
    req = pick_request(new_job(root, "AutoPick"), star)
    req.diameter_min_angstrom, req.diameter_max_angstrom = 200, 100
    with pytest.raises(grpc.RpcError) as err:
        collect_result(picker_pb2_grpc.PickerServiceStub(channel).PickLoG(req, timeout=60))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "diameter" in err.value.details()


def test_client_cancel_stops_a_running_log_job(log_project, start_service):
    """A real multi-micrograph job: cancel after the first micrograph; the stage stops early."""
    root, star, _ = log_project
    service, channel = start_service("picker", root)
    job = new_job(root, "AutoPick")
    call = picker_pb2_grpc.PickerServiceStub(channel).PickLoG(pick_request(job, star), timeout=120)
    event = next(call)  # first micrograph done
    assert event.WhichOneof("event") == "progress"
    call.cancel()
    assert service.runner.slots.wait_idle(30)
    status = JobDir(root, job).status()
    if status == "success":  # the 4 tiny micrographs finished before the cancel arrived
        pytest.skip("job finished before the cancel reached it")
    assert status == "aborted"


def test_micrograph_named_outside_the_project_is_invalid_argument_and_nothing_is_written(log_project, start_service,
                                                                                          tmp_path):
    """Once, a micrograph ``../../x/mic_001.mrc`` in an in-project STAR made both services write next to it."""
    root, star, _ = log_project
    outside = tmp_path / "x"
    outside.mkdir()
    stars = read_optics_star(root / star)
    data = stars.data.copy()
    data.loc[0, "rlnMicrographName"] = "../x/mic_001.mrc"
    (outside / "mic_001.mrc").write_bytes((root / stars.data.loc[0, "rlnMicrographName"]).read_bytes())
    from cryopick.io.optics import write_optics_star

    write_optics_star(root / "bad_mics.star", stars.with_data(data))
    _, channel = start_service("picker", root)
    job = new_job(root, "AutoPick")
    with pytest.raises(grpc.RpcError) as err:
        collect_result(picker_pb2_grpc.PickerServiceStub(channel).PickLoG(pick_request(job, "bad_mics.star"), timeout=60))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "../x/mic_001.mrc" in err.value.details() and "outside the project" in err.value.details()
    assert sorted(p.name for p in outside.iterdir()) == ["mic_001.mrc"]
    assert JobDir(root, job).status() == "failure"
