"""Calling a cryopick service: one server-streaming RPC per job, errors sorted into retry / no retry.

The flow side of the protocol in ``protos/cryopick/v1``: build the request from a job's
parameters, consume the ``JobEvent`` stream (progress reports to a callback), return the
final ``Result`` as a plain dict. Status codes become :class:`ServiceCallError` with a
``transient`` flag that the tasks' ``retry_condition_fn`` reads.

Channels are kept per address for the life of the process (:func:`channel_for`): a channel
costs a TCP + HTTP/2 handshake to open, and closing one that was watched with
``grpc.channel_ready_future`` blocks for up to 0.2 s (gRPC's connectivity poll interval),
which was most of the cost of a short job's RPC. A channel whose call failed transiently is
dropped, so a retry connects afresh to a restarted service.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cryopick.services.gen import common_pb2, common_pb2_grpc
from cryopick.services.runtime.tls import TlsConfigError, open_channel

from cryopick.stages.registry import ROLES, SERVICE_NAMES, StageSpec

#: Options of the cached channels: reconnect quickly to a local service that restarts
#: (gRPC's default backoff grows to 120 s between connection attempts).
_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)

_channels: dict[str, grpc.Channel] = {}
_channels_lock = threading.Lock()


def channel_for(address: str) -> grpc.Channel:
    """The process's channel to ``address`` (created on first use, then reused).

    TLS when ``CRYOPICK_TLS_CA`` is set (see :mod:`cryopick.services.runtime.tls`).
    """
    with _channels_lock:
        channel = _channels.get(address)
        if channel is None:
            channel = _channels[address] = open_channel(address, options=_CHANNEL_OPTIONS)
        return channel


def drop_channel(address: str, close: bool = False) -> None:
    """Forget the cached channel to ``address``: the next call opens a new one.

    The channel is not closed unless ``close`` (when its service is stopped for good): other
    threads (concurrent flow runs in one process) may have calls in flight on it, and closing
    a channel cancels them. A forgotten channel closes when its last call lets go of it.
    """
    with _channels_lock:
        channel = _channels.pop(address, None)
    if channel is not None and close:
        channel.close()


class ServiceCallError(RuntimeError):
    """A job's RPC ended with an error status (or the stream broke off).

    Attributes
    ----------
    step : str
        The flow step, e.g. ``"Class2D"``.
    role : str
        The service role, e.g. ``"classifier"``.
    code : str
        gRPC status code name (``"UNAVAILABLE"``...) or ``"STREAM_ENDED"``.
    details : str
        The service's message.
    """

    def __init__(self, step: str, role: str, code: str, details: str):
        self.step, self.role, self.code, self.details = step, role, code, details
        super().__init__(f"{step}: {role} service says: {details} [{code}]")

    @property
    def transient(self) -> bool:
        """True if a retry may succeed (service down or restarting, deadline, broken stream)."""
        return self.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "STREAM_ENDED") or (
            self.code == "RESOURCE_EXHAUSTED" and "queue" in self.details.lower()
        )


class StepNotAvailable(ServiceCallError):
    """The service answered UNIMPLEMENTED: this step of the chain is not built yet."""

    def __init__(self, step: str, role: str, details: str):
        super().__init__(step, role, "UNIMPLEMENTED", details)
        self.args = (f"{step}: {role} service says: {details}",)

    def __str__(self) -> str:
        return self.args[0]


def resolve_address(role: str, addresses: Mapping[str, str] | None = None) -> str:
    """The ``host:port`` of a role: the flow parameter if given, else ``CRYOPICK_<ROLE>_ADDRESS``."""
    if role not in SERVICE_NAMES:
        raise ValueError(f"unknown service role {role!r}; expected one of {', '.join(ROLES)}")
    given = (addresses or {}).get(role) or ""
    address = given or os.environ.get(f"CRYOPICK_{role.upper()}_ADDRESS", "")
    if not address:
        raise ServiceCallError(
            "config", role, "UNAVAILABLE",
            f"no address for the {role} service: set CRYOPICK_{role.upper()}_ADDRESS or the flow's "
            f"'services.{role}' parameter (or use `cryopick run`, which starts the services)",
        )
    return address


def _stub(role: str, channel: grpc.Channel) -> Any:
    grpc_mod = importlib.import_module(f"cryopick.services.gen.{role}_pb2_grpc")
    return getattr(grpc_mod, SERVICE_NAMES[role].rsplit(".", 1)[1] + "Stub")(channel)


def request_message(spec: StageSpec, job_dir: str, project: str, fields: Mapping[str, Any]) -> Any:
    """The stage's request message with its ``JobTarget`` and parameter fields (None = unset)."""
    pb2 = importlib.import_module(f"cryopick.services.gen.{spec.role}_pb2")
    target = common_pb2.JobTarget(project=project, job_dir=job_dir)
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items() if v is not None}
    return getattr(pb2, spec.request)(target=target, **values)


