"""Automatic 2D class selection: RELION's Select job with the class ranker (relion_spec.md §5).

"Select classes from job" names a 2D classification's ``run_itNNN_optimiser.star``. Every class
with more than 10 particles gets RELION's 24 features and its 64×64 image (:mod:`cryopick.ranking`)
and a score from 0 ("absolute rubbish") to 1 ("gorgeous") from cryopick's scorer network
(shipped weights, or a weights file in the project given with ``--model`` as RELION's
``--fn_pytorch_model``, read as tensors only: :mod:`cryopick.io.ranker_model`; smaller classes
score −999). Classes scoring between the minimum and maximum thresholds are selected, topped
up in order of score to a minimum number of particles or classes if asked. Writes what RELION's
Select job writes:

``rank_model.star``, ``rank_optimiser.star``, ``rank_data.star``
    The classification with rlnClassScore per class (the model holds only ``model_classes``).
``particles.star``
    The particles of the selected classes, in their original order, with the optics table.
``class_averages.star``
    The selected class averages, by decreasing score.
``backup_selection.star``
    rlnSelected (1/0) per class.
``features.npy``, ``images.npy``
    The network's inputs (float32, (n, 24) and (n, 64, 64)), as RELION leaves them.
``class_scores.pdf``
    The gallery: every class by decreasing score, with its score and particle count, selected
    classes marked.

Deviations from RELION 4, stated: the scorer is cryopick's own network (RELION's trained
weights are not available); accuracies that model.star does not give (999, as VDAM and
cryopick's Class2D write) are not re-estimated from particles but set to RELION's small-class
values (5°, 8 Å), as in the scorer's training, so they carry no information; the first-peak
CTF division (``--ctf_intact_first_peak`` classifications) is not implemented and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io import nodes
from cryopick.io.atomic import atomic_path
from cryopick.io.paths import ProjectPaths
from cryopick.io.ranker_model import SHIPPED_WEIGHTS, load_scorer, weights_digest
from cryopick.io.star import RawTable, list_table, write_star
from cryopick.ranking.class_features import SMALL_CLASS_ACCURACY, class_model_features
from cryopick.ranking.image_features import LOWPASS_ANGSTROM, RADIUS_RATIO, class_image_features
from cryopick.ranking.network_input import CNN_IMAGE_PX, ClassFeatures, cnn_image, feature_vector
from cryopick.ranking.selection import SKIPPED_SCORE, select_classes
from cryopick.report.gallery import write_class_gallery
from cryopick.stages.base import Stage, StageContext, StageResult, resolve_device
from cryopick.stages.fields import input_file, param, runtime
from cryopick.stages.rank_inputs import RankInputs, read_rank_inputs

#: Model-class labels RELION's rank_model.star keeps (rlnClassScore goes after rlnReferenceImage).
RANK_MODEL_LABELS = ("rlnReferenceImage", "rlnClassDistribution", "rlnAccuracyRotations",
                     "rlnAccuracyTranslationsAngst", "rlnEstimatedResolution", "rlnOverallFourierCompleteness",
                     "rlnClassPriorOffsetX", "rlnClassPriorOffsetY")
GALLERY_PDF = "class_scores.pdf"


@dataclass(frozen=True)
class Params:
    """Select job, "Class options" tab with "Automatically select 2D classes? Yes"."""

    optimiser_star: str = input_file(help="Select classes from job (its _optimiser.star)", cli="--i",
                                     node=nodes.OPTIMISER_CLASS2D, job_option="fn_model")
    model_path: str = input_file(help="Class-scorer weights (default: the scorer shipped with cryopick)", cli="--model",
                                 required=False)
    min_score: float = param(0.5, help="Minimum threshold for auto-selection", cli="--min-score",
                             relion="--min_score", relion_default=0.5, job_option="rank_threshold")
    max_score: float = param(999.0, help="Maximum score for auto-selection", cli="--max-score", relion="--max_score")
    select_min_nr_particles: int = param(-1, help="Select at least this many particles (-1: off)",
                                         cli="--min-particles", relion="--select_min_nr_particles",
                                         relion_default=-1, job_option="select_nr_parts")
    select_min_nr_classes: int = param(-1, help="OR: select at least this many classes (-1: off)",
                                       cli="--min-classes", relion="--select_min_nr_classes", relion_default=-1,
                                       job_option="select_nr_classes")
    lowpass_angstrom: float = param(25.0, help="Low-pass filter of the averages before the features", cli="--lowpass",
                                    unit="Å", relion="--lowpass", minimum=1e-3)
    radius_ratio: float = param(0.95, help="Inner radius of the ring features, as a fraction of the mask radius",
                                cli="--radius-ratio", relion="--radius_ratio", minimum=0.0, maximum=1.0)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device")

    def validate(self) -> None:
        if self.select_min_nr_particles > 0 and self.select_min_nr_classes > 0:
            raise BadInputError("auto-selection: give a minimum number of particles (--min-particles) or of classes "
                                "(--min-classes), not both")
        if self.min_score > self.max_score:
            raise BadInputError(f"auto-selection: the minimum score {self.min_score} is above the maximum score "
                                f"{self.max_score}")


@dataclass
class _Plan:
    inputs: RankInputs
    device: str
    weights: Path
    weights_digest: str
    model: Any
    cached: bool

    @property
    def fingerprint_extra(self) -> dict:
        return {"scorer_weights": self.weights_digest}


def scorer_weights(params: Params, project: ProjectPaths) -> Path:
    """The weights file the job scores with: ``--model`` (inside the project), else the shipped one."""
    return project.read_path(params.model_path, "class-scorer weights") if params.model_path else SHIPPED_WEIGHTS


def _prepare(params: Params, project: ProjectPaths) -> _Plan:
    inputs = read_rank_inputs(project, params.optimiser_star)
    where = params.optimiser_star
    if not inputs.ctf_corrected:
        raise BadInputError(f"{where}: the classification did not correct CTFs (rlnDoCorrectCtf 0); the class "
                            "ranker's features are defined on CTF-corrected averages, as RELION requires")
    if inputs.ignore_ctf_until_first_peak:
        raise BadInputError(f"{where}: the classification ignored CTFs until their first peak; dividing the "
                            "averages by that CTF before ranking (RELION does) is not implemented in cryopick")
    device = resolve_device(params.device)
    weights = scorer_weights(params, project)
    model, cached = load_scorer(weights, device)  # a missing or corrupt weights file fails before the job begins
    return _Plan(inputs, device, weights, weights_digest(weights), model, cached)


def network_inputs(inputs: RankInputs, lowpass_angstrom: float = LOWPASS_ANGSTROM,
                   radius_ratio: float = RADIUS_RATIO) -> tuple[np.ndarray, np.ndarray]:
    """The scorer's inputs for the ranked classes (``inputs.ranked``), as the ranker and its training see them.

    Returns
    -------
    features : np.ndarray, shape (n, 24), float32
    images : np.ndarray, shape (n, 64, 64), float32
    """
    pixel, diameter = inputs.pixel_size_angstrom, inputs.diameter_angstrom
    box = inputs.averages.shape[-1]
    features = [ClassFeatures(class_model_features(inputs.classes[k], inputs.n_particles, box, pixel,
                                                   reestimated_accuracies=SMALL_CLASS_ACCURACY),
                              class_image_features(inputs.averages[k], pixel, diameter, lowpass_angstrom, radius_ratio))
                for k in inputs.ranked]
    images = np.zeros((len(inputs.ranked), CNN_IMAGE_PX, CNN_IMAGE_PX), np.float32)
    for n, k in enumerate(inputs.ranked):
        images[n] = cnn_image(inputs.averages[k], pixel, diameter)
    return feature_vector(features), images


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    from cryopick.ranking.scorer import score

    p, inputs = ctx.params, plan.inputs
    k_total = len(inputs.classes)
    ranked = inputs.ranked
    ctx.log(f" + Ranking {len(ranked)} of {k_total} classes of {p.optimiser_star} "
            f"({inputs.n_particles} particles; classes of 10 particles or fewer are not scored)")
    features, images = network_inputs(inputs, p.lowpass_angstrom, p.radius_ratio)
    for name, array in (("features.npy", features), ("images.npy", images)):
        with atomic_path(ctx.job.output(name)) as tmp, open(tmp, "wb") as fh:
            np.save(fh, array)
    ctx.log(f" + scorer {plan.weights if p.model_path else plan.weights.name} ({plan.weights_digest}) on "
            f"{plan.device}{', already in memory' if plan.cached else ''}")
    scores = np.full(k_total, SKIPPED_SCORE)
    if len(ranked):
        scores[ranked] = score(plan.model, images, features)
    counts = inputs.particle_counts
    selected = select_classes(scores, counts, p.min_score, p.max_score, p.select_min_nr_particles,
                              p.select_min_nr_classes)
    if not selected.any():
        best = f"the best scored {scores.max():.3f}" if len(ranked) else "no class has more than 10 particles"
        raise BadInputError(f"{p.optimiser_star}: no class was selected ({best}; the window is {p.min_score:g} to "
                            f"{p.max_score:g}); lower --min-score, or set --min-classes or --min-particles")
    n_selected_particles = _write_outputs(ctx, inputs, scores, selected)
    _write_gallery(ctx, inputs, scores, selected)
    for k in np.argsort(-scores, kind="stable"):
        ctx.log(f"   class {k + 1:3d}: score {scores[k]:8.3f}, {counts[k]:7.1f} particles"
                f"{'  selected' if selected[k] else ''}")
    ctx.log(f" + Selected {int(selected.sum())} classes with {n_selected_particles} particles")
    rel = ctx.job.rel
    scored = scores[ranked]
    return StageResult(
        job_dir=rel,
        output_nodes=[(f"{rel}particles.star", nodes.PARTICLES), (f"{rel}class_averages.star", nodes.CLASS_AVERAGES),
                      (f"{rel}rank_optimiser.star", nodes.OPTIMISER_AUTOSELECT)],
        counts={"classes": k_total, "scored_classes": len(ranked), "selected_classes": int(selected.sum()),
                "particles": inputs.n_particles, "selected_particles": n_selected_particles},
        summary={"mean_score": float(scored.mean()) if len(scored) else float("nan"),
                 "max_score": float(scored.max()) if len(scored) else float("nan")},
        figures=[f"{rel}{GALLERY_PDF}"],
    )


def _write_outputs(ctx: StageContext, inputs: RankInputs, scores: np.ndarray, selected: np.ndarray) -> int:
    """RELION's Select-job files, from the tables the job read; returns the number of selected particles."""
    job = ctx.job
    classes = inputs.model_classes
    rank_model = {"rlnReferenceImage": classes["rlnReferenceImage"], "rlnClassScore": scores}
    rank_model.update({label: classes[label] for label in RANK_MODEL_LABELS[1:] if label in classes})

    keep = selected[inputs.particle_classes - 1]
    particles = {name: t if name != "particles" else RawTable({lab: np.asarray(v)[keep] for lab, v in t.columns.items()})
                 for name, t in inputs.data_tables.items()}

    opt = {**inputs.optimiser_row, "rlnModelStarFile": f"{job.rel}rank_model.star",
           "rlnExperimentalDataStarFile": f"{job.rel}rank_data.star"}

    order = [k for k in np.argsort(-scores, kind="stable") if selected[k]]
    averages = {"rlnReferenceImage": [classes["rlnReferenceImage"][k] for k in order],
                "rlnPredictedClassScore": scores[order]}
    averages.update({label: np.asarray(classes[label])[order] for label in RANK_MODEL_LABELS[1:5] if label in classes})

    write_star(job.output("rank_model.star"), {"model_classes": rank_model})
    write_star(job.output("rank_data.star"), inputs.data_tables)
    write_star(job.output("rank_optimiser.star"), {"optimiser_general": list_table(opt)})
    write_star(job.output("backup_selection.star"), {"": {"rlnSelected": selected.astype(np.int64)}})
    write_star(job.output("class_averages.star"), {"": averages})
    write_star(job.output("particles.star"), particles)  # the job's main output, written last
    return int(keep.sum())


def _write_gallery(ctx: StageContext, inputs: RankInputs, scores: np.ndarray, selected: np.ndarray) -> None:
    counts = np.bincount(inputs.particle_classes - 1, minlength=len(scores))
    labels = [f"score {s:.2f}{' SELECTED' if sel else ''}" if s != SKIPPED_SCORE else "not scored"
              for s, sel in zip(scores, selected)]
    distribution = np.array([c.class_distribution for c in inputs.classes])
    write_class_gallery(ctx.job.output(GALLERY_PDF), inputs.averages, distribution, counts,
                        order=np.argsort(-scores, kind="stable"), extra_labels=labels,
                        heading=f"{ctx.params.optimiser_star}: {int(selected.sum())} of {len(scores)} classes selected "
                                f"(score {ctx.params.min_score:g} to {ctx.params.max_score:g})")


run = Stage("rank", _prepare, _execute, job_options=lambda p: {"do_class_ranker": True}).run
