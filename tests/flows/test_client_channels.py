"""The flow's gRPC client keeps one channel per address and drops it when the service is unreachable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cryopick.stages.registry import stage

from cryopick.io.optics import OpticsStar, write_optics_star
from cryopick.io.pipeline import allocate_job

MICS = "CtfFind/job003/micrographs_ctf.star"


def _micrographs_star(root: Path, n: int) -> None:
    optics = pd.DataFrame({
        "rlnOpticsGroupName": ["opticsGroup1"], "rlnOpticsGroup": [1], "rlnMicrographPixelSize": [1.0],
        "rlnVoltage": [300.0], "rlnSphericalAberration": [2.7], "rlnAmplitudeContrast": [0.1],
    })
    data = pd.DataFrame({
        "rlnMicrographName": np.array([f"MotionCorr/job002/Movies/mic_{i:03d}.mrc" for i in range(n)], dtype=object),
        "rlnOpticsGroup": np.ones(n, dtype=int),
    })
    (root / MICS).parent.mkdir(parents=True, exist_ok=True)
    write_optics_star(root / MICS, OpticsStar(optics, data, "micrographs"))


@pytest.fixture
def picker(tmp_path):
    from cryopick.services.picker.servicer import ROLE
    from cryopick.services.runtime.server import Service

    project = tmp_path / "project"
    project.mkdir()
    _micrographs_star(project, 7)
    service = Service(ROLE, tmp_path, "127.0.0.1", 0)
    address = service.start()
    yield service, address, project
    service.stop(grace_seconds=0, worker_timeout=10)


def _select(address: str, project: Path, split_size: int, connect_timeout_s: float = 10) -> tuple[str, dict]:
    from cryopick.flows.client import call_job, request_message

    job = allocate_job(project, "Select")
    request = request_message(stage("select"), job, project.name, {"micrographs_star": MICS, "split_size": split_size})
    return job, call_job("Subset selection", stage("select"), request, address, connect_timeout_s=connect_timeout_s)


def test_job_calls_to_one_address_share_a_channel_and_each_returns_its_result(picker):
    from cryopick.flows import client

    service, address, project = picker
    job1, first = _select(address, project, split_size=3)
    channel = client.channel_for(address)
    job2, second = _select(address, project, split_size=5)
    assert client.channel_for(address) is channel
    assert (first["job_dir"], second["job_dir"]) == (job1, job2) and job1 != job2
    assert first["counts"] != second["counts"]  # 7 micrographs in subsets of 3 vs. 5
    client.drop_channel(address)
    assert client.channel_for(address) is not channel  # dropped: a new one is made
    client.drop_channel(address)


def test_unreachable_service_is_a_transient_error_and_its_channel_is_dropped(picker):
    from cryopick.flows import client
    from cryopick.flows.client import ServiceCallError, call_job, request_message

    service, address, project = picker
    _select(address, project, split_size=3)
    assert address in client._channels
    service.stop(grace_seconds=0, worker_timeout=10)  # nothing listens on the port any more
    request = request_message(stage("select"), "Select/job009/", project.name, {"micrographs_star": MICS})
    with pytest.raises(ServiceCallError) as err:
        call_job("Subset selection", stage("select"), request, address, connect_timeout_s=0.5)
    assert err.value.code == "UNAVAILABLE" and err.value.transient
    assert "cannot connect" in str(err.value) and address in str(err.value)
    assert address not in client._channels


def test_the_flow_client_speaks_mutual_tls_from_its_environment(tmp_path, monkeypatch):
    from cryopick.flows.client import ServiceCallError, drop_channel
    from cryopick.services.picker.servicer import ROLE
    from cryopick.services.runtime.server import Service
    from cryopick.services.runtime.tls import ServerTls

    from certs import Authority

    ca = Authority(tmp_path / "pki", "facility-ca")
    server, client = ca.issue("server"), ca.issue("client", client=True)
    project = tmp_path / "project"
    project.mkdir()
    _micrographs_star(project, 4)
    service = Service(ROLE, tmp_path, "127.0.0.1", 0, tls=ServerTls(server.cert, server.key, ca.pem.cert))
    address = service.start()
    try:
        monkeypatch.delenv("CRYOPICK_TLS_CA", raising=False)
        with pytest.raises(ServiceCallError) as plaintext:
            _select(address, project, split_size=2, connect_timeout_s=2)
        assert plaintext.value.code == "UNAVAILABLE"
        monkeypatch.setenv("CRYOPICK_TLS_CA", str(ca.pem.cert))
        monkeypatch.setenv("CRYOPICK_TLS_CLIENT_CERT", str(client.cert))
        monkeypatch.setenv("CRYOPICK_TLS_CLIENT_KEY", str(client.key))
        drop_channel(address)
        _, result = _select(address, project, split_size=2)
        assert result["counts"]["subsets"] == 2
    finally:
        drop_channel(address)
        service.stop(grace_seconds=0, worker_timeout=10)


def test_cryopick_run_services_inherit_the_tls_settings(tmp_path, monkeypatch):
    """The services `cryopick run` starts serve mutual TLS when the environment says so, and the flow client
    reaches them with the caller's half of the same settings."""
    from cryopick.flows.client import drop_channel
    from cryopick.flows.launch import LocalServices
    from cryopick.services.runtime.healthcheck import check

    from certs import Authority

    ca = Authority(tmp_path / "pki", "facility-ca")
    server, client = ca.issue("server"), ca.issue("client", client=True)
    for name, value in {"CRYOPICK_TLS_CERT": server.cert, "CRYOPICK_TLS_KEY": server.key,
                        "CRYOPICK_TLS_CLIENT_CA": ca.pem.cert, "CRYOPICK_TLS_CA": ca.pem.cert,
                        "CRYOPICK_TLS_CLIENT_CERT": client.cert, "CRYOPICK_TLS_CLIENT_KEY": client.key}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("CRYOPICK_PICKER_ADDRESS", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    _micrographs_star(project, 4)
    with LocalServices(tmp_path, roles=("picker",), supervise=False) as services:
        address = services.services["picker"].address
        try:
            _, result = _select(address, project, split_size=2)
            assert result["counts"]["subsets"] == 2
            monkeypatch.delenv("CRYOPICK_TLS_CLIENT_CERT")
            monkeypatch.delenv("CRYOPICK_TLS_CLIENT_KEY")
            assert not check(address, timeout=3)  # the same service refuses a caller without a certificate
        finally:
            drop_channel(address)
    assert "(mutual TLS)" in (tmp_path / ".cryopick/logs/picker.log").read_text()


def test_a_refused_call_leaves_the_other_calls_on_its_channel_running(tmp_path):
    """Concurrent flow runs in one process share a channel: a call refused by a full queue must not close
    it (closing a channel cancels every call in flight on it)."""
    import threading
    import time

    from cryopick.flows.client import ServiceCallError, call_job, drop_channel, request_message
    from cryopick.services.picker.servicer import ROLE
    from cryopick.services.runtime.server import Service
    from cryopick.sim.params import SimParams
    from cryopick.synthetic.project import simulate_project

    simulate_project(SimParams(n_micrographs=6, seed=3), tmp_path / "p")
    service = Service(ROLE, tmp_path, "127.0.0.1", 0, max_concurrent_jobs=1, max_queued_jobs=0)
    address = service.start()
    spec = stage("autopick-log")

    def log_job() -> tuple[str, object]:
        job = allocate_job(tmp_path / "p", "AutoPick")
        return job, request_message(spec, job, "p", {"micrographs_star": MICS, "diameter_min_angstrom": 150,
                                                      "diameter_max_angstrom": 180})

    running_job, running_request = log_job()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = call_job("LoG", spec, running_request, address, connect_timeout_s=10)
        except ServiceCallError as exc:
            outcome["error"] = exc

    try:
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 30
        while not (tmp_path / "p" / running_job / "note.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        refused_job, refused_request = log_job()
        with pytest.raises(ServiceCallError) as refused:
            call_job("LoG", spec, refused_request, address, connect_timeout_s=10)
        assert refused.value.code == "RESOURCE_EXHAUSTED"
        assert "error" not in outcome, "the refused call ended the running one"
        thread.join(timeout=60)
        assert "error" not in outcome, outcome.get("error")
        assert outcome["result"]["job_dir"] == running_job
        assert not any((tmp_path / "p" / refused_job).iterdir())
    finally:
        drop_channel(address, close=True)
        service.stop(grace_seconds=0, worker_timeout=10)
