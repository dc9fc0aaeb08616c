"""Run a service as a local subprocess: ``python -m cryopick.services.<role>``, supervised by its caller.

:class:`ServiceProcess` starts the process, reads its ``LISTENING host:port`` line and keeps its
port across restarts (``cryopick.flows.launch.LocalServices`` supervises several of them).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryopick.stages.registry import ROLES


class LaunchError(RuntimeError):
    """A service could not be started."""


@dataclass
class ServiceProcess:
    """One service subprocess (and the port it keeps across restarts).

    Attributes
    ----------
    role : str
    project_root : Path
    log_path : Path
        The service's stderr (appended across restarts).
    port : int
        0 until the first start; then fixed.
    restarts : int
        How many times the supervisor restarted it.
    """

    role: str
    project_root: Path
    log_path: Path
    host: str = "127.0.0.1"
    port: int = 0
    startup_timeout_s: float = 120.0
    restarts: int = 0
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    extra_args: tuple[str, ...] = ()

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", f"cryopick.services.{self.role}",
            "--host", self.host, "--port", str(self.port), "--project-root", str(self.project_root),
            "--exit-with-parent", *self.extra_args,
        ]

    def start(self) -> None:
        """Start the process and wait for its ``LISTENING host:port`` line."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"\n==== {time.ctime()}: {' '.join(self.command())}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal goes to us; we stop the services ourselves
        )
        log.close()
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream) -> None:  # keep draining stdout so the service never blocks on it
            for raw in iter(stream.readline, b""):
                lines.put(raw.decode(errors="replace").strip())
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            try:
                line = lines.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
                if time.monotonic() > deadline:
                    self.stop()
                    raise LaunchError(f"{self.role} service did not report LISTENING within {self.startup_timeout_s:.0f} s; see {self.log_path}")
            if line is None:
                code = self.proc.wait()
                raise LaunchError(f"{self.role} service exited with code {code} before listening; see {self.log_path}")
            if line.startswith("LISTENING "):
                host, _, port = line.split()[1].rpartition(":")
                self.host, self.port = host or self.host, int(port)
                return

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL. Returns the exit code (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


def start_local_service(
    role: str,
    project_root: str | os.PathLike,
    log_path: str | os.PathLike | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 60.0,
) -> ServiceProcess:
    """Start one service on 127.0.0.1 and a free port; returns it once it is listening.

    Raises
    ------
    ValueError
        ``role`` is not a service role.
    LaunchError
        It exited or did not report LISTENING within ``timeout`` seconds.
    """
    if role not in ROLES:
        raise ValueError(f"unknown service role {role!r}; expected one of {', '.join(ROLES)}")
    root = Path(project_root)
    log = Path(log_path) if log_path is not None else root / ".cryopick" / "logs" / f"{role}.log"
    service = ServiceProcess(role, root, log, startup_timeout_s=timeout, extra_args=tuple(extra_args))
    service.start()
    return service
