"""``cryopick train-ranker``: labelled 2D class averages from simulated projects, and the class scorer trained on them.

Each project is simulated with its own particle (one of five shapes: asymmetric, globular,
elongated, a C7 ring, tetrahedral; its own model seed), size (130–210 Å), contrast and
amounts of junk (carbon, ice, aggregates, broken half particles); from the 121st on, crowded
(30–40 % of the micrograph covered) at low contrast (0.07–0.12). Each is LoG-picked loosely (junk
gets picked too),
extracted and classified by cryopick's Class2D. Every class with more than 10 particles
becomes one example: its 24 features and 64×64 image (what the ranker's network sees, from
:mod:`cryopick.stages.rank_inputs` and :mod:`cryopick.ranking`) and its label
(:mod:`cryopick.ranking.labels`: most of its particles are true particles and its average
matches a true projection). Examples go to ``<out>/project_NNN.npz``; the scorer is trained
on all of them (one project in five held out) and saved as a ``state_dict`` to
``<out>/scorer.pt``. The same ``--seed`` gives the same projects and the same network.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from cryopick.io.paths import ProjectPaths
from cryopick.io.ranker_model import save_scorer, weights_digest
from cryopick.ranking.labels import label_classes, particles_are_true, true_fraction_per_class
from cryopick.sim.density import SHAPES, euler_matrix, make_particle_models, project
from cryopick.sim.params import SimParams
from cryopick.stages import autopick_log, class2d, extract
from cryopick.stages.rank_classes import network_inputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--o", required=True, help="output directory (examples, projects, scorer.pt)")
    p.add_argument("--projects", type=int, default=150, help="simulated projects (default 150; from the 61st on, particles binned by 2; from the 121st on, crowded)")
    p.add_argument("--seed", type=int, default=1, help="seed of the projects and of the training (default 1)")
    p.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    p.add_argument("--keep-projects", action="store_true", help="keep the simulated projects (large)")


#: Shapes the scorer is trained on; :data:`cryopick.sim.density.SHAPES` has one more (``dumbbell``) that
#: only the benchmark uses, a particle the scorer never saw.
TRAINING_SHAPES = SHAPES[:5]


def is_held_out(index: int) -> bool:
    """One project in five is held out, a different shape in each block of five."""
    return index % 5 == (index // 5) % 5


def project_params(index: int, seed: int, crowded: bool = False) -> tuple[SimParams, float]:
    """The index-th project's simulation parameters and picking diameter (Å); ``crowded``: the same project made
    crowded and low in contrast (the benchmark's harder projects, :func:`is_crowded`)."""
    rng = np.random.default_rng([seed, index])
    diameter = float(rng.choice([130.0, 170.0, 210.0]))
    params = SimParams(n_micrographs=6, seed=int(rng.integers(1 << 30)), particles_per_mic=int(rng.integers(20, 40)),
                       diameter_angstrom=diameter, model_seed=int(rng.integers(1 << 30)),
                       particle_contrast=float(rng.uniform(0.12, 0.24)), ice_blobs_per_um2=float(rng.uniform(10, 60)),
                       aggregates_per_um2=float(rng.uniform(10, 60)), carbon_fraction=float(rng.uniform(0.2, 0.7)),
                       particle_shape=TRAINING_SHAPES[index % len(TRAINING_SHAPES)], broken_per_um2=float(rng.uniform(0, 50)))
    if crowded:
        coverage = float(rng.uniform(*CROWDED_COVERAGE))
        area_angstrom2 = params.mic_size_px[0] * params.mic_size_px[1] * params.pixel_size_angstrom ** 2
        params = params.replace(particles_per_mic=int(round(coverage * area_angstrom2 / (np.pi * (diameter / 2) ** 2))),
                                particle_contrast=float(rng.uniform(*CROWDED_CONTRAST)), min_separation_diameters=0.9)
    return params, diameter


#: Crowded projects: particles covering 30–40 % of the micrograph (the ``crowded`` preset: 36 %; the
#: tutorial's: 23 %), at the low contrast of the ``crowded`` preset (0.09), 0.9 diameters apart.
CROWDED_COVERAGE, CROWDED_CONTRAST = (0.30, 0.40), (0.07, 0.12)


#: Training projects from this index on are crowded and low in contrast (and binned by 2, as the
#: tutorial's crowded data is): their averages show neighbouring particles around the centred one.
FIRST_CROWDED_PROJECT = 120


def is_crowded(index: int) -> bool:
    """Whether the benchmark makes project ``index`` crowded: every third block of five (one of each training shape)."""
    return (index // 5) % 3 == 2


#: The classification of every training project: 10 classes, 8 iterations, mask diameter + 20 Å.
CLASSES, ITERATIONS = 10, 8


#: Projects from this index on are binned by 2 at extraction (7 Å/px averages, as the tutorial's box
#: 256 -> 64 gives on 1.77 Å/px micrographs); the first ones keep the micrographs' 3.54 Å/px.
FIRST_BINNED_PROJECT = 60


def extraction_binning(index: int) -> int:
    """Binning of project ``index``'s particles at extraction (1 or 2)."""
    return 1 if index < FIRST_BINNED_PROJECT else 2


def classify_project(root: Path, params: SimParams, diameter: float, float16: bool = True, binning: int = 1) -> str:
    """Simulate, LoG-pick loosely, extract (``Extract/job005/``, binned by ``binning``) and classify; returns the
    last optimiser file."""
    from cryopick.synthetic.project import simulate_project

    simulate_project(params, root)
    star = "CtfFind/job003/micrographs_ctf.star"
    smallest = 0.5 if params.particle_shape == "elongated" else 0.8  # a rod's width, not its length
    autopick_log.run(autopick_log.Params(star, smallest * diameter, diameter, threshold_stddev=-0.5), root,
                     "AutoPick/job004/")
    box = int(2 * round(0.8 * diameter / params.pixel_size_angstrom))
    rescale = 2 * round(box / (2 * binning)) if binning > 1 else None
    extract.run(extract.Params(star, "AutoPick/job004/autopick.star", box_size_px=box, bg_diameter_px=0.75 * box,
                               float16=float16, rescale_px=rescale), root, "Extract/job005/")
    class2d.run(classification_params(diameter), root, "Class2D/job006/")
    return f"Class2D/job006/run_it{ITERATIONS:03d}_optimiser.star"


def classification_params(diameter: float) -> class2d.Params:
    """The Class2D job of a training project (its particles in ``Extract/job005/``)."""
    return class2d.Params("Extract/job005/particles.star", nr_classes=CLASSES, nr_iter=ITERATIONS,
                          mask_diameter_angstrom=diameter + 20)


def true_projection_ncc(averages: np.ndarray, params: SimParams, pixel: float, mask_radius_px: float) -> np.ndarray:
    """Each class average's best NCC with a true projection (coarse search, refined from 0.5 up)."""
    from cryopick.class_metrics import fibonacci_directions, match_classes, refine_fit

    model = make_particle_models(params.diameter_angstrom, 1, params.model_seed, shape=params.particle_shape)[0]
    box = averages.shape[-1]
    directions = fibonacci_directions(300)
    library = np.stack([project(model, (r, t, 0.0), pixel, box) for r, t in directions])
    coarse = match_classes(averages, library, pixel, mask_radius_px)
    ncc = coarse.ncc.astype(np.float64).copy()
    for c in np.flatnonzero(ncc >= 0.5):
        r, t = directions[coarse.projection[c]]
        ncc[c] = refine_fit(averages[c], model, euler_matrix(r, t, -coarse.psi_deg[c]), pixel, mask_radius_px).ncc
    return ncc


def project_examples(root: Path, optimiser: str, params: SimParams) -> dict[str, np.ndarray]:
    """The project's ranked classes: features (n, 24), images (n, 64, 64), labels and what they come from.

    Also, per ranked class, its particles and true particles (hard assignments), and the true
    particles among all of the classification's particles (``true_picked`` of ``all_picked``).
    """
    from cryopick.io.picks import read_truth
    from cryopick.stages.rank_inputs import read_rank_inputs

    inputs = read_rank_inputs(ProjectPaths(root), optimiser)
    pixel, n, ranked = inputs.pixel_size_angstrom, inputs.n_particles, inputs.ranked
    truth = read_truth(root / "GroundTruth/particles.star")
    is_true = particles_are_true(inputs.particle_micrographs, inputs.particle_xy_px, truth.xy_by_mic,
                                 params.diameter_angstrom / (2 * truth.pixel_size_angstrom))
    fraction = true_fraction_per_class(inputs.particle_classes, is_true, len(inputs.classes))
    features, images = network_inputs(inputs)  # exactly what `cryopick rank` gives the scorer
    ncc = true_projection_ncc(inputs.averages[ranked], params, pixel, inputs.diameter_angstrom / (2 * pixel))
    labels = label_classes(fraction[ranked], ncc)
    members = np.bincount(inputs.particle_classes - 1, minlength=len(inputs.classes))
    true_members = np.bincount(inputs.particle_classes - 1, weights=is_true, minlength=len(inputs.classes))
    return {"features": features, "images": images, "good": labels.good, "true_fraction": fraction[ranked], "ncc": ncc,
            "n_particles": members[ranked], "n_true": true_members[ranked].astype(np.int64),
            "true_picked": np.int64(is_true.sum()), "all_picked": np.int64(n)}


def off_centre_copies(images: np.ndarray, rng: np.random.Generator, shift_fraction: tuple[float, float] = (0.3, 0.45)
                      ) -> np.ndarray:
    """Copies of good class images moved off-centre by 30–45 % of the window (zero-filled), to be labelled bad.

    Simulated classifications rarely give an off-centre average of a real particle, which a
    picker that picks beside particles produces; these copies teach the image network that a
    good average is centred. Their features are the originals' (the network's image branch
    must tell them apart).

    Parameters
    ----------
    images : np.ndarray, shape (n, 64, 64)

    Returns
    -------
    np.ndarray, shape (n, 64, 64)
    """
    n, size = len(images), images.shape[-1]
    out = np.zeros_like(images)
    for k in range(n):
        angle = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(*shift_fraction) * size
        dy, dx = int(round(dist * np.sin(angle))), int(round(dist * np.cos(angle)))
        src = images[k, max(0, -dy):size - max(0, dy), max(0, -dx):size - max(0, dx)]
        out[k, max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def train_scorer(examples: list[dict[str, np.ndarray]], epochs: int, seed: int) -> tuple[object, dict]:
    """Train the scorer on all but one project in five (plus off-centre copies of their good classes, labelled
    bad); returns it and its held-out figures (on the held-out projects' classes only)."""
    import torch

    from cryopick.ranking.scorer import build_scorer, score, standardise_images

    held = [e for k, e in enumerate(examples) if is_held_out(k)]
    train = [e for k, e in enumerate(examples) if not is_held_out(k)]
    images = np.concatenate([e["images"] for e in train])
    features = np.concatenate([e["features"] for e in train]).astype(np.float32)
    good = np.concatenate([e["good"] for e in train]).astype(bool)
    shifted = off_centre_copies(images[good], np.random.default_rng([seed, 7]))
    x = torch.from_numpy(standardise_images(np.concatenate([images, shifted])))
    f = torch.from_numpy(np.concatenate([features, features[good]]))
    y = torch.from_numpy(np.concatenate([good, np.zeros(len(shifted), bool)]).astype(np.float32))
    model = build_scorer(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    # good classes are rare (about one in six): weight them by the square root of the imbalance, a compromise
    # between ranking well (full weight) and few false selections at 0.5 (no weight)
    positive_weight = torch.tensor(float((y == 0).sum()) / max(float(y.sum()), 1.0)).sqrt()
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(y), generator=generator).split(32):
            optimiser.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[batch], f[batch]), y[batch],
                                                                        pos_weight=positive_weight)
            loss.backward()
            optimiser.step()
    figures = {"training_classes": int(len(good)), "training_good": int(good.sum()),
               "training_off_centre_copies": int(len(shifted))}
    if held:
        s = score(model, np.concatenate([e["images"] for e in held]), np.concatenate([e["features"] for e in held]))
        good = np.concatenate([e["good"] for e in held])
        figures.update({"held_out_classes": int(len(good)), "held_out_good": int(good.sum()),
                        "held_out_accuracy_at_0.5": float(((s >= 0.5) == good).mean()),
                        "held_out_auc": roc_auc(good, s)})
    return model, figures


def roc_auc(good: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (the probability a good class outscores a bad one; ties count half)."""
    good = np.asarray(good, dtype=bool)
    pos, neg = np.asarray(scores)[good], np.asarray(scores)[~good]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg)))


def main(args: argparse.Namespace) -> int:
    out = Path(args.o)
    out.mkdir(parents=True, exist_ok=True)
    examples = []
    for k in range(args.projects):
        path = out / f"project_{k:03d}.npz"
        if not path.exists():
            t0 = time.perf_counter()
            params, diameter = project_params(k, args.seed, crowded=k >= FIRST_CROWDED_PROJECT)
            root = out / f"project_{k:03d}"
            if root.exists():
                shutil.rmtree(root)
            optimiser = classify_project(root, params, diameter, binning=extraction_binning(k))
            np.savez(path, **project_examples(root, optimiser, params))
            if not args.keep_projects:
                shutil.rmtree(root)
            print(f"project {k}: {time.perf_counter() - t0:.0f} s", flush=True)
        with np.load(path) as data:
            examples.append({name: data[name] for name in data.files})
        e = examples[-1]
        print(f"project {k}: {len(e['good'])} classes, {int(e['good'].sum())} good", flush=True)
    model, figures = train_scorer(examples, args.epochs, args.seed)
    save_scorer(model, out / "scorer.pt")
    provenance = {"command": f"cryopick train-ranker --projects {args.projects} --seed {args.seed} --epochs {args.epochs}",
                  "weights_sha256_16": weights_digest(out / "scorer.pt"),
                  "label": "good = true fraction >= 0.8 and NCC with a true projection >= 0.85 (cryopick.ranking.labels)",
                  **figures}
    (out / "scorer.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0
