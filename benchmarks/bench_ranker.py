"""The class ranker against the truth, on classifications it never saw, including RELION 3.1's. One run.

Projects: ``--projects`` simulated projects made as ``cryopick train-ranker`` makes its training
projects (:func:`cryopick.cli.train_ranker.project_params`) but from another seed (``--seed``,
default 1000: other molecules, sizes, contrast and junk), their shapes cycling through all six
of :data:`cryopick.sim.density.SHAPES`, so every sixth project is a ``dumbbell``, a shape the
shipped scorer was never trained on. Each is LoG-picked loosely, extracted (float32; every
other project binned by 2, 7 Å/px) and classified twice on the same particles:

* by ``cryopick class2d`` (10 classes, 8 iterations, as in training), and, for the first
  ``--relion`` projects,
* by RELION 3.1's ``relion_refine`` with the same settings (a different classifier, with
  different noise in its averages).

Every class with more than 10 particles is scored by the shipped scorer exactly as ``cryopick
rank`` scores it, and labelled by :mod:`cryopick.ranking.labels` (good: at least 80 % of its
particles are true particles and its average matches a true projection, NCC ≥ 0.85). Reported
per classifier and for the unseen shape alone:

* ROC AUC of the scores against the labels, and accuracy at a threshold of 0.5;
* the particles passed on (classes scoring ≥ 0.5): the precision (true particles among them)
  and the recall (of the true particles among all picked particles).

The crowded, low-contrast projects (one block of five in three, :func:`cryopick.cli.train_ranker.is_crowded`)
are also reported alone. ``--compare NAME=SCORER_PT`` scores the same classes with another scorer (an
earlier or retrained one) in the same run, and a last table shows what a perfect ranker (exactly the
classes labelled good) would pass on: the bound the labels put on the passed-on precision.
``--workdir DIR`` keeps every project's labelled classes (``project_NNN_<classifier>.npz``); run again
with the same directory, the script scores them without classifying again.

Targets (issue 10): AUC ≥ 0.95, ≥ 95 % true particles among those selected.

Usage: ``python benchmarks/bench_ranker.py [--projects 12] [--relion 3] [--seed 1000] [--workdir DIR]
[--compare NAME=SCORER_PT ...]``
Writes ``bench_out/bench_ranker.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from cryopick.cli.train_ranker import (classification_params, classify_project, is_crowded, project_examples,
                                      project_params, roc_auc)
from cryopick.io.ranker_model import SHIPPED_WEIGHTS, load_scorer, weights_digest
from cryopick.ranking.scorer import score
from cryopick.sim.density import SHAPES
from cryopick.stages import class2d

THRESHOLD = 0.5


def relion_classify(root: Path, diameter: float) -> str:
    """RELION 3.1 relion_refine on the project's Extract/job005/ particles, the same Class2D settings; Class2D/job007/."""
    p = classification_params(diameter)
    job = "Class2D/job007/"
    (root / job).mkdir(parents=True, exist_ok=True)
    args = [a for a in class2d.relion_arguments(p, job) if a != "--center_classes"]  # not in RELION 3.1
    with open(root / job / "run.out", "w") as log:
        subprocess.run(["relion_refine", *args], cwd=root, stdout=log, stderr=subprocess.STDOUT, check=True)
    return f"{job}run_it{p.nr_iter:03d}_optimiser.star"


def figures(examples: list[dict]) -> dict:
    """AUC, accuracy at 0.5 and the passed-on particles' precision and recall over a set of projects."""
    if not examples:
        return {}
    good = np.concatenate([e["good"] for e in examples]).astype(bool)
    s = np.concatenate([e["score"] for e in examples])
    n = np.concatenate([e["n_particles"] for e in examples])
    t = np.concatenate([e["n_true"] for e in examples])
    picked_true = sum(int(e["true_picked"]) for e in examples)
    passed = s >= THRESHOLD
    return {"projects": len(examples), "classes": int(len(good)), "good_classes": int(good.sum()),
            "auc": roc_auc(good, s), "accuracy_at_0.5": float((passed == good).mean()),
            "selected_classes": int(passed.sum()), "selected_particles": int(n[passed].sum()),
            "precision_of_selected_particles": float(t[passed].sum() / max(n[passed].sum(), 1)),
            "recall_of_true_particles": float(t[passed].sum() / max(picked_true, 1)),
            "precision_of_all_picked_particles": float(picked_true / max(sum(int(e["all_picked"]) for e in examples), 1))}


