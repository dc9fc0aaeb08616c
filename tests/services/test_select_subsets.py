"""SelectSubsets over real gRPC: end to end, path checks, status codes."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from cryopick.io.jobdir import JobDir
from cryopick.io.optics import read_optics_star
from cryopick.io.pipeline import read_pipeline
from cryopick.services.gen import common_pb2, picker_pb2, picker_pb2_grpc
from cryopick.services.runtime.client import collect_result

from service_testkit import MICROGRAPHS_STAR, N_MICROGRAPHS, new_job, write_micrographs_star


def request(job_dir: str, star: str = MICROGRAPHS_STAR, project: str = "", **params) -> picker_pb2.SelectSubsetsRequest:
    return picker_pb2.SelectSubsetsRequest(
        target=common_pb2.JobTarget(project=project, job_dir=job_dir), micrographs_star=star, **params
    )


def call_error(stub, req) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        collect_result(stub.SelectSubsets(req, timeout=30))
    return info.value


@pytest.fixture
def stub(project, start_service):
    _, channel = start_service("picker", project)
    return picker_pb2_grpc.PickerServiceStub(channel)


def test_select_subsets_end_to_end(project: Path, stub):
    job = new_job(project)
    progress = []
    result = collect_result(stub.SelectSubsets(request(job, split_size=5), timeout=30), progress.append)

    # 23 micrographs in subsets of 5 -> 5 subsets: 5,5,5,5,3, in input order
    assert result.job_dir == job
    assert [n.path for n in result.output_nodes] == [f"{job}micrographs_split{k}.star" for k in range(1, 6)]
    assert {n.type_label for n in result.output_nodes} == {"MicrographsData.star.relion"}
    assert result.counts["items"] == N_MICROGRAPHS and result.counts["subsets"] == 5
    names = write_micrographs_star(project / "scratch", "x.star")  # same names, for the expected order
    got = []
    for node in result.output_nodes:
        got += list(read_optics_star(project / node.path, "micrographs").data["rlnMicrographName"])
    assert got == names
    assert [len(read_optics_star(project / n.path, "micrographs").data) for n in result.output_nodes] == [5, 5, 5, 5, 3]
    # progress streamed from the stage, one per subset, ending at 1
    assert len(progress) == 5 and progress[-1].fraction == pytest.approx(1.0)
    assert progress[0].item == f"{job}micrographs_split1.star"
    assert JobDir(project, job).status() == "success"
    assert (job, "Succeeded") in {(p[0], p[3]) for p in read_pipeline(project).processes}


def test_unset_optional_fields_take_stage_defaults(project: Path, stub):
    job = new_job(project)
    result = collect_result(stub.SelectSubsets(request(job), timeout=30))
    assert result.counts["subsets"] == 1  # RELION's GUI default subset size, 100: one subset of 23


def test_project_field_selects_a_subdirectory(tmp_path: Path, start_service):
    root = tmp_path / "facility"
    (root / "groupA" / "p1").mkdir(parents=True)
    write_micrographs_star(root / "groupA" / "p1")
    _, channel = start_service("picker", root)
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    job = new_job(root / "groupA" / "p1")
    result = collect_result(stub.SelectSubsets(request(job, project="groupA/p1", split_size=-1, nr_split=2), timeout=30))
    assert (root / "groupA" / "p1" / job / "micrographs_split2.star").is_file()
    assert result.counts["subsets"] == 2
    err = call_error(stub, request(job, project="../outside"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "../outside" in err.details()


@pytest.mark.parametrize("bad", ["../../etc/passwd", "CtfFind/../../x.star", "/etc/passwd"])
def test_input_path_escape_is_invalid_argument(project: Path, stub, bad: str):
    err = call_error(stub, request(new_job(project), star=bad))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad in err.details() and "outside the project" in err.details()


def test_symlink_pointing_out_is_invalid_argument(project: Path, tmp_path: Path, stub):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_micrographs_star(outside, "m.star")
    os.symlink(outside / "m.star", project / "link.star")
    err = call_error(stub, request(new_job(project), star="link.star"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "link.star" in err.details()
    # a symlink that stays inside the project is fine
    os.symlink(project / MICROGRAPHS_STAR, project / "inside.star")
    assert collect_result(stub.SelectSubsets(request(new_job(project), star="inside.star"), timeout=30)).counts["items"] == N_MICROGRAPHS


def test_absolute_path_inside_project_is_accepted(project: Path, stub):
    result = collect_result(stub.SelectSubsets(request(new_job(project), star=str(project / MICROGRAPHS_STAR)), timeout=30))
    assert result.counts["items"] == N_MICROGRAPHS


@pytest.mark.parametrize("job_dir", ["../Select/job005/", "Select/", "/tmp/Select/job005/", "Select/job5/", "Select/job005/sub/"])
def test_bad_job_dir_is_invalid_argument(project: Path, stub, job_dir: str):
    err = call_error(stub, request(job_dir))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and job_dir in err.details()


def test_job_dir_symlinked_out_is_invalid_argument(project: Path, tmp_path: Path, stub):
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "out", project / "Select")
    err = call_error(stub, request("Select/job009/"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not list((tmp_path / "out").iterdir())  # nothing written outside


def test_missing_input_is_not_found(project: Path, stub):
    err = call_error(stub, request(new_job(project), star="CtfFind/job004/nope.star"))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "CtfFind/job004/nope.star" in err.details()


@pytest.mark.parametrize("params", [{"split_size": 0}, {"nr_split": 0, "split_size": -1}, {"split_size": -1, "nr_split": -1}])
def test_malformed_parameters_are_invalid_argument(project: Path, stub, params):
    err = call_error(stub, request(new_job(project), **params))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "subset" in err.details()


def test_missing_required_path_is_invalid_argument(project: Path, stub):
    err = call_error(stub, request(new_job(project), star=""))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "micrographs_star" in err.details()


def test_malformed_star_is_invalid_argument_and_job_marked_failed(project: Path, stub):
    (project / "bad.star").write_text("data_something\nloop_\n_rlnFoo #1\n1\n")
    job = new_job(project)
    err = call_error(stub, request(job, star="bad.star"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "bad.star" in err.details()
    assert JobDir(project, job).status() == "failure"
