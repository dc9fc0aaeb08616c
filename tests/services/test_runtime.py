"""Runtime behaviour over real gRPC: health, reflection, concurrency, cancellation, deadlines, shutdown."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from cryopick.io.jobdir import JobDir
from cryopick.services.gen import common_pb2, picker_pb2, picker_pb2_grpc
from cryopick.services.runtime.client import collect_result
from cryopick.services.runtime.jobs import QUEUED_LINE, JobInfo

from service_testkit import MICROGRAPHS_STAR, N_MICROGRAPHS, new_job


def select_request(job_dir: str) -> picker_pb2.SelectSubsetsRequest:
    return picker_pb2.SelectSubsetsRequest(target=common_pb2.JobTarget(job_dir=job_dir),
                                           micrographs_star=MICROGRAPHS_STAR, split_size=5)


class Gate:
    """A stage hook that holds each job before its (real) stage runs until released or cancelled."""

    def __init__(self):
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.seen: list[tuple[str, bool]] = []  # (job_dir, cancel event set when the hook returned)

    def __call__(self, info: JobInfo) -> None:
        self.entered.release()
        deadline = time.monotonic() + 20
        while not self.release.is_set() and not info.cancel.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.seen.append((info.job_dir, info.cancel.is_set()))

    def wait_entered(self, timeout: float = 10) -> None:
        assert self.entered.acquire(timeout=timeout), "job never reached the stage"


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_health_serving_and_reflection(project: Path, start_service):
    _, channel = start_service("picker", project)
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "cryopick.v1.PickerService"):
        status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"cryopick.v1.PickerService", "grpc.health.v1.Health"} <= services


def test_health_not_serving_once_shutdown_begins():
    from cryopick.services.runtime.health import NOT_SERVING, SERVING, Health

    h = Health("cryopick.v1.PickerService")
    check = lambda: h.servicer.Check(health_pb2.HealthCheckRequest(service="cryopick.v1.PickerService"), None).status
    assert check() == NOT_SERVING  # models not loaded yet
    h.serving()
    assert check() == SERVING
    h.shutting_down()
    assert check() == NOT_SERVING


def test_client_cancel_sets_the_stage_cancel_event(project: Path, start_service):
    service, channel = start_service("picker", project)
    gate = Gate()
    service.runner.stage_hook = gate
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    job = new_job(project)
    call = stub.SelectSubsets(select_request(job), timeout=30)
    gate.wait_entered()
    call.cancel()
    assert service.runner.slots.wait_idle(10)
    assert gate.seen == [(job, True)]
    # the real stage saw the cancel event and marked its job failed
    assert JobDir(project, job).status() == "aborted"
    assert "cancelled" in (project / job / "run.err").read_text().lower()


def test_deadline_sets_the_stage_cancel_event(project: Path, start_service):
    service, channel = start_service("picker", project)
    gate = Gate()
    service.runner.stage_hook = gate
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    job = new_job(project)
    with pytest.raises(grpc.RpcError) as err:
        collect_result(stub.SelectSubsets(select_request(job), timeout=1.0))
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert service.runner.slots.wait_idle(10)
    assert gate.seen == [(job, True)]
    assert JobDir(project, job).status() == "aborted"


def test_queue_full_is_resource_exhausted(project: Path, start_service):
    service, channel = start_service("picker", project, max_concurrent_jobs=1, max_queued_jobs=0)
    gate = Gate()
    service.runner.stage_hook = gate
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    first_job = new_job(project)
    first = stub.SelectSubsets(select_request(first_job), timeout=30)
    gate.wait_entered()
    with pytest.raises(grpc.RpcError) as err:
        collect_result(stub.SelectSubsets(select_request(new_job(project)), timeout=30))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "queue full" in err.value.details()
    gate.release.set()
    assert collect_result(first).counts["items"] == N_MICROGRAPHS
    # the slot is free again
    assert collect_result(stub.SelectSubsets(select_request(new_job(project)), timeout=30)).counts["subsets"] == 5


def test_jobs_queue_in_order_and_run_one_at_a_time(project: Path, start_service):
    service, channel = start_service("picker", project, max_concurrent_jobs=1, max_queued_jobs=2)
    gate = Gate()
    service.runner.stage_hook = gate
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    jobs = [new_job(project) for _ in range(4)]
    first = stub.SelectSubsets(select_request(jobs[0]), timeout=30)
    gate.wait_entered()
    second = stub.SelectSubsets(select_request(jobs[1]), timeout=30)
    # RPCs may reach the server in any order: let the second queue before sending the third
    event = next(second)
    assert event.progress.log_line == QUEUED_LINE and event.progress.fraction == 0
    third = stub.SelectSubsets(select_request(jobs[2]), timeout=30)
    assert next(third).progress.log_line == QUEUED_LINE
    wait_until(lambda: service.runner.slots.waiting == 2)
    with pytest.raises(grpc.RpcError) as err:  # queue (2) full
        collect_result(stub.SelectSubsets(select_request(jobs[3]), timeout=30))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert service.runner.slots.running == 1  # the queued jobs have not started
    gate.release.set()
    results = [collect_result(c) for c in (first, second, third)]
    assert [r.job_dir for r in results] == jobs[:3]
    assert [job for job, _ in gate.seen] == jobs[:3]  # FIFO


def test_cancelled_queued_job_leaves_the_queue_untouched(project: Path, start_service):
    service, channel = start_service("picker", project, max_concurrent_jobs=1, max_queued_jobs=1)
    gate = Gate()
    service.runner.stage_hook = gate
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    first_job, queued_job = new_job(project), new_job(project)
    first = stub.SelectSubsets(select_request(first_job), timeout=30)
    gate.wait_entered()
    queued = stub.SelectSubsets(select_request(queued_job), timeout=30)
    assert next(queued).progress.log_line == QUEUED_LINE
    queued.cancel()
    wait_until(lambda: service.runner.slots.waiting == 0)
    gate.release.set()
    collect_result(first)
    assert [job for job, _ in gate.seen] == [first_job]
    assert not list((project / queued_job).iterdir())  # the stage never ran


def test_shutdown_lets_a_job_finish_within_the_grace_period(project: Path, start_service):
    service, channel = start_service("picker", project)
    gate = Gate()
    service.runner.stage_hook = gate
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    job = new_job(project)
    call = stub.SelectSubsets(select_request(job), timeout=30)
    gate.wait_entered()
    stopper = threading.Thread(target=service.stop, kwargs={"grace_seconds": 10})
    stopper.start()
    time.sleep(0.3)
    gate.release.set()
    assert collect_result(call).job_dir == job
    stopper.join(15)
    assert not stopper.is_alive()
    assert JobDir(project, job).status() == "success"


def test_shutdown_cancels_jobs_after_the_grace_period(project: Path, start_service):
    service, channel = start_service("picker", project)
    gate = Gate()
    service.runner.stage_hook = gate
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    job = new_job(project)
    call = stub.SelectSubsets(select_request(job), timeout=30)
    gate.wait_entered()
    t0 = time.monotonic()
    assert service.stop(grace_seconds=0.5, worker_timeout=10)
    assert time.monotonic() - t0 < 8
    assert gate.seen == [(job, True)]
    assert JobDir(project, job).status() == "aborted"
    with pytest.raises(grpc.RpcError):
        collect_result(call)