def result_to_dict(result: Any) -> dict[str, Any]:
    """``cryopick.v1.Result`` -> plain dict (JSON-serialisable)."""
    return {
        "job_dir": result.job_dir,
        "output_nodes": [[n.path, n.type_label] for n in result.output_nodes],
        "counts": {k: int(v) for k, v in sorted(result.counts.items())},
        "summary": {k: float(v) for k, v in sorted(result.summary.items())},
        "failures": dict(sorted(result.failures.items())),
        "figures": list(result.figures),
    }


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of a running job (fraction 0..1, current item, log line)."""

    fraction: float
    item: str
    log_line: str


def service_code_version(address: str, stage_module: str, timeout_s: float = 30.0) -> str:
    """The code version the service at ``address`` runs for ``stage_module`` (``cryopick.v1.InfoService``).

    Waits up to ``timeout_s`` for a restarting service. Never raises: a service that cannot say
    gives ``"unreachable"`` (down, or not up within ``timeout_s``: the task retries before it takes a
    job directory, see :func:`cryopick.flows.caching.key_lacks_service_code`), ``"no-info-service"``
    (an older build), ``"stage-not-served"`` or ``"tls-config-error"``, so the cache key differs from
    any key computed while the service answered.
    """
    try:
        info = common_pb2_grpc.InfoServiceStub(channel_for(address)).Describe(
            common_pb2.DescribeRequest(), timeout=timeout_s, wait_for_ready=True)
    except TlsConfigError:
        return "tls-config-error"  # the job's own call reports it, as a permanent error
    except grpc.RpcError as exc:
        return "no-info-service" if exc.code() == grpc.StatusCode.UNIMPLEMENTED else "unreachable"
    return info.stage_code_versions.get(stage_module, "stage-not-served")


def wait_until_serving(address: str, role: str, timeout_s: float) -> None:
    """Block until the role's gRPC health check says SERVING, or raise a transient error."""
    service = SERVICE_NAMES[role]
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with open_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceCallError("health", role, "UNAVAILABLE", f"{role} service at {address} not SERVING after {timeout_s:.0f} s ({last})")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=min(remaining, 2.0), wait_for_ready=True)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            time.sleep(0.2)


def call_job(
    step: str,
    spec: StageSpec,
    request: Any,
    address: str,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    timeout_s: float | None = None,
    connect_timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Run one job RPC to completion.

    Waits up to ``connect_timeout_s`` for the service to be reachable (a restarting
    service counts as transient), then streams progress to ``on_progress``.

    Returns
    -------
    dict
        The job's ``Result`` (see :func:`result_to_dict`).

    Raises
    ------
    StepNotAvailable
        The service answered UNIMPLEMENTED.
    ServiceCallError
        Any other error status, or a stream that ended without a result.
    """
    role, method = spec.role, spec.rpc
    try:
        channel = channel_for(address)
    except TlsConfigError as exc:
        raise ServiceCallError(step, role, "TLS_CONFIG", str(exc)) from None
    try:
        _wait_reachable(channel, role, connect_timeout_s)
    except grpc.RpcError:
        drop_channel(address)
        raise ServiceCallError(step, role, "UNAVAILABLE", f"cannot connect to the {role} service at {address} within {connect_timeout_s:.0f} s") from None
    stub = _stub(role, channel)
    result = None
    try:
        for event in getattr(stub, method)(request, timeout=timeout_s, wait_for_ready=True):
            kind = event.WhichOneof("event")
            if kind == "progress" and on_progress is not None:
                p = event.progress
                on_progress(ProgressEvent(p.fraction, p.item, p.log_line))
            elif kind == "result":
                result = result_to_dict(event.result)  # the stream's status follows at once: read it
    except grpc.RpcError as exc:
        if result is not None:  # the job finished; only the end of the stream was lost
            drop_channel(address)
            return result
        code = exc.code().name if exc.code() is not None else "UNKNOWN"
        details = exc.details() or ""
        if code == "UNIMPLEMENTED":
            raise StepNotAvailable(step, role, details or f"{method} is not implemented") from None
        error = ServiceCallError(step, role, code, details)
        if error.transient and code != "RESOURCE_EXHAUSTED":  # a full queue: the service is alive, keep the channel
            drop_channel(address)
        raise error from None
    if result is not None:
        return result
    drop_channel(address)
    raise ServiceCallError(step, role, "STREAM_ENDED", f"the {role} service closed the {method} stream without a result (did it die?)")


def _wait_reachable(channel: grpc.Channel, role: str, timeout_s: float) -> None:
    """Block until the server behind ``channel`` answers (a health check, ~1 ms when connected).

    Raises ``grpc.RpcError`` (DEADLINE_EXCEEDED / UNAVAILABLE) if nothing answers within
    ``timeout_s``. Any answer counts, including NOT_SERVING or UNIMPLEMENTED (a server
    without the health service): the job RPC itself then says what the server thinks.
    """
    try:
        health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE_NAMES[role]), timeout=timeout_s, wait_for_ready=True
        )
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            raise
