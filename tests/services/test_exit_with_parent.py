"""A service started by `cryopick run` (``--exit-with-parent``) stops when its parent dies, even by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_PARENT = """
import sys, time
from cryopick.services.runtime.launch import start_local_service
service = start_local_service("picker", sys.argv[1], log_path=sys.argv[2])
print(service.proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


def test_a_service_stops_when_the_process_that_started_it_is_killed(project: Path, tmp_path: Path):
    log = tmp_path / "picker.log"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(project), str(log)], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    try:
        assert _alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "the service outlived the process that started it"
        assert "is gone; stopping" in log.read_text() and "picker service stopped" in log.read_text()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
