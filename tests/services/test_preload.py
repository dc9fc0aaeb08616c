"""A role's stage modules are imported when the service starts, before it reports SERVING."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys, tempfile
from cryopick.services.picker.servicer import ROLE
from cryopick.services.runtime.server import Role, Service
import dataclasses
role = dataclasses.replace(ROLE, stages=ROLE.stages + ("cryopick.stages.no_such_stage",))
before = "cryopick.stages.autopick_log" in sys.modules
service = Service(role, tempfile.mkdtemp())
service.start()
after = "cryopick.stages.autopick_log" in sys.modules
service.stop(grace_seconds=0, worker_timeout=5)
print(before, after)
"""


def test_stage_modules_are_preloaded_and_a_missing_one_does_not_stop_the_service():
    from cryopick.services.picker.servicer import ROLE

    assert "cryopick.stages.autopick_log" in ROLE.stages
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]
