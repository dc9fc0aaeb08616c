"""Who gets in: TLS and mutual TLS on a real service, with certificates made at test time.

The access matrix: every kind of client against a TLS service and a mutual-TLS service. An
admitted client runs a real job; a refused one gets UNAVAILABLE and leaves no job behind.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cryopick.services.gen import common_pb2, picker_pb2, picker_pb2_grpc
from cryopick.services.runtime.client import collect_result
from cryopick.services.runtime.healthcheck import check
from cryopick.services.runtime.server import MAX_REQUEST_BYTES, Service
from cryopick.services.runtime.tls import ClientTls, ServerTls, TlsConfigError, is_loopback, open_channel

from certs import Authority
from service_testkit import MICROGRAPHS_STAR, new_job

PICKER = importlib.import_module("cryopick.services.picker.servicer").ROLE


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The facility's CA (server and client certificates) and an outsider's CA."""
    d = tmp_path_factory.mktemp("pki")
    ca, other = Authority(d, "facility-ca"), Authority(d, "outsider-ca")
    return {
        "ca": ca, "other": other,
        "server": ca.issue("server"),
        "server_wrong_host": ca.issue("server-elsewhere", hosts=("elsewhere.example",)),
        "client": ca.issue("client", client=True),
        "client_expired": ca.issue("client-expired", client=True, expired=True),
        "client_outsider": other.issue("client-outsider", client=True),
    }


def _client(pki, kind: str) -> ClientTls | None:
    ca = pki["ca"].pem.cert
    return {
        "plaintext": None,
        "tls, no client certificate": ClientTls(ca),
        "tls, trusting another CA": ClientTls(pki["other"].pem.cert),
        "tls, facility client certificate": ClientTls(ca, pki["client"].cert, pki["client"].key),
        "tls, expired client certificate": ClientTls(ca, pki["client_expired"].cert, pki["client_expired"].key),
        "tls, outsider's client certificate": ClientTls(ca, pki["client_outsider"].cert, pki["client_outsider"].key),
    }[kind]


#: (client, admitted by the TLS service, admitted by the mutual-TLS service)
MATRIX = [
    ("plaintext", False, False),
    ("tls, no client certificate", True, False),
    ("tls, trusting another CA", False, False),
    ("tls, facility client certificate", True, True),
    ("tls, expired client certificate", True, False),
    ("tls, outsider's client certificate", True, False),
]


@pytest.fixture(scope="module")
def secured(pki, tmp_path_factory):
    """A TLS picker and a mutual-TLS picker on one project; yields {"tls": (service, root), "mutual": ...}."""
    from service_testkit import write_micrographs_star

    out = {}
    for mode in ("tls", "mutual"):
        root = tmp_path_factory.mktemp(f"project-{mode}")
        write_micrographs_star(root)
        server = pki["server"]
        tls = ServerTls(server.cert, server.key, pki["ca"].pem.cert if mode == "mutual" else None)
        service = Service(PICKER, root, "127.0.0.1", 0, tls=tls)
        service.start()
        out[mode] = (service, root)
    yield out
    for service, _ in out.values():
        service.stop(grace_seconds=0, worker_timeout=10)


def _run_job(channel: grpc.Channel, root: Path) -> int:
    job = new_job(root)
    stub = picker_pb2_grpc.PickerServiceStub(channel)
    result = collect_result(stub.SelectSubsets(picker_pb2.SelectSubsetsRequest(
        target=common_pb2.JobTarget(job_dir=job), micrographs_star=MICROGRAPHS_STAR, split_size=-1, nr_split=2), timeout=30))
    return result.counts["subsets"]


@pytest.mark.parametrize("mode", ["tls", "mutual"])
@pytest.mark.parametrize("kind, admitted_tls, admitted_mutual", MATRIX, ids=[m[0] for m in MATRIX])
def test_access_matrix(secured, pki, mode, kind, admitted_tls, admitted_mutual):
    service, root = secured[mode]
    admitted = admitted_tls if mode == "tls" else admitted_mutual
    jobs_before = sorted(p.name for p in (root / "Select").glob("job*")) if (root / "Select").is_dir() else []
    with open_channel(service.address, tls=_client(pki, kind)) as channel:
        if admitted:
            assert _run_job(channel, root) == 2
            return
        with pytest.raises(grpc.RpcError) as refused:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.RpcError):
            _run_job(channel, root)
    jobs_after = sorted(p.name for p in (root / "Select").glob("job*")) if (root / "Select").is_dir() else []
    assert len(jobs_after) - len(jobs_before) <= 1  # new_job allocated one; the service wrote nothing into it
    for job in set(jobs_after) - set(jobs_before):
        assert not any((root / "Select" / job).iterdir())


def test_the_certificate_must_name_the_host(pki, project):
    server = pki["server_wrong_host"]
    service = Service(PICKER, project, "127.0.0.1", 0, tls=ServerTls(server.cert, server.key))
    service.start()
    try:
        with open_channel(service.address, tls=ClientTls(pki["ca"].pem.cert)) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        # the name the certificate does carry is accepted when the caller asks for it
        with open_channel(service.address, tls=ClientTls(pki["ca"].pem.cert, server_name="elsewhere.example")) as channel:
            assert _run_job(channel, project) == 2
    finally:
        service.stop(grace_seconds=0, worker_timeout=10)


