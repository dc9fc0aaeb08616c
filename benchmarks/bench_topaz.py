"""Topaz picking and training: cryopick vs the topaz CLI (topaz-em 0.3.20), same micrographs, same 2 cores, one run.

**1. Picking with Topaz's pretrained network** (resnet16_u64, ``topaz extract``'s default) on a
simulated tutorial-sized project (``cryopick simulate --preset tutorial``: ``--n-mics``
micrographs of 1920×1856 px at 1.77 Å/px, ~100 particles each, ice, carbon, aggregates). Picking
diameter 180 Å, as in the RELION tutorial, so RELION's rules (:class:`TopazGeometry`) give
downscale 4 and picking radius 13 binned px; threshold −6 (topaz's default) for both tools.
Whole processes are timed (wall clock, Python start-up and imports included):

(a) ``python -m cryopick topaz-pick --threads 2``, once with ``--precision auto`` (bfloat16 on a CPU with native
    bfloat16, else float32) and once with ``--precision float32`` (the CLI's arithmetic): everything in one process (binning and
    normalisation in memory, the model loaded once); time / micrograph = wall / micrographs;
(b) the topaz CLI as a topaz user runs it: one ``topaz preprocess -s 4 -t 2 -j 1`` (Fourier
    binning + GMM normalisation, 2 worker processes) and one ``topaz extract -j 2`` over all
    micrographs; preprocess and extract are reported separately and per micrograph;
(c) the topaz CLI as RELION's wrapper runs it: one ``topaz extract -j 2`` process per
    micrograph (on the images preprocessed in (b); RELION bins and normalises in C++ before
    each call, which is not counted); time / micrograph = mean over ``--cli-mics`` micrographs.

Speed ratios are topaz CLI time / cryopick time per micrograph. A ``python -c "import torch,
topaz"`` runs first, untimed, so neither tool pays for a cold file cache; the topaz executable
next to this Python is used (not a pyenv shim, which would add its own start-up).

Picks are scored against the simulator's ground truth (:mod:`cryopick.metrics`, as ``cryopick
score-picks``): a pick matches an unmatched true particle within half the true particle diameter
(``GroundTruth/particles.star``); **AP** is the average precision over all picks ranked by
score (FOM), **P/R/F1** count only the picks with FOM ≥ −3 (the tutorial's extraction
threshold). The CLI's picks (``image_name x_coord y_coord score``, already scaled by ``-x 4``)
are scored the same way on the same micrographs.

**2. Training** (``--presets``, default the tutorial preset and the harder ``crowded`` preset:
140 Å particles at lower contrast, 260 per micrograph), each its own project of
``--train-mics`` micrographs (default 16): the first ``--n-train`` (10) train, the rest are held
out (``cryopick select --split-size``). The training micrographs are LoG-picked (``cryopick
autopick-log``, 150–180 Å or 120–140 Å, threshold 0, upper threshold 5); ``cryopick topaz-train
--coords`` trains on those picks (``--epochs 5 --epoch-size 40 --minibatch-size 128`` by
default, CPU, ``--threads 2``), timed as a whole process; the held-out micrographs are then
picked with the pretrained network, with the last epoch's model (RELION's choice) and with
``model_best.sav`` (topaz-train's choice by held-out AUPRC among the starting network, every epoch
and the pretrained resnet16_u64), and AP and F1 at FOM ≥ −3 are reported before and after
training (and P/R/F1 of the LoG picks the network learned from).

``--skip-training`` leaves this section out; if ``cryopick topaz-train`` cannot run (not built
yet, or without the options above), the section says so and measures only the LoG labels and the
pretrained network on the held-out micrographs.

``--cli-training`` (off by default) also times ``topaz train`` (resnet8, 32 units, pretrained
start: the defaults, which cryopick's training also uses) on the same preprocessed micrographs
and LoG picks, one epoch of ``--cli-train-updates`` K1 and K2 minibatches, and cryopick
topaz-train likewise; seconds per minibatch = (wall(K2) − wall(K1)) / (K2 − K1), so start-up,
loading and per-epoch evaluation cancel out.

Everything is written under a new directory ``bench_out/topaz_XXXX/`` (printed; kept for
inspection unless ``--clean``); the results go to ``bench_out/bench_topaz.json``. The default
run takes ~10–20 minutes on 2 cores; ``--quick`` (2 micrographs, tiny training) ~2–3 minutes.

Usage: ``python benchmarks/bench_topaz.py [--quick] [--n-mics 6] [--cli-mics 2] [--repeats 1]
[--skip-picking] [--skip-training] [--presets tutorial,crowded] [--train-mics 16] [--n-train 10] [--epochs 5]
[--epoch-size 40] [--minibatch-size 128] [--per-mic N] [--cli-training] [--workdir DIR] [--clean]``
"""

