"""``python -m cryopick.services.<role>``: LISTENING line, a real call, SIGTERM exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cryopick.services.gen import common_pb2, picker_pb2, picker_pb2_grpc
from cryopick.services.runtime.client import collect_result
from cryopick.services.runtime.launch import start_local_service

from service_testkit import MICROGRAPHS_STAR, new_job


def test_module_entry_point_serves_and_stops_cleanly(project: Path, tmp_path: Path):
    log = tmp_path / "picker.log"
    service = start_local_service("picker", project, log_path=log, extra_args=("--grace-seconds", "5"))
    try:
        host, port = service.address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        with grpc.insecure_channel(service.address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
            job = new_job(project)
            result = collect_result(picker_pb2_grpc.PickerServiceStub(channel).SelectSubsets(
                picker_pb2.SelectSubsetsRequest(target=common_pb2.JobTarget(job_dir=job),
                                                micrographs_star=MICROGRAPHS_STAR, split_size=-1, nr_split=4), timeout=30))
            assert result.counts["subsets"] == 4
    finally:
        code = service.stop(grace_s=30)
    assert code == 0
    text = log.read_text()
    assert "listening on" in text and "stopped" in text


def test_bad_project_root_exits_non_zero(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "cryopick.services.picker", "--port", "0", "--project-root", str(tmp_path / "missing")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "LISTENING" not in proc.stdout and "missing" in proc.stderr


@pytest.mark.parametrize("role", ["extractor", "classifier", "ranker", "topaz"])
def test_every_role_starts(role: str, project: Path):
    service = start_local_service(role, project)
    try:
        with grpc.insecure_channel(service.address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert service.stop(grace_s=30) == 0


def test_healthcheck_command(project: Path, start_service, tmp_path: Path):
    service, _ = start_service("picker", project)
    run = lambda *a: subprocess.run([sys.executable, "-m", "cryopick.services.runtime.healthcheck", *a],
                                    capture_output=True, text=True, timeout=60).returncode
    assert run(service.address) == 0
    assert run(service.address, "cryopick.v1.PickerService") == 0
    assert run(service.address, "cryopick.v1.NoSuchService") == 1
    service.stop(grace_seconds=0)
    assert run(service.address) == 1
