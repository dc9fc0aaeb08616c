"""Build, start and stop one role's gRPC server; the ``python -m cryopick.services.<role>`` entry point."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_reflection.v1alpha import reflection

from cryopick.services.runtime.devices import device_report
from cryopick.services.runtime.health import Health
from cryopick.services.runtime.info import SERVICE_NAME as INFO_SERVICE_NAME, InfoServicer
from cryopick.services.runtime.jobs import JobRunner
from cryopick.services.runtime.slots import JobSlots
from cryopick.services.runtime.tls import ServerTls, is_loopback

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 30.0
#: Extra RPC threads beyond the job slots and queue, for health checks and reflection.
_SPARE_THREADS = 8
#: gRPC messages carry paths and parameters, never pixel data: a request larger than this is
#: refused (RESOURCE_EXHAUSTED) before it is parsed; replies (job results) may be larger.
MAX_REQUEST_BYTES = 1024 * 1024
_MAX_REPLY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Role:
    """One service role.

    Attributes
    ----------
    name : str
        Short name (``picker``); also the module ``cryopick.services.<name>``.
    service_name : str
        Full gRPC service name, e.g. ``cryopick.v1.PickerService``.
    add_to_server : callable
        The generated ``add_<Service>Servicer_to_server``.
    make_servicer : callable
        ``JobRunner -> servicer``. A servicer may define ``load()`` (load models once per
        process); health turns SERVING only after it returned.
    stages : tuple of str
        Stage modules the servicer runs (``cryopick.stages.<name>``). They are imported at
        start-up, before health turns SERVING, so the first job does not pay for the import.
    """

    name: str
    service_name: str
    add_to_server: Callable[[Any, grpc.Server], None]
    make_servicer: Callable[[JobRunner], Any]
    stages: tuple[str, ...] = ()


class Service:
    """A running gRPC server for one role.

    Parameters
    ----------
    role : Role
    project_root : path
        Root all request paths resolve inside.
    host : str
    port : int
        0 = pick a free port (see :attr:`port` after :meth:`start`).
    max_concurrent_jobs, max_queued_jobs : int
        See :class:`JobSlots`.
    tls : ServerTls or None
        Serve over TLS (mutual TLS if it has a client CA); None = plaintext.
    allow_insecure_remote : bool
        Allow plaintext on an address other than loopback (with a warning). Without it, such a
        service refuses to start: anyone who reaches the port could run jobs.

    Raises
    ------
    FileNotFoundError
        ``project_root`` is not a directory.
    PermissionError
        Plaintext on a non-loopback address without ``allow_insecure_remote``.
    """

    def __init__(self, role: Role, project_root: str | Path, host: str = "127.0.0.1", port: int = 0,
                 max_concurrent_jobs: int = 1, max_queued_jobs: int = 8, tls: ServerTls | None = None,
                 allow_insecure_remote: bool = False):
        root = Path(project_root)
        if not root.is_dir():
            raise FileNotFoundError(f"project root {root} is not a directory")
        if tls is None and not is_loopback(host):
            if not allow_insecure_remote:
                raise PermissionError(
                    f"refusing to serve without TLS on {host}, which is not a loopback address: anyone who reaches "
                    "the port could run jobs. Configure TLS (--tls-cert/--tls-key, see the README's 'Access') or "
                    "pass --allow-insecure-remote")
            log.warning("%s service: serving WITHOUT TLS on %s (--allow-insecure-remote): anyone who reaches the "
                        "port can run jobs in %s", role.name, host, root)
        self.tls = tls
        self.role = role
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.runner = JobRunner(root, JobSlots(max_concurrent_jobs, max_queued_jobs))
        self.servicer = role.make_servicer(self.runner)
        self.health = Health(role.service_name)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=max_concurrent_jobs + max_queued_jobs + _SPARE_THREADS,
                thread_name_prefix=f"{role.name}-rpc",
            ),
            options=[
                ("grpc.max_send_message_length", _MAX_REPLY_BYTES),
                ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        role.add_to_server(self.servicer, self.server)
        self.health.add_to_server(self.server)
        InfoServicer(role.name, role.stages).add_to_server(self.server)
        reflection.enable_server_reflection(
            (role.service_name, grpc_health.SERVICE_NAME, INFO_SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    def start(self) -> str:
        """Bind, start, load models, report SERVING; returns ``host:port``."""
        bind = f"{self.host}:{self.requested_port}"
        if self.tls is None:
            self.port = self.server.add_insecure_port(bind)
        else:
            self.port = self.server.add_secure_port(bind, self.tls.credentials())
        if not self.port:
            raise OSError(f"cannot listen on {self.host}:{self.requested_port}")
        self.server.start()
        preload_stages(self.role.stages)
        device = device_report(self.role.stages)
        if device is not None:
            log.log(device[0], "%s service: %s", self.role.name, device[1])
        load = getattr(self.servicer, "load", None)
        if callable(load):
            load()
        self.health.serving()
        security = "plaintext" if self.tls is None else ("mutual TLS" if self.tls.mutual else "TLS")
        log.info("%s service (%s) listening on %s (%s), project root %s", self.role.name, self.role.service_name,
                 self.address, security, self.runner.service_root)
        return self.address

    def stop(self, grace_seconds: float = DEFAULT_GRACE_SECONDS, worker_timeout: float = 30.0) -> bool:
        """Graceful shutdown: NOT_SERVING, refuse new RPCs, let jobs run ``grace_seconds``, then cancel.

        Returns True if every stage thread ended within ``worker_timeout`` after the RPCs were cancelled.
        """
        log.info("%s service: shutting down (grace %.0f s)", self.role.name, grace_seconds)
        self.health.shutting_down()
        self.server.stop(grace_seconds).wait()
        done = self.runner.cancel_all_and_wait(worker_timeout)
        if not done:
            log.warning("%s service: some jobs did not stop within %.0f s of cancellation", self.role.name, worker_timeout)
        return done


def preload_stages(modules: tuple[str, ...]) -> None:
    """Import stage modules once per process; one that cannot be imported is left to its RPC to report."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - the RPC maps it to a status (e.g. UNIMPLEMENTED)
            log.warning("stage module %s not preloaded: %s", name, exc)