from __future__ import annotations

import argparse
import csv
import json
import math
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
from common import byte_compile, fresh, timed  # noqa: E402

from cryopick.io.optics import read_micrograph_list  # noqa: E402
from cryopick.io.picks import read_picks, read_truth  # noqa: E402
from cryopick.metrics import DEFAULT_RADIUS_ANGSTROM, score_picks  # noqa: E402
from cryopick.picking.topaz_geometry import TopazGeometry  # noqa: E402
from cryopick.precision import resolve_precision  # noqa: E402

MICS = "CtfFind/job003/micrographs_ctf.star"
TRUTH = "GroundTruth/particles.star"
GOOD_FOM = -3.0          # the tutorial's extraction threshold
THRESHOLD = -6.0         # topaz extract's default; cryopick topaz-pick's too
BENCH_OUT = Path(__file__).resolve().parent.parent / "bench_out"
JSON_OUT = BENCH_OUT / "bench_topaz.json"
#: Picking diameter (Å) and LoG diameter range for the training labels, per simulation preset.
PRESETS = {"tutorial": {"diameter": 180.0, "log": (150, 180)},
           "crowded": {"diameter": 140.0, "log": (120, 140)}}
PY = [sys.executable, "-m", "cryopick"]


# ---- processes


def run(cmd: list[str], cwd: Path) -> str:
    """Run an untimed step; stop the benchmark with its output if it fails."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def topaz_exe() -> str:
    """The topaz script of this Python's environment (no pyenv shim), else the one on PATH."""
    here = Path(sys.executable).parent / "topaz"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("topaz")
    if found is None:
        sys.exit("topaz not found: install topaz-em 0.3.20 (pip install topaz-em==0.3.20) to run this benchmark")
    return found


def simulate(root: Path, preset: str, n_mics: int, seed: int) -> list[str]:
    fresh(root)
    run(PY + ["simulate", "--o", str(root), "--preset", preset, "--n-mics", str(n_mics), "--seed", str(seed)],
        root.parent)
    names, _ = read_micrograph_list(root / MICS)
    return [str(n) for n in names]


# ---- scoring


