"""One facility run per project at a time, without a lock that a dead run can leave behind.

Prefect's deployment concurrency limit counts runs in state Running. A run whose process is
killed (its worker stopped with SIGTERM, the machine lost) stays Running on the server, and
holds its slot for ever: every later run of the deployment then waits, or with ``CANCEL_NEW``
is cancelled, until someone edits the state by hand (seen: a worker stopped during Class2D left
its run Running and the next run AwaitingConcurrencySlot). So the deployments have no such limit.
Runs of one project are safe together anyway (they share each job, :func:`cryopick.flows.jobs.claimed_job`);
the facility flow only avoids starting a second pass over the same new micrographs while one is
going, with an ``flock`` on ``<project>/.cryopick/facility/run.lock``, which the kernel drops when
its holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

RUN_LOCK = ".cryopick/facility/run.lock"


@contextlib.contextmanager
def exclusive_run(project_dir: str | os.PathLike) -> Iterator[bool]:
    """Try to hold the project's facility run lock: yields True if held, False if another live run holds it."""
    path = Path(project_dir) / RUN_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            handle.truncate(0)
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
