"""RELION's pipeline lock when its holder is SIGKILLed (issue 11, fault injection): a dead cryopick holder's
lock is removed at once, with its half-written pipeline; a live holder's lock and RELION's are waited for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cryopick.errors import ResourceError
from cryopick.io.pipeline import LOCK_DIR, LOCK_FILE, ORPHAN_LOCK_AGE_S, pipeline_lock, read_pipeline, register_job

HOLD = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from cryopick.io.pipeline import pipeline_lock
    root = Path(sys.argv[1])
    with pipeline_lock(root):
        (root / f".default_pipeline.star.tmp{os.getpid()}").write_text("data_pipeline_general\\n_rlnPipeLineJobCou")
        print("HOLDING", flush=True)
        if sys.argv[2] == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)
""")


def _holder(root: Path, how: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), how], stdout=subprocess.PIPE, text=True)
    if how == "die":
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.stdout.readline().strip() == "HOLDING"
    assert (root / LOCK_DIR / LOCK_FILE).read_bytes().startswith(b"cryopick pid ")
    return proc


def test_the_lock_of_a_killed_holder_is_removed_at_once(tmp_path):
    _holder(tmp_path, "die")
    assert list(tmp_path.glob(".default_pipeline.star.tmp*"))  # what it was writing
    t0 = time.monotonic()
    register_job(tmp_path, "AutoPick/job004/", "relion.autopick.log", "Running")
    assert time.monotonic() - t0 < 5  # not the 60 s timeout
    assert ("AutoPick/job004/", "None", "relion.autopick.log", "Running") in read_pipeline(tmp_path).processes
    assert not (tmp_path / LOCK_DIR).exists()
    assert not list(tmp_path.glob(".default_pipeline.star.tmp*"))


def test_a_live_holders_lock_is_waited_for(tmp_path):
    proc = _holder(tmp_path, "hold")
    try:
        with pytest.raises(ResourceError, match=f"held by cryopick pid {proc.pid} on "):
            with pipeline_lock(tmp_path, timeout_s=0.6):
                pass
        assert (tmp_path / LOCK_DIR / LOCK_FILE).exists()
    finally:
        proc.kill()
        proc.wait()
    with pipeline_lock(tmp_path, timeout_s=5):  # and taken once its holder is gone
        pass


def test_relions_lock_is_never_broken(tmp_path):
    (tmp_path / LOCK_DIR).mkdir()
    (tmp_path / LOCK_DIR / LOCK_FILE).write_text("lock mechanism from Sjors Scheres\n")
    with pytest.raises(ResourceError, match="remove it if stale"):
        with pipeline_lock(tmp_path, timeout_s=0.5):
            pass
    assert (tmp_path / LOCK_DIR / LOCK_FILE).exists()


def test_an_empty_lock_directory_is_removed_only_when_old(tmp_path):
    lock = tmp_path / LOCK_DIR
    lock.mkdir()
    with pytest.raises(ResourceError):  # a holder between mkdir and creating its file: wait
        with pipeline_lock(tmp_path, timeout_s=0.5):
            pass
    old = time.time() - ORPHAN_LOCK_AGE_S - 5
    os.utime(lock, (old, old))  # its holder was killed right after mkdir
    with pipeline_lock(tmp_path, timeout_s=5):
        pass
    assert not lock.exists()
