"""Fixtures: a tiny RELION project and in-process services on port 0."""

from __future__ import annotations

import importlib
from pathlib import Path

import grpc
import pytest
from grpc_health.v1.health_pb2 import HealthCheckRequest
from grpc_health.v1.health_pb2_grpc import HealthStub

from cryopick.services.runtime.server import Service
from service_testkit import write_micrographs_star


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    write_micrographs_star(root)
    return root


@pytest.fixture
def start_service():
    """``start_service(role_name, project_root, **kwargs) -> (Service, grpc.Channel)``; stopped at teardown."""
    started: list[tuple[Service, grpc.Channel]] = []

    def start(role: str, root: Path, **kwargs) -> tuple[Service, grpc.Channel]:
        role_obj = importlib.import_module(f"cryopick.services.{role}.servicer").ROLE
        service = Service(role_obj, root, "127.0.0.1", 0, **kwargs)
        address = service.start()
        channel = grpc.insecure_channel(address)
        # wait for the connection with a health check: closing a channel that channel_ready_future
        # watched blocks for up to 0.2 s (gRPC's connectivity poll interval)
        HealthStub(channel).Check(HealthCheckRequest(), timeout=10, wait_for_ready=True)
        started.append((service, channel))
        return service, channel

    yield start
    for service, channel in started:
        channel.close()
        service.stop(grace_seconds=0, worker_timeout=10)