def test_clients_read_their_tls_settings_from_the_environment(secured, pki, monkeypatch):
    service, _ = secured["mutual"]
    monkeypatch.delenv("CRYOPICK_TLS_CA", raising=False)
    assert not check(service.address, timeout=3)  # plaintext health check: refused
    monkeypatch.setenv("CRYOPICK_TLS_CA", str(pki["ca"].pem.cert))
    assert not check(service.address, timeout=3)  # no client certificate: refused
    monkeypatch.setenv("CRYOPICK_TLS_CLIENT_CERT", str(pki["client"].cert))
    monkeypatch.setenv("CRYOPICK_TLS_CLIENT_KEY", str(pki["client"].key))
    assert check(service.address, timeout=10)


def test_the_entry_point_serves_mutual_tls_from_environment_variables(pki, project):
    env = {"CRYOPICK_TLS_CERT": str(pki["server"].cert), "CRYOPICK_TLS_KEY": str(pki["server"].key),
           "CRYOPICK_TLS_CLIENT_CA": str(pki["ca"].pem.cert)}
    proc = subprocess.Popen([sys.executable, "-m", "cryopick.services.picker", "--project-root", str(project)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, **env})
    try:
        address = proc.stdout.readline().split()[1]
        with open_channel(address, tls=ClientTls(pki["ca"].pem.cert, pki["client"].cert, pki["client"].key)) as channel:
            assert _run_job(channel, project) == 2
        with open_channel(address, tls=None) as channel, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "(mutual TLS)" in err


# --------------------------------------------------------------------------- plaintext off loopback


def test_plaintext_on_a_public_address_needs_the_explicit_flag(project, caplog):
    with pytest.raises(PermissionError, match="without TLS on 0.0.0.0"):
        Service(PICKER, project, "0.0.0.0", 0)
    with caplog.at_level(logging.WARNING):
        service = Service(PICKER, project, "0.0.0.0", 0, allow_insecure_remote=True)
    assert "WITHOUT TLS" in caplog.text
    service.server.stop(0)


def test_the_entry_point_refuses_plaintext_on_a_public_address(project):
    proc = subprocess.run([sys.executable, "-m", "cryopick.services.picker", "--host", "0.0.0.0",
                           "--project-root", str(project)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "LISTENING" not in proc.stdout
    assert "--allow-insecure-remote" in proc.stderr and "not a loopback address" in proc.stderr


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
                                            ("0.0.0.0", False), ("::", False), ("10.1.2.3", False)])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


# --------------------------------------------------------------------------- configuration errors


def test_half_a_tls_configuration_is_refused(pki, tmp_path):
    with pytest.raises(TlsConfigError, match="both a certificate"):
        ServerTls.from_settings(pki["server"].cert, None)
    with pytest.raises(TlsConfigError, match="needs the service's own"):
        ServerTls.from_settings(None, None, pki["ca"].pem.cert)
    assert ServerTls.from_settings(None, "") is None
    with pytest.raises(TlsConfigError, match="set together"):
        ClientTls.from_env({"CRYOPICK_TLS_CA": "ca.pem", "CRYOPICK_TLS_CLIENT_CERT": "c.pem"})
    with pytest.raises(TlsConfigError, match="needs CRYOPICK_TLS_CA"):
        ClientTls.from_env({"CRYOPICK_TLS_CLIENT_CERT": "c.pem", "CRYOPICK_TLS_CLIENT_KEY": "k.pem"})
    assert ClientTls.from_env({}) is None


def test_unreadable_or_non_pem_files_are_named(pki, tmp_path):
    missing = tmp_path / "missing.crt"
    with pytest.raises(TlsConfigError, match=f"TLS certificate {missing}: cannot read it"):
        ServerTls(missing, pki["server"].key).credentials()
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    with pytest.raises(TlsConfigError, match=f"TLS key {garbage}: not a PEM file"):
        ServerTls(pki["server"].cert, garbage).credentials()


def test_the_entry_point_reports_a_missing_certificate(project, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cryopick.services.picker", "--project-root", str(project),
                           "--tls-cert", str(tmp_path / "nope.crt"), "--tls-key", str(tmp_path / "nope.key")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "LISTENING" not in proc.stdout
    assert "nope.key" in proc.stderr and "cannot read it" in proc.stderr


# --------------------------------------------------------------------------- request size


def test_an_oversized_request_is_refused_before_it_runs(start_service, project):
    _, channel = start_service("picker", project)
    job = new_job(project)
    request = picker_pb2.SelectSubsetsRequest(target=common_pb2.JobTarget(job_dir=job),
                                              micrographs_star="x" * (MAX_REQUEST_BYTES + 1), split_size=-1, nr_split=2)
    with pytest.raises(grpc.RpcError) as refused:
        collect_result(picker_pb2_grpc.PickerServiceStub(channel).SelectSubsets(request, timeout=30))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not any((project / job).iterdir())
