"""A flow process SIGKILLed while it allocates a job directory (issue 11, fault injection): the run after it
finds the directory again (or the number again), never leaving an empty job directory nothing claims."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

#: Allocate a job directory for key "k", dying at the given point (``python -c`` with project root and point).
ALLOCATE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import cryopick.flows.jobs as jobs
    import cryopick.io.pipeline as pipeline
    root, point = Path(sys.argv[1]), sys.argv[2]
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if point == "after-record":  # the key's record written, the directory not yet made
        real = jobs.write_text_atomic
        jobs.write_text_atomic = lambda *a, **k: (real(*a, **k), die())
    elif point == "after-mkdir":  # the directory made, the pipeline's counter not yet written (lock held)
        pipeline.write_pipeline = die
    jobs.job_dir_for(root, "Class2D", "k")
""")


@pytest.mark.parametrize("point, reused", [("after-record", False), ("after-mkdir", True)])
def test_a_flow_killed_while_allocating_leaves_no_orphan(tmp_path, point, reused):
    from cryopick.flows.jobs import job_dir_for
    from cryopick.io.pipeline import LOCK_DIR, read_pipeline

    (tmp_path / "CtfFind/job003").mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-c", ALLOCATE, str(tmp_path), point], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert job_dir_for(tmp_path, "Class2D", "k") == ("Class2D/job004/", reused)
    assert job_dir_for(tmp_path, "Extract", "other") == ("Extract/job005/", False)
    assert sorted(p.name for p in (tmp_path / "Class2D").iterdir()) == ["job004"]
    assert read_pipeline(tmp_path).job_counter == 6
    assert not (tmp_path / LOCK_DIR).exists()
