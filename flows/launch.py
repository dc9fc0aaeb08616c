"""The embedded default: the five services on 127.0.0.1 and a temporary Prefect API, supervised.

:class:`LocalServices` starts ``python -m cryopick.services.<role> --host 127.0.0.1 --port 0
--project-root DIR`` for every role that has no ``CRYOPICK_<ROLE>_ADDRESS``, reads the
``LISTENING host:port`` line, waits for health SERVING, exports the addresses, and watches
the processes: a service that dies is restarted on the same port, so a task's retry finds
it again. Everything it started is stopped on exit (also on Ctrl-C or an error).

:func:`prefect_api` gives the flow a Prefect API: the configured ``PREFECT_API_URL`` if
there is one, else a temporary local server (Prefect's own ``SubprocessASGIServer``) whose
database lives in ``PREFECT_HOME``.

This module imports neither prefect nor grpc at import time: callers set ``PREFECT_HOME``
before anything imports prefect.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

from cryopick.services.runtime.launch import LaunchError, ServiceProcess
from cryopick.stages.registry import ROLES

def env_var(role: str) -> str:
    return f"CRYOPICK_{role.upper()}_ADDRESS"


class LocalServices:
    """Start, supervise and stop the services a flow needs (context manager).

    Parameters
    ----------
    project_root : path
        Passed as ``--project-root``; service logs go to ``<project>/.cryopick/logs/``.
    roles : sequence of str
        Roles to provide. Roles with ``CRYOPICK_<ROLE>_ADDRESS`` set are used as configured.
    supervise : bool
        Restart a service that dies, on the same port.
    """

    def __init__(self, project_root: str | os.PathLike, roles: Sequence[str] = ROLES, supervise: bool = True,
                 health_timeout_s: float = 120.0):
        self.project_root = Path(project_root).resolve()
        self.roles = tuple(roles)
        self.supervise = supervise
        self.health_timeout_s = health_timeout_s
        self.services: dict[str, ServiceProcess] = {}
        self.addresses: dict[str, str] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}
        self.events: list[str] = []

    def __enter__(self) -> "LocalServices":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        from cryopick.flows.client import wait_until_serving

        to_start = []
        for role in self.roles:
            configured = os.environ.get(env_var(role), "")
            if configured:
                self.addresses[role] = configured
            else:
                svc = ServiceProcess(role, self.project_root, self.project_root / ".cryopick" / "logs" / f"{role}.log")
                self.services[role] = svc
                to_start.append(svc)
        # start all, then wait: the services load their models in parallel
        self._errors: list[BaseException] = []
        starters = [threading.Thread(target=self._start_one, args=(svc,)) for svc in to_start]
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        if self._errors:
            raise self._errors[0]
        for role, svc in self.services.items():
            self.addresses[role] = svc.address
        for role, address in self.addresses.items():
            wait_until_serving(address, role, self.health_timeout_s)
        for role, address in self.addresses.items():
            self._saved_env.setdefault(env_var(role), os.environ.get(env_var(role)))
            os.environ[env_var(role)] = address
        if self.supervise and self.services:
            self._watcher = threading.Thread(target=self._watch, name="cryopick-service-supervisor", daemon=True)
            self._watcher.start()

    def _start_one(self, svc: ServiceProcess) -> None:
        try:
            svc.start()
        except BaseException as exc:  # re-raised in start()
            self._errors.append(exc)

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            for role, svc in self.services.items():
                if self._stop.is_set() or svc.alive():
                    continue
                code = svc.proc.returncode if svc.proc else None
                self.events.append(f"{role} service exited (code {code}); restarting on port {svc.port}")
                for attempt in range(20):
                    if self._stop.is_set():
                        return
                    try:
                        svc.start()
                        svc.restarts += 1
                        self.events.append(f"{role} service restarted on {svc.address}")
                        break
                    except LaunchError as exc:  # e.g. the port is not free yet
                        self.events.append(f"{role} restart attempt {attempt + 1} failed: {exc}")
                        time.sleep(0.5)

    def kill(self, role: str) -> int:
        """SIGKILL one service process (tests, chaos drills); the supervisor restarts it. Returns its pid."""
        svc = self.services[role]
        assert svc.proc is not None
        pid = svc.proc.pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        """Stop the supervisor and every service this object started; restore the environment."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        for svc in self.services.values():
            svc.stop()
        if self.services:
            from cryopick.flows.client import drop_channel

            for svc in self.services.values():
                drop_channel(svc.address, close=True)
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()


@contextlib.contextmanager
def prefect_api(prefect_home: str | os.PathLike | None = None, startup_timeout_s: int = 120) -> Iterator[str]:
    """A Prefect API for the flow; yields its URL.

    With ``PREFECT_API_URL`` set, that API is used as is. Otherwise a local server is started
    on 127.0.0.1 (its SQLite database in ``PREFECT_HOME``) and stopped on exit. Set
    ``PREFECT_HOME`` *before* prefect is imported (the caller's job; :func:`prepare_prefect_env`).
    """
    configured = os.environ.get("PREFECT_API_URL", "")
    if configured:
        yield configured
        return
    import prefect.settings
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=startup_timeout_s)
    try:
        with prefect.settings.temporary_settings(updates={prefect.settings.PREFECT_API_URL: server.api_url}):
            try:
                yield server.api_url
            finally:
                _drain_prefect_workers()
    finally:
        server.stop()


def _drain_prefect_workers() -> None:
    """Send the queued logs and events to the API before it goes away (else exit waits and complains)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        with contextlib.suppress(RuntimeError):
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())


def prepare_prefect_env(prefect_home: str | os.PathLike) -> None:
    """Environment for a local Prefect (call before importing prefect): home, no telemetry, quiet."""
    os.environ.setdefault("PREFECT_HOME", str(prefect_home))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