def _clean(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


class Truth:
    """True particle centres of a project and the matching radius (half the true diameter, in px)."""

    def __init__(self, root: Path):
        t = read_truth(root / TRUTH)
        self.xy = t.xy_by_mic
        self.diameter = t.diameter_angstrom
        radius_a = 0.5 * t.diameter_angstrom if t.diameter_angstrom else DEFAULT_RADIUS_ANGSTROM
        self.radius_px = radius_a / t.pixel_size_angstrom

    def score(self, mics: list[str], picks: dict[str, np.ndarray]) -> dict:
        """AP over all picks; P/R/F1 over picks with FOM >= GOOD_FOM. ``picks``: mic -> (m, 3) x, y, FOM."""
        truth = {m: self.xy.get(m, np.zeros((0, 2))) for m in mics}
        empty = np.zeros((0, 3))
        every = {m: picks.get(m, empty) for m in mics}
        good = {m: p[p[:, 2] >= GOOD_FOM] for m, p in every.items()}
        s_all = score_picks(truth, every, self.radius_px)
        s_good = score_picks(truth, good, self.radius_px)
        return {"n_true": s_all.n_true, "n_picks": s_all.n_picks, "ap": s_all.average_precision,
                "n_picks_good": s_good.n_picks, "precision": s_good.precision, "recall": s_good.recall,
                "f1": s_good.f1}

    def score_all(self, mics: list[str], picks: dict[str, np.ndarray]) -> dict:
        """P/R/F1 of all picks (LoG labels: their FOM is on another scale)."""
        truth = {m: self.xy.get(m, np.zeros((0, 2))) for m in mics}
        s = score_picks(truth, {m: picks.get(m, np.zeros((0, 3))) for m in mics}, self.radius_px)
        return {"n_true": s.n_true, "n_picks": s.n_picks, "precision": s.precision, "recall": s.recall, "f1": s.f1}


def write_clean_labels(root: Path, log_job: str, out_job: str, truth: "Truth", mics: list[str]) -> int:
    """Write ``out_job``/autopick.star listing, per micrograph, the LoG picks that match a true particle.

    Returns the number of picks kept.
    """
    from cryopick.io.coords import picks_columns, write_coordinate_list, write_coordinates
    from cryopick.metrics import match_picks

    picks = job_picks(root, log_job)
    files, kept = [], 0
    for m in mics:
        p = picks.get(m, np.zeros((0, 3)))
        keep = match_picks(truth.xy.get(m, np.zeros((0, 2))), p[:, :2], p[:, 2], truth.radius_px) >= 0
        rel = f"{out_job}{Path(m).stem}_clean.star"
        write_coordinates(root / rel, picks_columns(p[keep, 0], p[keep, 1], p[keep, 2]))
        files.append(rel)
        kept += int(keep.sum())
    write_coordinate_list(root / out_job / "autopick.star", mics, files)
    return kept


def job_picks(root: Path, job: str) -> dict[str, np.ndarray]:
    """A cryopick picking job's picks: micrograph -> (m, 3) x, y, FOM."""
    out = {}
    for mic, cols in read_picks(root / job / "autopick.star", root).items():
        fom = cols["rlnAutopickFigureOfMerit"] if "rlnAutopickFigureOfMerit" in cols else np.zeros(len(cols["rlnCoordinateX"]))
        out[mic] = np.column_stack([np.asarray(cols["rlnCoordinateX"], float), np.asarray(cols["rlnCoordinateY"], float),
                                    np.asarray(fom, float)]).reshape(-1, 3)
    return out


def cli_picks(path: Path, mics: list[str]) -> dict[str, np.ndarray]:
    """``topaz extract``'s TSV (image_name x_coord y_coord score) -> micrograph -> (m, 3); names by file stem."""
    by_stem = {Path(m).stem: m for m in mics}
    rows: dict[str, list] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.setdefault(by_stem[r["image_name"]], []).append(
                (float(r["x_coord"]), float(r["y_coord"]), float(r["score"])))
    return {m: np.asarray(v, dtype=float).reshape(-1, 3) for m, v in rows.items()}


# ---- 1. picking


def picking_section(work: Path, a: argparse.Namespace, topaz: str) -> dict:
    root = work / "picking"
    mics = simulate(root, "tutorial", a.n_mics, a.seed)
    truth = Truth(root)
    diameter = PRESETS["tutorial"]["diameter"]
    apix = float(read_truth(root / TRUTH).pixel_size_angstrom)
    geo = TopazGeometry.for_particle(diameter, apix)
    n = len(mics)
    print(f"\n[1] picking: {n} tutorial micrographs in {root}\n    diameter {diameter:g} Å at {apix:g} Å/px -> "
          f"downscale {geo.downscale}, radius {geo.pick_radius_px} binned px; truth: {truth.diameter:g} Å particles, "
          f"matching radius {truth.radius_px:.1f} px", flush=True)

    jobs = {"auto": "AutoPick/job010/", "float32": "AutoPick/job011/"}  # --precision -> job
    auto = resolve_precision("auto", "cpu")

    def ours_cmd(precision: str) -> list[str]:
        return PY + ["topaz-pick", "--i", MICS, "--o", jobs[precision], "--diameter", f"{diameter:g}",
                     "--threads", str(a.threads), "--threshold", f"{THRESHOLD:g}", "--device", "cpu",
                     "--precision", precision, "--quiet"]

    pre_dir, batch_txt, per_dir = "TopazCLI/preprocessed", "TopazCLI/picks_batch.txt", root / "TopazCLI/per_mic"
    pre_cmd = [topaz, "preprocess", "-s", str(geo.downscale), "-d", "-1", "-t", str(a.threads), "-j", "1",
               "-o", pre_dir, *mics]
    pre_paths = [f"{pre_dir}/{Path(m).stem}.mrc" for m in mics]

    def extract_cmd(out: str, paths: list[str]) -> list[str]:
        return [topaz, "extract", "-d", "-1", "-j", str(a.threads), "-r", str(geo.pick_radius_px),
                "-x", str(geo.downscale), "-t", f"{THRESHOLD:g}", "-o", out, *paths]

    t_ours: dict[str, list[float]] = {precision: [] for precision in jobs}
    t_pre, t_ext = [], []
    for k in range(a.repeats):
        fresh(root / pre_dir)
        for precision, job in jobs.items():
            fresh(root / job)
            t_ours[precision].append(timed(ours_cmd(precision), root))
            print(f"    cryopick topaz-pick --precision {precision}: {t_ours[precision][-1]:.1f} s", flush=True)
        t_pre.append(timed(pre_cmd, root))
        t_ext.append(timed(extract_cmd(batch_txt, pre_paths), root))
        print(f"    topaz preprocess: {t_pre[-1]:.1f} s, topaz extract: {t_ext[-1]:.1f} s", flush=True)
    per_mics = mics[: max(1, min(a.cli_mics, n))]
    per_mic_walls, per_mic_same = [], True
    batch = cli_picks(root / batch_txt, mics)
    per_dir.mkdir(parents=True, exist_ok=True)
    for m in per_mics:
        out = f"TopazCLI/per_mic/{Path(m).stem}.txt"
        per_mic_walls.append(timed(extract_cmd(out, [f"{pre_dir}/{Path(m).stem}.mrc"]), root))
        one = cli_picks(root / out, mics).get(m, np.zeros((0, 3)))
        ref = batch.get(m, np.zeros((0, 3)))
        per_mic_same &= one.shape == ref.shape and bool(np.allclose(one, ref, atol=1e-4))
    print(f"    topaz extract per micrograph: {', '.join(f'{t:.1f}' for t in per_mic_walls)} s", flush=True)

    ours = {precision: statistics.median(t) / n for precision, t in t_ours.items()}
    pre, ext = statistics.median(t_pre) / n, statistics.median(t_ext) / n
    relion_like = statistics.mean(per_mic_walls)
    s_cli = truth.score(mics, batch)
    res = {
        "project": str(root), "n_micrographs": n, "diameter_angstrom": diameter, "downscale": geo.downscale,
        "radius_px": geo.pick_radius_px, "matching_radius_px": truth.radius_px, "repeats": a.repeats,
        "auto_precision": auto,
        "cryopick": {"wall_s": t_ours["auto"], "s_per_mic": ours["auto"],
                     "scores": truth.score(mics, job_picks(root, jobs["auto"]))},
        "cryopick_float32": {"wall_s": t_ours["float32"], "s_per_mic": ours["float32"],
                             "scores": truth.score(mics, job_picks(root, jobs["float32"]))},
        "cli_batch": {"preprocess_wall_s": t_pre, "extract_wall_s": t_ext, "preprocess_s_per_mic": pre,
                      "extract_s_per_mic": ext, "s_per_mic": pre + ext, "scores": s_cli},
        "cli_per_mic": {"micrographs": per_mics, "wall_s": per_mic_walls, "s_per_mic": relion_like,
                        "same_picks_as_batch": per_mic_same},
        "ratio_cli_batch": (pre + ext) / ours["auto"], "ratio_cli_per_mic": relion_like / ours["auto"],
        "ratio_cli_batch_float32": (pre + ext) / ours["float32"],
        "ratio_cli_per_mic_float32": relion_like / ours["float32"],
    }
    print_picking(res)
    return res


def _f(v, spec: str = ".3f") -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def print_picking(r: dict) -> None:
    o, f, b, p = r["cryopick"], r["cryopick_float32"], r["cli_batch"], r["cli_per_mic"]
    so, sf, sb = o["scores"], f["scores"], b["scores"]
    w = 24
    print(f"\nTopaz picking, pretrained resnet16_u64, {r['n_micrographs']} micrographs 1920x1856 px, "
          f"{r['diameter_angstrom']:g} Å (x{r['downscale']}, r {r['radius_px']} px), threshold {THRESHOLD:g}, "
          f"2 cores, whole processes (median of {r['repeats']})")
    print(f"{'':34s}{'cryopick (' + r['auto_precision'] + ')':>{w}s}{'cryopick float32':>{w}s}"
          f"{'topaz CLI batch':>{w}s}{'CLI per mic (RELION)':>{w}s}")

    def line(label: str, *cells: str) -> None:
        print(f"{label:34s}" + "".join(f"{c:>{w}s}" for c in cells))

    line("  preprocess, s / micrograph", "(in process)", "(in process)", f"{b['preprocess_s_per_mic']:.2f}",
         "(from batch)")
    line("  extract, s / micrograph", "", "", f"{b['extract_s_per_mic']:.2f}", f"{p['s_per_mic']:.2f}")
    line("  total, s / micrograph", f"{o['s_per_mic']:.2f}", f"{f['s_per_mic']:.2f}", f"{b['s_per_mic']:.2f}",
         f"{p['s_per_mic']:.2f}")
    line("  CLI batch / cryopick", f"{r['ratio_cli_batch']:.2f}x", f"{r['ratio_cli_batch_float32']:.2f}x", "1.00x", "")
    line("  CLI per mic / cryopick", f"{r['ratio_cli_per_mic']:.2f}x", f"{r['ratio_cli_per_mic_float32']:.2f}x", "",
         "1.00x")
    for label, key in (("  picks (FOM >= -6)", "n_picks"), ("  AP (all picks)", "ap"),
                       ("  picks with FOM >= -3", "n_picks_good")):
        line(label, *(str(x[key]) if key.startswith("n_") else _f(x[key]) for x in (so, sf, sb)), "")
    line("  precision / recall at FOM >= -3", *(f"{_f(x['precision'])} / {_f(x['recall'])}" for x in (so, sf, sb)), "")
    line("  F1 at FOM >= -3", *(_f(x["f1"]) for x in (so, sf, sb)), "")
    print(f"  ({so['n_true']} true particles; matching radius {r['matching_radius_px']:.1f} px; per-micrograph CLI "
          f"timed on {len(p['micrographs'])} micrograph(s), picks identical to the batch run: "
          f"{'yes' if p['same_picks_as_batch'] else 'NO'}; cryopick's --precision auto is {r['auto_precision']} "
          f"on this CPU)")


# ---- 2. training


def training_available() -> str | None:
    """None if ``cryopick topaz-train`` can run with this benchmark's options, else why not."""
    from cryopick.stages.registry import stage

    try:
        if not stage("topaz-train").implemented:
            return "cryopick topaz-train is not implemented yet (its stage module has no run)"
    except Exception as e:  # noqa: BLE001 -- a module being edited may not import
        return f"cryopick topaz-train does not import: {e}"
    proc = subprocess.run(PY + ["topaz-train", "--help"], capture_output=True, text=True, check=False)
    missing = [o for o in ("--coords", "--epochs", "--epoch-size", "--minibatch-size", "--per-mic")
               if o not in proc.stdout]
    if proc.returncode or missing:
        return f"cryopick topaz-train lacks {', '.join(missing) or 'a working --help'}"
    return None


def train_cmd(a: argparse.Namespace, mics_star: str, coords: str, job: str, diameter: float, epochs: int,
              epoch_size: int, per_mic: int) -> list[str]:
    return PY + ["topaz-train", "--i", mics_star, "--coords", coords, "--o", job, "--diameter", f"{diameter:g}",
                 "--per-mic", str(per_mic), "--epochs", str(epochs), "--epoch-size", str(epoch_size),
                 "--minibatch-size", str(a.minibatch_size), "--threads", str(a.threads), "--device", "cpu", "--quiet"]


def training_section(work: Path, preset: str, a: argparse.Namespace, topaz: str, seed: int) -> dict:
    root = work / f"train_{preset}"
    mics = simulate(root, preset, a.train_mics, seed)
    truth = Truth(root)
    diameter = PRESETS[preset]["diameter"]
    dmin, dmax = PRESETS[preset]["log"]
    train_mics, held_mics = mics[: a.n_train], mics[a.n_train:]
    print(f"\n[2] training, {preset} preset: {len(train_mics)} training + {len(held_mics)} held-out micrographs in "
          f"{root}", flush=True)
    run(PY + ["select", "--i", MICS, "--o", "Select/job005/", "--split-size", str(a.n_train), "--quiet"], root)
    train_star, held_star = "Select/job005/micrographs_split1.star", "Select/job005/micrographs_split2.star"
    log_job = "AutoPick/job004/"
    run(PY + ["autopick-log", "--i", train_star, "--o", log_job, "--diam-min", str(dmin), "--diam-max", str(dmax),
              "--threshold", "0", "--upper-threshold", "5", "--threads", str(a.threads), "--quiet"], root)
    s_log = truth.score_all(train_mics, job_picks(root, log_job))
    print(f"    LoG labels ({dmin}-{dmax} Å) on the training micrographs: {s_log['n_picks']} picks, "
          f"P {_f(s_log['precision'])} R {_f(s_log['recall'])} F1 {_f(s_log['f1'])}", flush=True)

    def pick(job: str, model: str | None) -> tuple[float, dict]:
        cmd = PY + ["topaz-pick", "--i", held_star, "--o", job, "--diameter", f"{diameter:g}",
                    "--threads", str(a.threads), "--threshold", f"{THRESHOLD:g}", "--device", "cpu", "--quiet"]
        if model:
            cmd += ["--model", model]
        wall = timed(cmd, root)
        return wall, truth.score(held_mics, job_picks(root, job))

    t_pre, s_pre = pick("AutoPick/job012/", None)
    print(f"    pretrained on held-out: AP {_f(s_pre['ap'])}, F1@-3 {_f(s_pre['f1'])} ({t_pre:.1f} s)", flush=True)
    res = {"project": str(root), "diameter_angstrom": diameter, "true_diameter_angstrom": truth.diameter,
           "log_diameters": [dmin, dmax], "training_micrographs": len(train_mics),
           "held_out_micrographs": len(held_mics), "log_labels": s_log,
           "pretrained": {"pick_wall_s": t_pre, "scores": s_pre}}
    if why := training_available():
        res["trained"] = None
        res["skipped"] = why
        print(f"    training skipped: {why}", flush=True)
        return res
    job = "AutoPick/job011/"
    # expected particles per micrograph: given, or what a user sees: the LoG picks per micrograph (rounded up to tens)
    per_mic = a.per_mic or int(math.ceil(s_log["n_picks"] / len(train_mics) / 10.0) * 10)
    print(f"    expected particles per micrograph (--per-mic): {per_mic}", flush=True)
    cmd = train_cmd(a, train_star, f"{log_job}autopick.star", job, diameter, a.epochs, a.epoch_size, per_mic)
    try:
        t_train = timed(cmd, root)
    except RuntimeError as e:
        res["trained"] = None
        res["skipped"] = f"cryopick topaz-train failed: {str(e)[-1500:]}"
        print(f"    training FAILED:\n{e}", flush=True)
        return res
    updates = a.epochs * a.epoch_size
    print(f"    cryopick topaz-train: {t_train:.1f} s ({a.epochs} epochs x {a.epoch_size} updates of "
          f"{a.minibatch_size}; {t_train / updates:.3f} s / update incl. start-up)", flush=True)
    model = f"{job}model_epoch{a.epochs}.sav"
    t_post, s_post = pick("AutoPick/job013/", model)
    print(f"    trained on held-out: AP {_f(s_post['ap'])}, F1@-3 {_f(s_post['f1'])} ({t_post:.1f} s)", flush=True)
    _, s_best = pick("AutoPick/job017/", f"{job}model_best.sav")
    chosen = best_network(root / job)
    print(f"    model_best.sav ({chosen}) on held-out: AP {_f(s_best['ap'])}, F1@-3 {_f(s_best['f1'])}", flush=True)
    # the tutorial trains on the particles of good 2D classes, cleaner than raw LoG picks; its best case:
    # the LoG picks that match a true particle (what a perfect class selection would keep)
    clean = write_clean_labels(root, log_job, "AutoPick/job014/", truth, train_mics)
    clean_per_mic = a.per_mic or int(math.ceil(clean / len(train_mics) / 10.0) * 10)
    t_clean = timed(train_cmd(a, train_star, "AutoPick/job014/autopick.star", "AutoPick/job015/", diameter, a.epochs,
                              a.epoch_size, clean_per_mic), root)
    _, s_clean = pick("AutoPick/job016/", f"AutoPick/job015/model_epoch{a.epochs}.sav")
    print(f"    trained on the {clean} LoG picks that match a true particle (--per-mic {clean_per_mic}, {t_clean:.1f} s): "
          f"AP {_f(s_clean['ap'])}, F1@-3 {_f(s_clean['f1'])}", flush=True)
    res["trained_clean_labels"] = {"labels": clean, "per_mic": clean_per_mic, "train_wall_s": t_clean, "scores": s_clean}
    res.update({"train_wall_s": t_train, "epochs": a.epochs, "epoch_size": a.epoch_size,
                "minibatch_size": a.minibatch_size, "per_mic": per_mic, "s_per_update_incl_startup": t_train / updates,
                "trained": {"model": model, "pick_wall_s": t_post, "scores": s_post},
                "trained_best": {"model": f"{job}model_best.sav", "chosen": chosen, "scores": s_best}})
    if a.cli_training:
        res["cli_training"] = cli_training(root, a, topaz, train_mics, train_star, log_job, diameter, per_mic)
    return res


def best_network(job_dir: Path) -> str:
    """The network topaz-train chose for model_best.sav (its model_selection.txt)."""
    for line in (job_dir / "model_selection.txt").read_text().splitlines()[1:]:
        if line.endswith("\tyes"):
            return line.split("\t")[0]
    return "?"


def cli_training(root: Path, a: argparse.Namespace, topaz: str, train_mics: list[str], train_star: str,
                 log_job: str, diameter: float, per_mic: int) -> dict:
    """Seconds per minibatch of ``topaz train`` and of ``cryopick topaz-train``: slope between K1 and K2 updates."""
    apix = float(read_truth(root / TRUTH).pixel_size_angstrom)
    geo = TopazGeometry.for_particle(diameter, apix)
    k1, k2 = a.cli_train_updates
    cli = root / "TopazCLI"
    fresh(cli)
    pre = cli / "train_images"
    t_pre = timed([topaz, "preprocess", "-s", str(geo.downscale), "-d", "-1", "-t", str(a.threads), "-j", "1",
                   "-o", str(pre), *train_mics], root)
    targets = cli / "train_targets.txt"
    lines = ["image_name\tx_coord\ty_coord"]   # topaz's coord format, in binned pixels
    for m, p in job_picks(root, log_job).items():
        lines += [f"{Path(m).stem}\t{round(x / geo.downscale)}\t{round(y / geo.downscale)}" for x, y, _ in p]
    targets.write_text("\n".join(lines) + "\n")
    out: dict = {"preprocess_wall_s": t_pre, "updates": [k1, k2], "minibatch_size": a.minibatch_size,
                 "train_radius_px": geo.train_radius_px}
    walls_cli, walls_ours = [], []
    for j, k in enumerate((k1, k2)):
        d = cli / f"train_{k}"
        d.mkdir(parents=True, exist_ok=True)
        cmd = [topaz, "train", "-d", "-1", "-j", str(a.threads), "--num-workers", "0",
               "--train-images", str(pre), "--train-targets", str(targets), "-n", str(per_mic),
               "-r", str(geo.train_radius_px), "--minibatch-size", str(a.minibatch_size), "--epoch-size", str(k),
               "--num-epochs", "1", "--save-prefix", str(d / "model"), "-o", str(d / "model_training.txt")]
        walls_cli.append(timed(cmd, root))
        job = f"AutoPick/job{20 + j:03d}/"
        fresh(root / job)
        walls_ours.append(timed(train_cmd(a, train_star, f"{log_job}autopick.star", job, diameter, 1, k, per_mic), root))
        print(f"    {k} updates: topaz train {walls_cli[-1]:.1f} s, cryopick topaz-train {walls_ours[-1]:.1f} s",
              flush=True)
    out["topaz_train_wall_s"] = walls_cli
    out["cryopick_train_wall_s"] = walls_ours
    out["topaz_s_per_minibatch"] = (walls_cli[1] - walls_cli[0]) / (k2 - k1)
    out["cryopick_s_per_minibatch"] = (walls_ours[1] - walls_ours[0]) / (k2 - k1)
    print(f"    seconds per minibatch of {a.minibatch_size}: topaz train {out['topaz_s_per_minibatch']:.3f}, "
          f"cryopick {out['cryopick_s_per_minibatch']:.3f}", flush=True)
    return out


def print_training(rows: dict[str, dict], a: argparse.Namespace) -> None:
    if not rows:
        return
    w = 22
    print(f"\nTopaz training from LoG picks, then picking held-out micrographs (AP over all picks, "
          f"P/R/F1 at FOM >= {GOOD_FOM:g}), 2 cores")
    print(f"{'':40s}" + "".join(f"{p:>{w}s}" for p in rows))

    def line(label: str, vals: list[str]) -> None:
        print(f"{label:40s}" + "".join(f"{v:>{w}s}" for v in vals))

    rs = list(rows.values())
    line("  micrographs train / held out", [f"{r['training_micrographs']} / {r['held_out_micrographs']}" for r in rs])
    line("  picking diameter (true), Å", [f"{r['diameter_angstrom']:g} ({r['true_diameter_angstrom']:g})" for r in rs])
    line("  LoG labels: picks, F1", [f"{r['log_labels']['n_picks']}, {_f(r['log_labels']['f1'])}" for r in rs])
    line("  cryopick topaz-train wall time", [f"{r['train_wall_s']:.1f} s" if r.get("trained") else "skipped"
                                             for r in rs])
    line("    s / update (incl. start-up)", [f"{r['s_per_update_incl_startup']:.3f}" if r.get("trained") else "-"
                                             for r in rs])
    line("  per-mic (LoG / clean labels)", [f"{r.get('per_mic', '-')} / {r['trained_clean_labels']['per_mic']}"
                                            if r.get("trained_clean_labels") else "-" for r in rs])
    line("  model_best.sav (from LoG labels) is", [r["trained_best"]["chosen"].split(" (")[0] if r.get("trained_best")
                                                   else "-" for r in rs])
    for key, label in (("pretrained", "pretrained"), ("trained", f"trained on LoG (ep. {a.epochs})"),
                       ("trained_best", "trained on LoG, model_best"),
                       ("trained_clean_labels", f"trained on clean (ep. {a.epochs})")):
        sc = [r[key]["scores"] if r.get(key) else None for r in rs]
        line(f"  {label}: AP", [_f(s["ap"]) if s else "-" for s in sc])
        line(f"  {label}: P / R at FOM >= -3", [f"{_f(s['precision'], '.2f')} / {_f(s['recall'], '.2f')}" if s else "-"
                                                for s in sc])
        line(f"  {label}: F1 at FOM >= -3", [_f(s["f1"]) if s else "-" for s in sc])
    if any(r.get("cli_training") for r in rs):
        line("  topaz train, s / minibatch", [_f(r["cli_training"]["topaz_s_per_minibatch"]) if r.get("cli_training")
                                              else "-" for r in rs])
        line("  cryopick topaz-train, s / minibatch", [_f(r["cli_training"]["cryopick_s_per_minibatch"])
                                                       if r.get("cli_training") else "-" for r in rs])
    for p, r in rows.items():
        if r.get("skipped"):
            print(f"  {p}: training skipped ({r['skipped'].splitlines()[0]})")


# ---- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 2 micrographs; training on 2+2 micrographs, 1 epoch of 4 updates of 32")
    ap.add_argument("--n-mics", type=int, default=6, help="micrographs for the picking comparison (default 6)")
    ap.add_argument("--cli-mics", type=int, default=2,
                    help="micrographs timed with one topaz extract process each (default 2)")
    ap.add_argument("--repeats", type=int, default=1, help="timed repeats of (a) and (b); the median is reported")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-picking", action="store_true", help="only the training section")
    ap.add_argument("--skip-training", action="store_true", help="only the picking section")
    ap.add_argument("--presets", default="tutorial,crowded", help="simulation presets for training (default both)")
    ap.add_argument("--train-mics", type=int, default=16, help="micrographs per training project (default 16)")
    ap.add_argument("--n-train", type=int, default=10, help="the first N train, the rest are held out (default 10)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--epoch-size", type=int, default=40)
    ap.add_argument("--minibatch-size", type=int, default=128)
    ap.add_argument("--per-mic", type=int, default=0,
                    help="expected particles per micrograph (default 0: the LoG picks per training micrograph, rounded up to tens)")
    ap.add_argument("--cli-training", action="store_true",
                    help="also time topaz train vs cryopick topaz-train per minibatch (off by default)")
    ap.add_argument("--cli-train-updates", type=lambda s: tuple(int(v) for v in s.split(",")), default=(5, 20),
                    help="K1,K2 minibatches for --cli-training (default 5,20)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="working directory (default: a new bench_out/topaz_XXXX/)")
    ap.add_argument("--clean", action="store_true", help="remove the working directory after a successful run")
    a = ap.parse_args()
    if a.quick:
        a.n_mics, a.cli_mics, a.train_mics, a.n_train = 2, 2, 4, 2
        a.epochs, a.epoch_size, a.minibatch_size = 1, 4, 32
        a.cli_train_updates = (2, 4)
    presets = [p.strip() for p in a.presets.split(",") if p.strip()]
    if unknown := [p for p in presets if p not in PRESETS]:
        sys.exit(f"unknown preset(s) {unknown}: choose from {', '.join(PRESETS)}")
    if not 0 < a.n_train < a.train_mics:
        sys.exit("--n-train must be at least 1 and less than --train-mics")
    if len(a.cli_train_updates) != 2 or not 0 < a.cli_train_updates[0] < a.cli_train_updates[1]:
        sys.exit("--cli-train-updates: two increasing counts, e.g. 5,20")
    topaz = topaz_exe()

    byte_compile()  # whole-process timings without recompiling cryopick's sources (see common.py)
    BENCH_OUT.mkdir(exist_ok=True)
    if a.workdir:
        work = a.workdir.resolve()
        fresh(work)
        work.mkdir(parents=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="topaz_", dir=BENCH_OUT)).resolve()
    print(f"working directory: {work}")
    print(f"topaz: {topaz}; {os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    t0 = time.perf_counter()
    # warm the file cache for both tools (torch, topaz and its pretrained weights), untimed
    run([sys.executable, "-c", "import torch, topaz"], work)

    results: dict = {"command": " ".join(sys.argv), "workdir": str(work), "cpus": os.cpu_count(),
                     "topaz": topaz, "threads": a.threads, "quick": a.quick}
    if not a.skip_picking:
        results["picking"] = picking_section(work, a, topaz)
    training: dict[str, dict] = {}
    if a.skip_training:
        print("\n[2] training: skipped (--skip-training)")
    else:
        if why := training_available():
            print(f"\n[2] training: {why}; only the LoG labels and the pretrained network are measured")
        for i, p in enumerate(presets):
            training[p] = training_section(work, p, a, topaz, a.seed + 1 + i)
        results["training"] = training
        print_training(training, a)
    results["load_average_after"] = os.getloadavg()[0]
    results["total_wall_s"] = time.perf_counter() - t0
    JSON_OUT.write_text(json.dumps(_clean(results), indent=2) + "\n")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}; total {results['total_wall_s'] / 60:.1f} min; "
          f"results: {JSON_OUT.resolve()}")
    if a.clean:
        shutil.rmtree(work, ignore_errors=True)
        print(f"removed {work}")
    else:
        print(f"projects kept in {work} (remove with: rm -rf {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
