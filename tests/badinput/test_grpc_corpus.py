"""Every bad input of the corpus through every stage that reads it, via its service over real gRPC: an error
status (INVALID_ARGUMENT or NOT_FOUND) whose message names the file and the problem, no output that looks
finished, inputs byte-identical, the job Failed in the pipeline (or, for an output job directory outside the
project, refused before anything is written)."""

from __future__ import annotations

import importlib
from pathlib import Path

import grpc
import pytest

from cryopick.io.pipeline import read_pipeline
from cryopick.services.gen import common_pb2
from cryopick.services.runtime.server import Service
from cryopick.stages.registry import SERVICE_NAMES, stage

from .corpus import CASES, OUTPUTS, digests, next_job, run_fields

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


@pytest.mark.parametrize("case, name", RUNS, ids=[f"{c.name}-{s}" for c, s in RUNS])
def test_bad_input_through_grpc(project, made, channels, case, name):
    inputs = made(case)
    spec = stage(name)
    job_type, output = OUTPUTS[name]
    job = case.job_dir(project, job_type) if case.job_dir else next_job(job_type)
    pb2 = importlib.import_module(f"cryopick.services.gen.{spec.role}_pb2")
    grpc_mod = importlib.import_module(f"cryopick.services.gen.{spec.role}_pb2_grpc")
    stub = getattr(grpc_mod, SERVICE_NAMES[spec.role].rsplit(".", 1)[1] + "Stub")(channels(spec.role))
    request = getattr(pb2, spec.request)(target=common_pb2.JobTarget(job_dir=job), **run_fields(case, name, inputs))
    before, pipeline = digests(project), (project / "default_pipeline.star").read_bytes()
    with pytest.raises(grpc.RpcError) as err:
        for _ in getattr(stub, spec.rpc)(request, timeout=120, wait_for_ready=True):
            pass
    code, details = err.value.code(), err.value.details() or ""
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), (code, details)
    assert Path(inputs[2]).name in details and all(f in details for f in case.fragments_for(name)), details
    assert "Traceback" not in details and "\n" not in details
    assert not (project / job / output).exists()
    assert digests(project) == before
    if case.job_dir:
        assert not (project / job).exists() and (project / "default_pipeline.star").read_bytes() == pipeline
    else:
        assert (job, "Failed") in {(p[0], p[3]) for p in read_pipeline(project).processes}