def parse_args(role: Role, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"python -m cryopick.services.{role.name}",
                                description=f"cryopick {role.service_name} gRPC server")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 = pick a free one (default)")
    p.add_argument("--project-root", required=True, type=Path, help="every request path must resolve inside it")
    p.add_argument("--max-concurrent-jobs", type=int, default=1, help="jobs running at once (default 1)")
    p.add_argument("--max-queued-jobs", type=int, default=8,
                   help="jobs waiting for a slot; more are refused with RESOURCE_EXHAUSTED (default 8)")
    p.add_argument("--grace-seconds", type=float, default=DEFAULT_GRACE_SECONDS,
                   help="on SIGTERM/SIGINT, let running jobs finish this long before cancelling them (default 30)")
    env = os.environ
    p.add_argument("--tls-cert", default=env.get("CRYOPICK_TLS_CERT"),
                   help="serve over TLS with this PEM certificate chain (default $CRYOPICK_TLS_CERT)")
    p.add_argument("--tls-key", default=env.get("CRYOPICK_TLS_KEY"),
                   help="the certificate's PEM private key (default $CRYOPICK_TLS_KEY)")
    p.add_argument("--tls-client-ca", default=env.get("CRYOPICK_TLS_CLIENT_CA"),
                   help="mutual TLS: admit only clients with a certificate signed by a CA in this PEM bundle "
                        "(default $CRYOPICK_TLS_CLIENT_CA)")
    p.add_argument("--allow-insecure-remote", action="store_true",
                   help="allow plaintext on a non-loopback --host (prints a warning); without TLS a service "
                        "otherwise listens only on loopback")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop (as on SIGTERM) when the process that started this one exits, even if it was killed "
                        "(used by `cryopick run`, which starts its services in their own sessions)")
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    if args.max_concurrent_jobs < 1 or args.max_queued_jobs < 0:
        p.error("--max-concurrent-jobs must be >= 1 and --max-queued-jobs >= 0")
    return args


def main(role: Role, argv: list[str] | None = None) -> int:
    """Run a service until SIGTERM/SIGINT; print ``LISTENING host:port`` on stdout when ready."""
    args = parse_args(role, argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        tls = ServerTls.from_settings(args.tls_cert, args.tls_key, args.tls_client_ca)
        service = Service(role, args.project_root, args.host, args.port, args.max_concurrent_jobs, args.max_queued_jobs,
                          tls=tls, allow_insecure_remote=args.allow_insecure_remote)
        address = service.start()
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        log.error("cannot start %s service: %s", role.name, exc)
        return 1
    print(f"LISTENING {address}", flush=True)
    parent = os.getppid()
    while not stop.wait(1.0):
        if args.exit_with_parent and os.getppid() != parent:
            log.warning("%s service: the process that started it (pid %d) is gone; stopping", role.name, parent)
            break
    service.stop(args.grace_seconds)
    log.info("%s service stopped", role.name)
    return 0
