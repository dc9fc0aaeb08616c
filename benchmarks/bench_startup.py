"""Start-up cost of the modules cryopick imports only inside functions, and of its commands.

cryopick imports a module at function level only when its import is expensive: this script
measures each of :data:`MEASURED` in a fresh interpreter that has already imported numpy (every
cryopick process has), so the figure is what a lazy import saves a command that never needs
the module. ``tests/test_layering.py`` fails on a function-level import of anything not listed
here (or of a cryopick module that does not import one of these at its top). Measured and
dropped from this list, so imported at the top: mrcfile (about 5 ms after numpy), yaml (9 ms),
threadpoolctl (2 ms).

It also times the light commands as whole processes: ``python -c pass``, ``import cryopick.cli``
and ``cryopick --help``.

Usage: ``python benchmarks/bench_startup.py [--repeat 7]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_compile  # noqa: E402

#: Modules imported lazily somewhere in src/, flows/ or services/ (see the module docstring).
MEASURED = (
    "pandas",
    "scipy.special",
    "matplotlib.pyplot",
    "torch",
    "topaz",
    "prefect",
    "grpc",
    "starfile",
)


def import_seconds(module: str, repeat: int) -> float | None:
    """Median wall time of ``import module`` in a fresh interpreter after ``import numpy``; None if missing."""
    code = (
        "import time, numpy; t = time.perf_counter()\n"
        f"import {module}\n"
        "print(time.perf_counter() - t)"
    )
    runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if proc.returncode != 0:
            return None
        runs.append(float(proc.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def process_seconds(args: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    a = parser.parse_args()
    byte_compile()  # whole-process timings without recompiling cryopick's sources (see common.py)
    print(f"import cost after numpy, median of {a.repeat} fresh interpreters (what a lazy import saves):")
    for module in MEASURED:
        t = import_seconds(module, a.repeat)
        print(f"  {module:<20} " + ("not installed" if t is None else f"{1000 * t:8.1f} ms"))
    print("whole processes:")
    for label, args in (("python -c pass", ["-c", "pass"]), ("import numpy", ["-c", "import numpy"]),
                        ("import cryopick.cli", ["-c", "import cryopick.cli"]),
                        ("cryopick --help", ["-m", "cryopick", "--help"])):
        print(f"  {label:<20} {1000 * process_seconds(args, a.repeat):8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
