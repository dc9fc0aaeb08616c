"""Start a service as a local subprocess and learn its address from its ``LISTENING host:port`` line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

ROLES = ("picker", "extractor", "classifier", "ranker", "topaz")


@dataclass
class LocalService:
    """A service subprocess.

    Attributes
    ----------
    role : str
    address : str
        ``host:port`` to give ``grpc.insecure_channel``.
    process : subprocess.Popen
    """

    role: str
    address: str
    process: subprocess.Popen

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (graceful shutdown) and wait; SIGKILL after ``timeout``. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode


def start_local_service(
    role: str,
    project_root: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 0,
    extra_args: tuple[str, ...] = (),
    log_path: str | os.PathLike | None = None,
    timeout: float = 60.0,
) -> LocalService:
    """Run ``python -m cryopick.services.<role>`` and wait for its ``LISTENING`` line.

    Parameters
    ----------
    role : str
        One of :data:`ROLES`.
    log_path : path, optional
        Append the service's log (stderr) here; default: inherit this process's stderr.

    Raises
    ------
    RuntimeError
        The service exited or did not report LISTENING within ``timeout`` seconds.
    """
    if role not in ROLES:
        raise ValueError(f"unknown service role {role!r}; expected one of {', '.join(ROLES)}")
    cmd = [sys.executable, "-m", f"cryopick.services.{role}", "--host", host, "--port", str(port),
           "--project-root", str(Path(project_root)), *extra_args]
    log_file = open(log_path, "ab") if log_path is not None else None
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log_file, text=True)
    finally:
        if log_file is not None:
            log_file.close()
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("LISTENING "):
                found.append(line.split(None, 1)[1].strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{role} service did not start (exit code {proc.returncode}): {' '.join(cmd)}")
    return LocalService(role, found[0], proc)