def classified_examples(work: Path, i: int, seed: int, relion: bool) -> list[tuple[str, dict, str]]:
    """Project ``i``'s labelled classes, per classifier: (classifier, examples, shape).

    The examples are kept in ``work/project_NNN_<classifier>.npz``; a later run with the same
    ``--workdir`` reads them instead of classifying again (to score them with another scorer).
    """
    params, diameter = project_params(i, seed, crowded=is_crowded(i))
    params = params.replace(particle_shape=SHAPES[i % len(SHAPES)])
    binning = 1 + i % 2  # every other project's particles binned by 2 (7 Å/px averages)
    names = ["cryopick class2d"] + (["RELION 3.1 relion_refine"] if relion else [])
    files = [work / f"project_{i:03d}_{'relion' if 'RELION' in n else 'cryopick'}.npz" for n in names]
    if all(f.exists() for f in files):
        out = []
        for n, f in zip(names, files):
            with np.load(f) as data:
                out.append((n, {k: data[k] for k in data.files}, params.particle_shape))
        return out
    root = work / f"project_{i:03d}"
    if root.exists():
        shutil.rmtree(root)
    t0 = time.perf_counter()
    optimisers = [classify_project(root, params, diameter, float16=False, binning=binning)]
    if relion:
        optimisers.append(relion_classify(root, diameter))
    out = []
    for name, optimiser, path in zip(names, optimisers, files):
        e = project_examples(root, optimiser, params)
        np.savez(path, **e)
        out.append((name, e, params.particle_shape))
    print(f"project {i} ({params.particle_shape}, {diameter:g} A, {params.particles_per_mic} per micrograph, contrast "
          f"{params.particle_contrast:.3f}, binned {binning}): classified in {time.perf_counter() - t0:.0f} s", flush=True)
    shutil.rmtree(root)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--projects", type=int, default=12)
    ap.add_argument("--relion", type=int, default=3, help="projects also classified by RELION 3.1 (0: none)")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--workdir", type=Path, default=None, help="keeps each project's labelled classes; reused when given again")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=SCORER_PT",
                    help="also score with this scorer (state_dict), e.g. an earlier or a retrained one; repeatable")
    ap.add_argument("--out", type=Path, default=Path("bench_out/bench_ranker.json"))
    a = ap.parse_args()
    if a.relion and shutil.which("relion_refine") is None:
        raise SystemExit("relion_refine (RELION 3.1) is not installed: `make relion`, or --relion 0")
    work = a.workdir or Path(tempfile.mkdtemp(prefix="bench_ranker_"))
    work.mkdir(parents=True, exist_ok=True)
    scorers = {f"shipped {weights_digest(SHIPPED_WEIGHTS)}": SHIPPED_WEIGHTS}
    for item in a.compare:
        name, _, path = item.partition("=")
        scorers[f"{name} {weights_digest(Path(path))}"] = Path(path)
    groups: dict[str, list[dict]] = {"cryopick class2d": [], "RELION 3.1 relion_refine": [],
                                     "cryopick class2d, unseen shape (dumbbell)": [],
                                     "cryopick class2d, crowded low-contrast projects": []}
    for i in range(a.projects):
        for name, e, shape in classified_examples(work, i, a.seed, i < a.relion):
            groups[name].append(e)
            if shape not in SHAPES[:5]:
                groups[f"{name}, unseen shape (dumbbell)"].append(e)
            if name == "cryopick class2d" and is_crowded(i):
                groups["cryopick class2d, crowded low-contrast projects"].append(e)
    results: dict[str, dict] = {}
    for label, path in scorers.items():
        model, _ = load_scorer(path, "cpu")
        for examples in groups.values():
            for e in examples:
                e["score"] = score(model, e["images"], e["features"])
        results[label] = {name: figures(ex) for name, ex in groups.items() if ex}
    for examples in groups.values():  # a perfect ranker: exactly the classes labelled good pass
        for e in examples:
            e["score"] = e["good"].astype(float)
    results["truth labels (a perfect ranker)"] = {name: figures(ex) for name, ex in groups.items() if ex}
    report = {"seed": a.seed, "threshold": THRESHOLD, "results": results}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nclasses labelled in {work}")
    for label, rows in results.items():
        print(f"\nscorer: {label}")
        print(f"{'classifier':48s} {'classes':>7s} {'good':>5s} {'AUC':>6s} {'acc@0.5':>8s} {'sel.cls':>7s} "
              f"{'sel.parts':>9s} {'precision':>9s} {'recall':>7s} {'all picks':>9s}")
        for name, f in rows.items():
            print(f"{name:48s} {f['classes']:7d} {f['good_classes']:5d} {f['auc']:6.3f} {f['accuracy_at_0.5']:8.3f} "
                  f"{f['selected_classes']:7d} {f['selected_particles']:9d} {f['precision_of_selected_particles']:9.3f} "
                  f"{f['recall_of_true_particles']:7.3f} {f['precision_of_all_picked_particles']:9.3f}")
    print("\nprecision: true particles among the selected classes' particles; recall: of the true particles picked; "
          "all picks: true particles among every classified particle (no selection)")
    print(f"written {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
