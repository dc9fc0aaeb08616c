"""Run a cryopick service whose atomic writes are slowed down (a test helper, not a test module).

``python slow_writes_service.py <role> <service arguments...>`` installs a delay of
``CRYOPICK_TEST_WRITE_DELAY_S`` seconds (default 0.03) between writing each output's temporary
file and renaming it onto its final name, then runs ``python -m cryopick.services.<role>``.
The outputs are exactly those of the ordinary service; only each job lasts longer and has a
moment per output file at which a kill leaves a written temporary file behind, so the fault
injection tests (``test_fault_injection.py``) can kill a service at chosen points inside a job
instead of racing a job that takes a few milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import time


def install(delay_s: float) -> None:
    """Slow down :func:`cryopick.io.atomic.atomic_path` (before any module imports it by name)."""
    import cryopick.io.atomic as atomic

    original = atomic.atomic_path

    @contextlib.contextmanager
    def slow_atomic_path(path):
        with original(path) as tmp:
            yield tmp
            time.sleep(delay_s)  # the temporary file is written and waits for its rename

    atomic.atomic_path = slow_atomic_path


def main() -> None:
    role, args = sys.argv[1], sys.argv[2:]
    install(float(os.environ.get("CRYOPICK_TEST_WRITE_DELAY_S", "0.03")))
    module = f"cryopick.services.{role}"
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
