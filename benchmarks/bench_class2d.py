"""2D classification: RELION 3.1 ``relion_refine`` vs ``cryopick class2d``, same particles, same 2 cores, one run.

Workload (the tutorial's first 2D classification, on a simulated project): ``cryopick simulate
--preset tutorial`` (1920×1856 px micrographs at 1.77 Å/px, one asymmetric 3D model, carbon
edges, ice and aggregates), LoG picking at 150–180 Å, extraction in a 226 Å box rescaled to
64 px (3.54 Å/px, the tutorial's), float32 (RELION 3.1 cannot read float16). Then, with the
tutorial's Class2D settings (50 classes, T = 2, 25 EM iterations, 200 Å mask with zeros, CTF,
6° / 5 px / 1 px sampling, i.e. ``relion_refine --psi_step 12 --offset_step 2``):

* ``relion_refine --j 2`` (RELION 3.1 has no ``--center_classes``; it is left out) and
* ``python -m cryopick class2d --threads 2 --center-classes``,

each timed as a whole process (wall time, peak resident memory from ``wait4``). The class
averages of the last iteration are then scored against the truth the simulator knows:

* each class average is aligned to the 3D model's projections (:mod:`cryopick.class_metrics`: a
  coarse search over 500 directions × 5° × shifts on 2×-binned images, then an analytic
  refinement); **NCC** is the normalised cross-correlation inside the mask at 20 Å, and a class
  **matches** the particle when its NCC is at least ``--match-ncc`` (0.85);
* **FRC** between each matching class average and its fitted projection gives a resolution
  (FRC = 0.5); the particle-weighted median over matching classes and the best class are printed;
* each picked particle is labelled by the simulator's truth: a true particle (within 0.3 ×
  diameter of one), junk (carbon edge: the micrograph's carbon side; ice or aggregate: within
  its radius), or background; the table shows which fraction of each label sits in matching
  classes, and the fraction of all particles that does.

Scaling: cryopick alone on the same particles listed repeatedly (the same images, so the work
per particle is the same) up to 1k, 5k and 20k particles, ``--scaling-iter`` iterations each:
wall time, time per particle-iteration and peak memory.

Usage: ``python benchmarks/bench_class2d.py [--n-mics 10] [--iter 25] [--classes 50]
[--scaling 1000,5000,20000] [--scaling-iter 10] [--skip-relion] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_compile, require  # noqa: E402

PIXEL_MIC = 1.77
BOX, RESCALE, BG = 128, 64, 100          # 226 Å box at 3.54 Å/px, background circle 177 Å
MASK_ANGSTROM = 200.0


@dataclass
class Run:
    name: str
    wall_s: float
    peak_mib: float
    job: Path


def sh(cmd: list[str], cwd: Path) -> None:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def measured(cmd: list[str], cwd: Path, log: Path) -> tuple[float, float]:
    """Run a whole process; (wall seconds, peak RSS in MiB of it and its children)."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"failed ({log}): {' '.join(cmd)}\n{log.read_text()[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0


def build_project(root: Path, n_mics: int, seed: int) -> str:
    py = [sys.executable, "-m", "cryopick"]
    sh(py + ["simulate", "--o", str(root), "--preset", "tutorial", "--n-mics", str(n_mics), "--seed", str(seed)], root.parent)
    sh(py + ["autopick-log", "--i", "CtfFind/job003/micrographs_ctf.star", "--o", "AutoPick/job004/", "--diam-min", "150",
             "--diam-max", "180", "--maxres", "20", "--upper-threshold", "5", "--threads", "2", "--quiet"], root)
    sh(py + ["extract", "--i", "CtfFind/job003/micrographs_ctf.star", "--coords", "AutoPick/job004/autopick.star",
             "--o", "Extract/job005/", "--box", str(BOX), "--bg-diameter", str(BG), "--rescale", str(RESCALE),
             "--no-float16", "--threads", "2", "--quiet"], root)
    return "Extract/job005/particles.star"


def class2d_options(classes: int, iterations: int) -> dict:
    return dict(nr_classes=classes, tau2_fudge=2.0, nr_iter=iterations, mask_diameter_angstrom=MASK_ANGSTROM,
                zero_mask=True, center_classes=True, ctf=True, psi_step_degrees=6.0, offset_range_px=5.0,
                offset_step_px=1.0, threads=2)


def run_relion(root: Path, star: str, classes: int, iterations: int) -> Run:
    from cryopick.stages import class2d

    job = "Class2D/job006/"
    (root / job).mkdir(parents=True, exist_ok=True)
    args = class2d.relion_arguments(class2d.Params(particles_star=star, **class2d_options(classes, iterations)), job)
    args = [a for a in args if a != "--center_classes"]          # not an option of RELION 3.1
    wall, peak = measured(["relion_refine", *args], root, root / job / "bench.log")
    return Run("RELION 3.1 relion_refine --j 2", wall, peak, root / job)


def run_cryopick(root: Path, star: str, classes: int, iterations: int, job: str, log_name: str = "bench.log") -> Run:
    cmd = [sys.executable, "-m", "cryopick", "class2d", "--i", star, "--o", job, "--classes", str(classes),
           "--tau2-fudge", "2", "--iter", str(iterations), "--mask-diameter", f"{MASK_ANGSTROM:g}", "--zero-mask",
           "--center-classes", "--ctf", "--psi-step", "6", "--offset-range", "5", "--offset-step", "1",
           "--threads", "2", "--device", "cpu", "--quiet"]
    (root / job).mkdir(parents=True, exist_ok=True)
    log = root.parent / f"{job.strip('/').replace('/', '_')}_{log_name}"
    wall, peak = measured(cmd, root, log)
    return Run("cryopick class2d --threads 2", wall, peak, root / job)


# ---- truth


def particle_labels(root: Path, star: str, diameter_angstrom: float) -> np.ndarray:
    """'particle', 'carbon', 'ice', 'aggregate' or 'background' for each particle of ``star``."""
    from cryopick.io.star import read_star

    parts = read_star(root / star)["particles"]
    truth = read_star(root / "GroundTruth/particles.star")["particles"]
    junk = read_star(root / "GroundTruth/junk.star")["junk"]
    labels = np.full(len(parts), "background", dtype=object)
    for mic, rows in parts.groupby("rlnMicrographName"):
        xy = rows[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(float)
        t = truth[truth["rlnMicrographName"] == mic][["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(float)
        j = junk[junk["rlnMicrographName"] == mic]
        for i, (x, y) in zip(rows.index, xy, strict=True):
            if len(t) and np.min(np.hypot(t[:, 0] - x, t[:, 1] - y)) * PIXEL_MIC <= 0.3 * diameter_angstrom:
                labels[i] = "particle"
                continue
            for _, r in j.iterrows():
                kind = str(r["cryopickJunkKind"])
                d = np.hypot(float(r["rlnCoordinateX"]) - x, float(r["rlnCoordinateY"]) - y) * PIXEL_MIC
                if kind == "carbon" or d <= float(r["cryopickJunkRadiusAngstrom"]):
                    labels[i] = kind if kind != "carbon" else _carbon_side(r, x, y, diameter_angstrom)
                    if labels[i] != "background":
                        break
    return labels


def _carbon_side(row, x: float, y: float, diameter_angstrom: float) -> str:
    """A carbon row: the edge passes through (x0, y0), its normal at rlnAnglePsi points into the carbon.

    Picks on the carbon or within half a particle diameter of its edge are 'carbon'.
    """
    a = np.deg2rad(float(row["rlnAnglePsi"]))
    side = (x - float(row["rlnCoordinateX"])) * np.cos(a) + (y - float(row["rlnCoordinateY"])) * np.sin(a)
    return "carbon" if side * PIXEL_MIC >= -0.5 * diameter_angstrom else "background"


@dataclass
class Quality:
    ncc: np.ndarray            # (K,) best NCC after alignment (NaN for empty classes)
    resolution: np.ndarray     # (K,) FRC-0.5 resolution vs the fitted projection (inf if none)
    klass: np.ndarray          # (n,) 0-based class of each particle
    populated: np.ndarray      # (K,) bool


def class_quality(job: Path, root: Path, pixel: float, diameter: float, model_seed: int, n_directions: int = 500,
                  refine_from: float = 0.5) -> Quality:
    from cryopick.class_metrics import (
        fibonacci_directions,
        frc,
        frc_resolution,
        match_classes,
        refine_fit,
    )
    from cryopick.io.mrc import read_mrc
    from cryopick.io.star import read_star, split_image_name
    from cryopick.sim.density import euler_matrix, make_particle_models, project

    last = sorted(job.glob("run_it[0-9][0-9][0-9]_model.star"))[-1]
    classes_t = read_star(last)["model_classes"]
    stack = read_mrc(root / split_image_name(str(classes_t["rlnReferenceImage"].iloc[0]))[1])
    images = np.asarray(stack, dtype=np.float32).reshape(-1, stack.shape[-2], stack.shape[-1])
    data = read_star(Path(str(last).replace("_model.star", "_data.star")))["particles"]
    klass = data["rlnClassNumber"].to_numpy(int) - 1
    k, box = images.shape[0], images.shape[-1]
    populated = np.bincount(klass, minlength=k) > 0
    model = make_particle_models(diameter, 1, model_seed)[0]
    dirs = fibonacci_directions(n_directions)
    library = np.stack([project(model, (r, t, 0.0), pixel, box) for r, t in dirs])
    radius = MASK_ANGSTROM / (2 * pixel)
    coarse = match_classes(images, library, pixel, radius)
    ncc = np.where(populated, coarse.ncc, np.nan)
    resolution = np.full(k, np.inf)
    for c in np.flatnonzero(populated & (coarse.ncc >= refine_from)):
        r, t = dirs[coarse.projection[c]]
        fit = refine_fit(images[c], model, euler_matrix(r, t, -coarse.psi_deg[c]), pixel, radius)
        ncc[c] = fit.ncc
        resolution[c] = frc_resolution(frc(images[c], fit.projection), pixel)
    return Quality(ncc, resolution, klass, populated)


def summarise(run: Run, q: Quality, labels: np.ndarray, threshold: float) -> dict:
    matched = q.populated & (q.ncc >= threshold)
    in_matched = matched[q.klass]
    counts = np.bincount(q.klass, minlength=len(q.ncc))
    out = {"run": run, "matched_classes": int(matched.sum()), "populated": int(q.populated.sum()),
           "fraction_matched": float(in_matched.mean())}
    for label in ("particle", "carbon", "ice", "aggregate", "background"):
        sel = labels == label
        out[label] = (int(sel.sum()), float(in_matched[sel].mean()) if sel.any() else float("nan"))
    res = q.resolution[matched]
    weights = counts[matched]
    if res.size:
        order = np.argsort(res)
        cum = np.cumsum(weights[order])
        out["resolution_median"] = float(res[order][np.searchsorted(cum, 0.5 * cum[-1])])
        out["resolution_best"] = float(res.min())
        out["ncc_median"] = float(np.median(q.ncc[matched]))
    else:
        out["resolution_median"] = out["resolution_best"] = out["ncc_median"] = float("nan")
    # junk classes: populated classes that do not match, and how pure they are in junk
    junk = np.isin(labels, ["carbon", "ice", "aggregate"])
    bad = q.populated & ~matched
    out["junk_classes"] = int(bad.sum())
    out["junk_in_junk_classes"] = float((~in_matched[junk]).mean()) if junk.any() else float("nan")
    out["particles_in_junk_classes"] = int(((labels == "particle") & ~in_matched).sum())
    return out


def print_quality(rows: list[dict], threshold: float, n: int) -> None:
    print(f"\nClass averages vs the model's projections (NCC at 20 Å inside the {MASK_ANGSTROM:g} Å mask; "
          f"a class matches at NCC ≥ {threshold:g}); {n} particles:")
    head = f"{'':34s}" + "".join(f"{r['run'].name[:30]:>32s}" for r in rows)
    print(head)

    def line(label: str, values: list[str]) -> None:
        print(f"{label:34s}" + "".join(f"{v:>32s}" for v in values))

    line("wall time", [f"{r['run'].wall_s:.1f} s" for r in rows])
    line("peak memory", [f"{r['run'].peak_mib:.0f} MiB" for r in rows])
    line("populated / matching classes", [f"{r['populated']} / {r['matched_classes']}" for r in rows])
    line("particles in matching classes", [f"{100 * r['fraction_matched']:.1f} %" for r in rows])
    for label in ("particle", "carbon", "ice", "aggregate", "background"):
        line(f"  {label} picks in matching classes", [f"{100 * r[label][1]:.1f} % of {r[label][0]}" for r in rows])
    line("junk picks outside matching classes", [f"{100 * r['junk_in_junk_classes']:.1f} %" for r in rows])
    line("median NCC of matching classes", [f"{r['ncc_median']:.3f}" for r in rows])
    line("resolution (FRC 0.5), weighted median", [f"{r['resolution_median']:.1f} Å" for r in rows])
    line("resolution (FRC 0.5), best class", [f"{r['resolution_best']:.1f} Å" for r in rows])


def repeated_star(root: Path, star: str, n: int) -> str:
    """The particles of ``star`` listed repeatedly up to ``n`` rows (same images), as a new STAR file."""
    from cryopick.io.star import read_star, write_star

    t = read_star(root / star)
    parts = t["particles"]
    idx = np.resize(np.arange(len(parts)), n)
    out = f"Extract/job005/particles_{n}.star"
    write_star(root / out, {"optics": {c: t["optics"][c].to_numpy() for c in t["optics"].columns},
                            "particles": {c: parts[c].to_numpy()[idx] for c in parts.columns}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-mics", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--iter", type=int, default=25)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--match-ncc", type=float, default=0.85)
    ap.add_argument("--scaling", default="1000,5000,20000", help="particle counts for cryopick alone ('' to skip)")
    ap.add_argument("--scaling-iter", type=int, default=10)
    ap.add_argument("--skip-relion", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    if not a.skip_relion:
        require("relion_refine")
    byte_compile()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="bench_class2d_"))
    root = work / "project"
    if root.exists():
        shutil.rmtree(root)
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    star = build_project(root, a.n_mics, a.seed)
    from cryopick.io.star import read_star

    optics = read_star(root / star)["optics"]
    pixel = float(optics["rlnImagePixelSize"].iloc[0])
    n = len(read_star(root / star)["particles"])
    sim = read_star(root / "GroundTruth/particles.star")["simulation"]
    diameter = float(sim["cryopickParticleDiameterAngstrom"].iloc[0])
    model_seed = int(sim["cryopickModelSeed"].iloc[0])
    print(f"project: {a.n_mics} micrographs, {n} particles of {RESCALE} px at {pixel:g} Å/px "
          f"(built in {time.perf_counter() - t:.0f} s, {root})")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    runs = []
    if not a.skip_relion:
        runs.append(run_relion(root, star, a.classes, a.iter))
        print(f"{runs[-1].name}: {runs[-1].wall_s:.1f} s, {runs[-1].peak_mib:.0f} MiB")
    runs.append(run_cryopick(root, star, a.classes, a.iter, "Class2D/job007/"))
    print(f"{runs[-1].name}: {runs[-1].wall_s:.1f} s, {runs[-1].peak_mib:.0f} MiB")
    if len(runs) == 2:
        print(f"speed-up: {runs[0].wall_s / runs[1].wall_s:.2f}x (RELION / cryopick wall time); "
              f"memory ratio {runs[0].peak_mib / runs[1].peak_mib:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    labels = particle_labels(root, star, diameter)
    rows = [summarise(r, class_quality(r.job, root, pixel, diameter, model_seed), labels, a.match_ncc) for r in runs]
    print_quality(rows, a.match_ncc, n)
    counts = [int(c) for c in a.scaling.split(",") if c.strip()]
    if counts:
        print(f"\ncryopick scaling ({a.classes} classes, {a.scaling_iter} iterations; the {n} particles listed repeatedly):")
        print(f"{'particles':>10s} {'wall s':>9s} {'ms / particle-iteration':>24s} {'peak MiB':>9s}")
        for j, c in enumerate(counts):
            s = repeated_star(root, star, c)
            r = run_cryopick(root, s, a.classes, a.scaling_iter, f"Class2D/job{10 + j:03d}/", f"scaling_{c}.log")
            print(f"{c:>10d} {r.wall_s:>9.1f} {1000 * r.wall_s / (c * a.scaling_iter):>24.2f} {r.peak_mib:>9.0f}")


if __name__ == "__main__":
    main()
