"""LoG auto-picking: cryopick vs RELION 3.1 on the same 2 cores, same micrographs, one run.

Simulates a tutorial-sized subset (10 micrographs of 1920x1856 px at 1.77 A/px, ~100
particles of ~170 A each, with ice, carbon and aggregates), then times whole processes:

* RELION: ``mpirun -np 2 relion_autopick_mpi --LoG ...`` (the GUI's command, 2 MPI ranks)
  and, for reference, ``relion_autopick`` with one process;
* cryopick: ``python -m cryopick autopick-log ... --threads 2`` (includes Python start-up).

Each is run ``--repeats`` times alternately and the median is reported, with the ratio,
the agreement of the picks, and both F1 scores against the simulator's ground truth.

Usage: python benchmarks/bench_autopick_log.py [--workdir bench_out/autopick] [--repeats 3] [--n-mics 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_compile, fresh, median_of, mpi_env, require, timed  # noqa: E402

from cryopick.io.coords import read_coordinates, write_coordinate_list  # noqa: E402
from cryopick.io.jobdir import per_micrograph_output  # noqa: E402
from cryopick.io.optics import read_micrograph_list  # noqa: E402
from cryopick.scoring import score_pick_files  # noqa: E402
from cryopick.synthetic.project import preset, simulate_project  # noqa: E402

MICS = "CtfFind/job003/micrographs_ctf.star"
DMIN, DMAX, MAXRES = 150, 180, 20


def relion_cmd(job: str, mpi: bool) -> list[str]:
    base = ["relion_autopick_mpi" if mpi else "relion_autopick", "--i", MICS, "--odir", job, "--pickname", "autopick",
            "--LoG", "--LoG_diam_min", str(DMIN), "--LoG_diam_max", str(DMAX), "--shrink", "0",
            "--lowpass", str(MAXRES), "--LoG_adjust_threshold", "0"]
    return ["mpirun", "-np", "2", *base] if mpi else base


def cryopick_cmd(job: str) -> list[str]:
    return [sys.executable, "-m", "cryopick", "autopick-log", "--i", MICS, "--o", job, "--diam-min", str(DMIN),
            "--diam-max", str(DMAX), "--maxres", str(MAXRES), "--threshold", "0", "--threads", "2", "--quiet"]


def agreement(root: Path, names: list[str], job_a: str, job_b: str) -> tuple[int, int, float, float]:
    """(picks A, picks B, max |dxy| px, max |dFOM|) over micrographs where counts agree."""
    na = nb = 0
    dxy = dfom = 0.0
    for name in names:
        a = read_coordinates(root / per_micrograph_output(job_a, name, "_autopick.star"))
        b = read_coordinates(root / per_micrograph_output(job_b, name, "_autopick.star"))
        la, lb = len(a["rlnCoordinateX"]), len(b["rlnCoordinateX"])
        na, nb = na + la, nb + lb
        if la == lb and la:
            dxy = max(dxy, float(max(np.abs(a[c] - b[c]).max() for c in ("rlnCoordinateX", "rlnCoordinateY"))))
            dfom = max(dfom, float(np.abs(a["rlnAutopickFigureOfMerit"] - b["rlnAutopickFigureOfMerit"]).max()))
    return na, nb, dxy, dfom


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="bench_out/autopick")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-mics", type=int, default=10)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    byte_compile()  # whole-process timings without recompiling cryopick's sources (see common.py)
    require("relion_autopick_mpi")
    root = Path(args.workdir).resolve()
    fresh(root)
    params = dataclasses.replace(preset("tutorial"), n_micrographs=args.n_mics, seed=args.seed)
    print(f"simulating {args.n_mics} micrographs of {params.mic_size_px[0]}x{params.mic_size_px[1]} px ...", flush=True)
    simulate_project(params, root)
    names, _ = read_micrograph_list(root / MICS)

    env = mpi_env()
    t_relion, t_relion1, t_ours = [], [], []
    for k in range(args.repeats):
        for job in ("AutoPick/job101/", "AutoPick/job102/", "AutoPick/job103/"):
            fresh(root / job)
        t_relion.append(timed(relion_cmd("AutoPick/job101/", mpi=True), root, env))
        t_ours.append(timed(cryopick_cmd("AutoPick/job102/"), root))
        t_relion1.append(timed(relion_cmd("AutoPick/job103/", mpi=False), root))
    # RELION 3.1 writes no autopick.star: list its coordinate files for scoring
    write_coordinate_list(root / "AutoPick/job101/autopick.star", names,
                          [per_micrograph_output("AutoPick/job101/", n, "_autopick.star") for n in names])
    truth = root / "GroundTruth/particles.star"
    f1_relion = score_pick_files(truth, root / "AutoPick/job101/autopick.star", root).f1
    f1_ours = score_pick_files(truth, root / "AutoPick/job102/autopick.star", root).f1
    n_rel, n_ours, dxy, dfom = agreement(root, names, "AutoPick/job101/", "AutoPick/job102/")

    r, r1, o = median_of(t_relion), median_of(t_relion1), median_of(t_ours)
    print()
    print(f"LoG auto-picking, {len(names)} micrographs of {params.mic_size_px[0]}x{params.mic_size_px[1]} px, "
          f"diameters {DMIN}-{DMAX} A, maxres {MAXRES} A, 2 cores, median of {args.repeats} whole-process runs")
    print(f"  RELION 3.1 mpirun -np 2 relion_autopick_mpi : {r:7.3f} s   picks {n_rel:6d}   F1 {f1_relion:.3f}")
    print(f"  RELION 3.1 relion_autopick (1 process)      : {r1:7.3f} s")
    print(f"  cryopick autopick-log --threads 2           : {o:7.3f} s   picks {n_ours:6d}   F1 {f1_ours:.3f}")
    print(f"  speed-up vs RELION (2 MPI ranks)            : {r / o:7.2f}x")
    print(f"  speed-up vs RELION (1 process)              : {r1 / o:7.2f}x")
    print(f"  agreement: max |dx,dy| {dxy:.2e} px, max |dFOM| {dfom:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
