"""Every bad input of the corpus through every stage that reads it, via its service over real gRPC: an error
status (INVALID_ARGUMENT or NOT_FOUND) whose message names the file and the problem, no output that looks
finished, inputs byte-identical, the job Failed in the pipeline."""

from __future__ import annotations

import importlib
from pathlib import Path

import grpc
import pytest

from cryopick.io.pipeline import read_pipeline
from cryopick.services.gen import common_pb2
from cryopick.services.runtime.server import Service
from cryopick.stages.registry import SERVICE_NAMES, stage

from .corpus import CASES, OUTPUTS, digests, next_job

RUNS = [(case, name) for case in CASES for name in case.stages]


@pytest.fixture(scope="module")
def channels(project):
    """role -> a channel to that role's service, serving ``project`` (started once, stopped at the end)."""
    started: dict[str, tuple[Service, grpc.Channel]] = {}

    def get(role: str) -> grpc.Channel:
        if role not in started:
            role_obj = importlib.import_module(f"cryopick.services.{role}.servicer").ROLE
            service = Service(role_obj, project, "127.0.0.1", 0)
            started[role] = (service, grpc.insecure_channel(service.start()))
        return started[role][1]

    yield get
    for service, channel in started.values():
        channel.close()
        service.stop(grace_seconds=0, worker_timeout=10)


def _fields(name: str, star: str, coords: str) -> dict:
    return {"micrographs_star": star, **{
        "select": {"split_size": 1},
        "select-new": {},
        "autopick-log": {"diameter_min_angstrom": 150.0, "diameter_max_angstrom": 180.0},
        "extract": {"coords_star": coords, "box_size_px": 64},
        "topaz-pick": {"particle_diameter_angstrom": 180.0},
        "topaz-train": {"coords_star": coords, "particle_diameter_angstrom": 180.0, "nr_particles_per_micrograph": 20,
                        "nr_epochs": 1, "epoch_size": 1, "minibatch_size": 8},
    }[name]}


@pytest.mark.parametrize("case, name", RUNS, ids=[f"{c.name}-{s}" for c, s in RUNS])
def test_bad_input_through_grpc(project, made, channels, case, name):
    star, coords, damaged = made(case)
    spec = stage(name)
    job_type, output = OUTPUTS[name]
    job = next_job(job_type)
    pb2 = importlib.import_module(f"cryopick.services.gen.{spec.role}_pb2")
    grpc_mod = importlib.import_module(f"cryopick.services.gen.{spec.role}_pb2_grpc")
    stub = getattr(grpc_mod, SERVICE_NAMES[spec.role].rsplit(".", 1)[1] + "Stub")(channels(spec.role))
    request = getattr(pb2, spec.request)(target=common_pb2.JobTarget(job_dir=job), **_fields(name, star, coords))
    before = digests(project)
    with pytest.raises(grpc.RpcError) as err:
        for _ in getattr(stub, spec.rpc)(request, timeout=120, wait_for_ready=True):
            pass
    code, details = err.value.code(), err.value.details() or ""
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), (code, details)
    assert Path(damaged).name in details and all(f in details for f in case.fragments), details
    assert "Traceback" not in details
    assert not (project / job / output).exists()
    assert digests(project) == before
    assert (job, "Failed") in {(p[0], p[3]) for p in read_pipeline(project).processes}
