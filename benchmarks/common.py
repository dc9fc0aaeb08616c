"""Shared helpers for the side-by-side benchmarks (timing whole processes, RELION's MPI)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def mpi_env() -> dict[str, str]:
    """Environment that lets Open MPI run as root (as on CI machines)."""
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall time (s) of one whole process; raises with its output if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return dt


def per_call(fn, repeat: int, summary=statistics.median) -> float:
    """Wall time (s) of one call of ``fn`` in this process: ``summary`` (median, or e.g. ``min``) of
    ``repeat`` calls after one warm-up call."""
    fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return summary(runs)


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def require(binary: str) -> None:
    if shutil.which(binary) is None:
        sys.exit(f"{binary} not found: install RELION 3.1 (apt-get install relion) to run this benchmark")


def fresh(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def byte_compile() -> None:
    """Compile cryopick's sources to bytecode once, as ``pip install`` does.

    Whole-process timings must not include compiling cryopick's modules at every start, which
    happens where ``PYTHONDONTWRITEBYTECODE`` is set (as on these machines) and nothing wrote
    the ``.pyc`` files before.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("cryopick")
    roots = {Path(p) for p in spec.submodule_search_locations}
    for name in ("cryopick.flows", "cryopick.services"):
        found = importlib.util.find_spec(name)
        if found is not None and found.submodule_search_locations:
            roots |= {Path(p) for p in found.submodule_search_locations}
    for root in roots:
        compileall.compile_dir(root, quiet=1)
