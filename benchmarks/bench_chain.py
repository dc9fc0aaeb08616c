"""The whole particle-picking chapter against two shortcuts, on one simulated tutorial-sized project. One run.

Project: ``cryopick simulate --preset tutorial`` (``--n-mics`` 24 micrographs of 1920×1856 px at
1.77 Å/px, ~100 particles each, carbon edges, ice, aggregates; ``--seed``). Three ways to a
particle set, each with the tutorial's settings (``cryopick.stages.presets.TUTORIAL_CPU``: the
tutorial's values, Topaz training shortened for a CPU, and Topaz told to expect the simulated
density of ~100 particles per micrograph rather than the tutorial data's 300), every stage run
in this process and timed on its own (wall clock):

* **the chain**: Select (first 10 micrographs) → LoG picking → Extract → Class2D (50 classes,
  25 iterations) → automatic class selection (score ≥ 0.5) → Topaz training on the selected
  particles → Topaz picking of all micrographs → final extraction of picks with FOM > −3;
* **LoG picking alone**: LoG picking of all micrographs → extraction (every pick);
* **pretrained Topaz alone** (the tutorial's shortcut): Topaz picking of all micrographs with
  Topaz's pretrained network → extraction of picks with FOM > −3.

Each final ``particles.star`` is scored against the simulator's truth (:mod:`cryopick.metrics`:
a particle matches an unmatched true particle within half the particle diameter; AP over the
particles ranked by rlnAutopickFigureOfMerit) over all micrographs: precision, recall, F1, AP.
The chain is worth running only if its final set beats both shortcuts.

``--preset crowded`` runs the same on the simulator's harder project (140 Å particles at lower
contrast, ~260 per micrograph), with the tutorial's diameters scaled to the particle.

``--final-threshold expected_count`` extracts, for the chain and for pretrained Topaz, the picks
above the FOM that keeps the expected number of particles per micrograph (the flow's
``final_threshold="expected_count"``), instead of FOM > −3. The expected number given is the
simulator's, so this shows what a good estimate gives, not what any estimate gives.

Usage: ``python benchmarks/bench_chain.py [--preset tutorial|crowded] [--n-mics 24] [--seed 11]
[--min-classes N] [--final-threshold min_fom|expected_count] [--workdir DIR]``
Writes ``bench_out/bench_chain.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from cryopick.errors import CryopickError
from cryopick.io.columns import read_table
from cryopick.io.picks import read_truth
from cryopick.io.topaz_model import BEST_MODEL
from cryopick.metrics import score_picks
from cryopick.sim.params import preset
from cryopick.stages.presets import TUTORIAL_CPU
from cryopick.stages.registry import stage
from cryopick.synthetic.project import simulate_project

MICS = "CtfFind/job003/micrographs_ctf.star"


def data_settings(diameter_angstrom: float, particles_per_micrograph: int) -> dict[str, dict]:
    """What a microscopist sets from the data: the expected particles per micrograph (the tutorial's 300 is
    its own data's), and, for a particle other than the tutorial-sized 170 Å one, the tutorial's diameters
    (LoG 150–180 Å, mask 200 Å, Topaz 180 Å) scaled to it."""
    s = diameter_angstrom / 170.0
    settings: dict[str, dict] = {"topaz_training": {"nr_particles_per_micrograph": particles_per_micrograph},
                                 "topaz_picking": {"nr_particles_per_micrograph": particles_per_micrograph}}
    if s != 1.0:
        settings["log_picking"] = {"diameter_min_angstrom": 150.0 * s, "diameter_max_angstrom": 180.0 * s}
        settings["class2d"] = {"mask_diameter_angstrom": 200.0 * s}
        settings["topaz_training"]["particle_diameter_angstrom"] = 180.0 * s
        settings["topaz_picking"]["particle_diameter_angstrom"] = 180.0 * s
    return settings


class Runner:
    """Runs preset steps into numbered job directories, timing each."""

    def __init__(self, root: Path, overrides: dict[str, dict]):
        self.root, self.overrides, self.next_job, self.times = root, overrides, 4, []

    def __call__(self, route: str, key: str, values: dict | None = None, **files: str):
        step = TUTORIAL_CPU[key]
        spec = stage(step.stage)
        job = f"{spec.job_type}/job{self.next_job:03d}/"
        self.next_job += 1
        t0 = time.perf_counter()
        params = spec.params_class(**files, **{**step.values, **self.overrides.get(key, {}), **(values or {})})
        result = spec.module().run(params, self.root, job)
        self.times.append({"route": route, "step": key, "job": job, "seconds": time.perf_counter() - t0,
                           "counts": result.counts})
        print(f"{route:22s} {key:15s} {job:18s} {time.perf_counter() - t0:7.1f} s  {result.counts}", flush=True)
        return result


def node(result, suffix: str) -> str:
    return next(p for p, _ in result.output_nodes if p.endswith(suffix))


def score_particles(root: Path, particles_star: str) -> dict:
    """Precision, recall, F1 and AP of a particles.star against the truth, over every micrograph."""
    truth = read_truth(root / "GroundTruth/particles.star")
    data = read_table(root / particles_star, "particles", required=("rlnMicrographName", "rlnCoordinateX",
                                                                   "rlnCoordinateY"))
    mics = np.asarray(data["rlnMicrographName"]).astype(str)
    fom = np.asarray(data.get("rlnAutopickFigureOfMerit", np.zeros(len(mics))), dtype=np.float64)
    picks = {m: {"rlnCoordinateX": np.asarray(data["rlnCoordinateX"], float)[mics == m],
                 "rlnCoordinateY": np.asarray(data["rlnCoordinateY"], float)[mics == m],
                 "rlnAutopickFigureOfMerit": fom[mics == m]} for m in truth.xy_by_mic}
    s = score_picks(truth.xy_by_mic, picks, 0.5 * truth.diameter_angstrom / truth.pixel_size_angstrom)
    return {"particles": s.n_picks, "true": s.n_true, "matched": s.n_matched, "precision": s.precision,
            "recall": s.recall, "f1": s.f1, "average_precision": s.average_precision}


def final_extract(run: Runner, route: str, picks, threshold: str):
    """The final extraction of ``picks``: above the tutorial's FOM (``min_fom``), or above the FOM that keeps
    the expected number of particles (``expected_count``: the picking job's fom_at_expected_count)."""
    values = {"min_fom": picks.summary["fom_at_expected_count"]} if threshold == "expected_count" else None
    return run(route, "final_extract", values, micrographs_star=MICS, coords_star=node(picks, "autopick.star"))


def run_chain(run: Runner, threshold: str = "min_fom"):
    """The tutorial's chain; returns the final extraction's result."""
    split = run("chain", "subsets", micrographs_star=MICS)
    training = node(split, "_split1.star")
    log = run("chain", "log_picking", micrographs_star=training)
    parts = run("chain", "extract", micrographs_star=training, coords_star=node(log, "autopick.star"))
    classes = run("chain", "class2d", particles_star=node(parts, "particles.star"))
    selected = run("chain", "auto_select", optimiser_star=node(classes, "_optimiser.star"))
    model = run("chain", "topaz_training", micrographs_star=training, particles_star=node(selected, "particles.star"))
    picks = run("chain", "topaz_picking", micrographs_star=MICS, model_path=model.job_dir + BEST_MODEL)
    return final_extract(run, "chain", picks, threshold)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-mics", type=int, default=24)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--preset", default="tutorial", choices=("tutorial", "crowded"),
                    help="simulated data: the tutorial-like project, or a crowded one of a smaller, fainter particle")
    ap.add_argument("--min-classes", type=int, default=-1,
                    help="the class selection passes at least this many classes (RELION's option; -1: off)")
    ap.add_argument("--final-threshold", default="min_fom", choices=("min_fom", "expected_count"),
                    help="final extraction of Topaz picks above FOM -3 (the tutorial), or above the FOM that keeps the "
                         "expected particles per micrograph (the flow's final_threshold)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("bench_out/bench_chain.json"))
    a = ap.parse_args()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="bench_chain_"))
    root = work / "project"
    if root.exists():
        shutil.rmtree(root)
    sim = preset(a.preset).replace(n_micrographs=a.n_mics, seed=a.seed)
    simulate_project(sim, root)
    settings = data_settings(sim.diameter_angstrom, sim.particles_per_mic)
    if a.min_classes > 0:
        settings["auto_select"] = {"select_min_nr_classes": a.min_classes}
    run = Runner(root, settings)

    try:
        chain = run_chain(run, a.final_threshold)
        chain_error = ""
    except CryopickError as exc:  # e.g. no class selected: the chain has no final set; the shortcuts still run
        chain, chain_error = None, str(exc)
        print(f"chain stopped: {exc}", flush=True)

    log_all = run("LoG alone", "log_picking", micrographs_star=MICS)
    log_parts = run("LoG alone", "extract", micrographs_star=MICS, coords_star=node(log_all, "autopick.star"))
    pre = run("pretrained Topaz alone", "topaz_picking", micrographs_star=MICS)
    pre_parts = final_extract(run, "pretrained Topaz alone", pre, a.final_threshold)

    finals = {"chain": chain, "LoG alone": log_parts, "pretrained Topaz alone": pre_parts}
    finals = {name: r for name, r in finals.items() if r is not None}
    scores = {name: score_particles(root, node(r, "particles.star")) for name, r in finals.items()}
    totals = {name: sum(t["seconds"] for t in run.times if t["route"] == name) for name in finals}
    report = {"preset": a.preset, "n_micrographs": a.n_mics, "seed": a.seed, "chain_error": chain_error,
              "final_threshold": a.final_threshold, "min_classes": a.min_classes,
              "steps": run.times, "scores": scores, "seconds": totals}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print()
    print(f"{'final particle set':24s} {'particles':>9s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'AP':>6s} {'time':>8s}")
    for name, s in scores.items():
        print(f"{name:24s} {s['particles']:9d} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f} "
              f"{s['average_precision']:6.3f} {totals[name]:7.0f}s")
    if chain_error:
        print(f"chain: no final set ({chain_error})")
    print(f"({a.preset}: {next(iter(scores.values()))['true']} true particles on {a.n_mics} micrographs; final Topaz "
          f"threshold {a.final_threshold}; written {a.out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
