"""Extraction speed: RELION 3.1 ``relion_preprocess`` vs ``python -m cryopick extract``, in one run.

Workload (as the tutorial's first extraction): ~1,000 particles on 10 micrographs of
1920×1856 px, box 256, invert contrast, normalise with background diameter 200,
rescale to 64. All programs are timed as whole processes (start-up, reading,
writing included), on the same inputs, with float32 output (RELION 3.1 cannot
write float16):

* ``relion_preprocess`` (one process) and ``mpirun -np 2 relion_preprocess_mpi``;
* ``cryopick extract --threads 2`` (and, for reference, ``--threads 1`` and ``--float16``).

The machine may be shared, so the programs are run in alternation, ``--repeats``
rounds, and both the best and the median wall time are reported with the ratios
(RELION / cryopick: above 1 means cryopick is faster) and the load average before
and after. The outputs are compared pixel for pixel as a sanity check.

Usage: ``python benchmarks/bench_extract.py [--n-mics 10] [--picks 100] [--repeats 7] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_compile  # noqa: E402

def build_inputs(root: Path, n_mics: int, picks: int, seed: int) -> tuple[str, str, str]:
    """Micrographs + coordinates; ``cryopick.sim`` if it works, else the extraction test generator."""
    try:
        from cryopick.io.coords import picks_columns, write_coordinate_list, write_coordinates
        from cryopick.io.jobdir import per_micrograph_output
        from cryopick.io.star import read_star
        from cryopick.sim.params import SimParams
        from cryopick.synthetic.project import simulate_project

        sim = simulate_project(SimParams(n_micrographs=n_mics, seed=seed, mic_size_px=(1920, 1856),
                                         particles_per_mic=picks), root)
        truth = read_star(sim.truth_star)["particles"]
        mics, files = [], []
        rng = np.random.default_rng(seed)
        for mic in sim.micrographs:
            rows = truth[truth["rlnMicrographName"] == mic]
            cf = per_micrograph_output("AutoPick/job006/", mic, "_autopick.star")
            x = rows["rlnCoordinateX"].to_numpy(float)
            write_coordinates(root / cf, picks_columns(x, rows["rlnCoordinateY"].to_numpy(float), rng.uniform(0, 3, len(x))))
            mics.append(mic)
            files.append(cf)
        write_coordinate_list(root / "AutoPick/job006/autopick.star", mics, files)
        mics_star = str(Path(sim.micrographs_star).relative_to(root)) if Path(sim.micrographs_star).is_absolute() else str(sim.micrographs_star)
        return mics_star, "AutoPick/job006/autopick.star", "cryopick.sim.simulate_project"
    except Exception as exc:  # the simulator is optional here
        print(f"(cryopick.sim unavailable: {exc!r}; using cryopick.synthetic.extraction)")
        shutil.rmtree(root, ignore_errors=True)
        from cryopick.synthetic.extraction import write_synthetic_project

        p = write_synthetic_project(root, n_micrographs=n_mics, shape=(1856, 1920), picks_per_micrograph=picks,
                                    seed=seed, pixel_size_angstrom=0.885)
        return p.micrographs_star, p.coords_star, "cryopick.synthetic.extraction"


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall time and CPU time (user + system of the child processes) of one run."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, r


def load() -> str:
    """The 1/5/15-minute load averages and the core count, as ``uptime`` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-mics", type=int, default=10)
    ap.add_argument("--picks", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7, help="rounds; every program runs once per round")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    byte_compile()  # whole-process timings without recompiling cryopick's sources (see common.py)

    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="bench_extract_"))
    work.mkdir(parents=True, exist_ok=True)
    mics_star, coords_star, source = build_inputs(work / "project", a.n_mics, a.picks, a.seed)
    root = work / "project"
    box, scale, bg_diam = 256, 64, 200
    bg_radius = int(bg_diam / 2 * scale / box)
    relion_args = ["--i", mics_star, "--coord_dir", "AutoPick/job006/", "--coord_suffix", "_autopick.star",
                   "--extract", "--extract_size", str(box), "--scale", str(scale), "--norm", "--bg_radius",
                   str(bg_radius), "--invert_contrast"]
    ours = [sys.executable, "-m", "cryopick", "extract", "--i", mics_star, "--coords", coords_star, "--box", str(box),
            "--invert", "--norm", "--bg-diameter", str(bg_diam), "--rescale", str(scale), "--quiet"]
    programs: dict[str, object] = {}
    relion1, relion_mpi, ours2 = "relion_preprocess (1 process)", "mpirun -np 2 relion_preprocess_mpi", \
        "cryopick extract --threads 2"
    if shutil.which("relion_preprocess"):
        programs[relion1] = lambda job: ["relion_preprocess", *relion_args, "--part_star", f"{job}particles.star",
                                         "--part_dir", job]
    if shutil.which("relion_preprocess_mpi") and shutil.which("mpirun"):
        mpi = ["mpirun", "-np", "2"]
        probe = subprocess.run(["mpirun", "--version"], capture_output=True, text=True)
        if "Open MPI" in probe.stdout + probe.stderr:
            mpi += ["--allow-run-as-root", "--oversubscribe"]
        programs[relion_mpi] = lambda job: [*mpi, "relion_preprocess_mpi", *relion_args, "--part_star",
                                            f"{job}particles.star", "--part_dir", job]
    programs[ours2] = lambda job: [*ours, "--threads", "2", "--no-float16", "--o", job]
    programs["cryopick extract --threads 1"] = lambda job: [*ours, "--threads", "1", "--no-float16", "--o", job]
    programs["cryopick extract --threads 2 --float16"] = lambda job: [*ours, "--threads", "2", "--float16", "--o", job]

    for old in (root / "Extract").glob("job*"):
        shutil.rmtree(old)
    walls: dict[str, list[float]] = {k: [] for k in programs}
    cpus: dict[str, list[float]] = {k: [] for k in programs}
    jobs: dict[str, str] = {}
    failed: set[str] = set()
    load_before = load()
    counter = 100
    for _ in range(a.repeats):
        for label, make_cmd in programs.items():
            if label in failed:
                continue
            job = f"Extract/job{counter:03d}/"
            counter += 1
            t, cpu, r = timed(make_cmd(job), root)
            if r.returncode != 0:
                print(f"{label}: failed (exit {r.returncode}): {r.stderr.strip()[-300:]}")
                failed.add(label)
                continue
            if label in jobs:  # keep one output per program (disk)
                shutil.rmtree(root / jobs[label], ignore_errors=True)
            walls[label].append(t)
            cpus[label].append(cpu)
            jobs[label] = job
    load_after = load()

    from cryopick.io.columns import n_rows, read_table

    n_parts = None
    if ours2 in jobs:
        n_parts = n_rows(read_table(root / jobs[ours2] / "particles.star", "particles"))
    print(f"\nExtraction benchmark: {a.n_mics} micrographs, {n_parts} particles, box {box} -> {scale}, "
          f"norm bg {bg_diam}, invert; inputs from {source}; {a.repeats} alternating rounds; {work}")
    print(f"  before: {load_before}\n  after:  {load_after}")
    print(f"  {'program':42s} {'best':>7s} {'median':>7s}   {'cpu':>6s}")
    for label in programs:
        if walls[label]:
            print(f"  {label:42s} {min(walls[label]):6.2f}s {statistics.median(walls[label]):6.2f}s   "
                  f"{statistics.median(cpus[label]):5.2f}s")
    print("  ratios, RELION wall / cryopick wall (> 1: cryopick faster), best (median):")
    for ref in (relion1, relion_mpi):
        for label in programs:
            if label.startswith("cryopick") and walls[label] and walls.get(ref):
                best = min(walls[ref]) / min(walls[label])
                med = statistics.median(walls[ref]) / statistics.median(walls[label])
                print(f"    {ref:36s} / {label:40s} {best:5.2f}x ({med:5.2f}x)")
    if relion1 in jobs and ours2 in jobs:
        import mrcfile

        worst = 0.0
        for f in sorted((root / jobs[relion1]).rglob("*.mrcs")):
            g = root / jobs[ours2] / f.relative_to(root / jobs[relion1])
            worst = max(worst, float(np.abs(mrcfile.read(f) - mrcfile.read(g)).max()))
        print(f"  max |cryopick - RELION| over all particle pixels: {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
