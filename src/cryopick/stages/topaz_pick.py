"""Topaz picking: RELION's AutoPick job, Topaz tab, "Perform topaz picking? Yes" (relion_spec.md §6).

The network scores every micrograph in this process: the model is loaded once per process
(:func:`scoring_model`), each micrograph is binned and normalised in memory as RELION's
wrapper does (:mod:`cryopick.picking.topaz_preprocess`), scored under ``torch.no_grad()`` and
reduced to picks by non-maximum suppression within the particle radius
(:mod:`cryopick.picking.topaz_score`). Nothing is written but the job's outputs:

``<job>/autopick.star``
    ``data_coordinate_files``: rlnMicrographName -> rlnMicrographCoordinates.
``<job>/<post(mic) without ext>_autopick.star``
    One coordinate file per micrograph; the Topaz score (a log-likelihood ratio, typically
    −6 … +10) in rlnAutopickFigureOfMerit, rlnClassNumber and rlnAnglePsi 0, as RELION.
``<job>/summary.star``, ``<job>/logfile.pdf``
    As for LoG picking.

Models: with no ``--model``, Topaz's pretrained network (resnet16_u64, ``topaz extract``'s
default) from the topaz-em package. A ``.sav`` file must lie inside the project and is loaded
with a restricted unpickler (:mod:`cryopick.io.topaz_model`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io import nodes
from cryopick.io.coords import picks_columns, read_coordinates, write_coordinate_list, write_coordinates
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import as_written
from cryopick.io.topaz_model import DEFAULT_PRETRAINED, PRETRAINED, load_pretrained, load_sav
from cryopick.precision import Precision, resolve_precision
from cryopick.picking.topaz_geometry import TopazGeometry
from cryopick.picking.topaz_preprocess import micrograph_rng, prepare_micrograph
from cryopick.picking.topaz_score import picks_from_scores, prepare_model, score_map
from cryopick.report.pdf import BarChart
from cryopick.stages.autopick_reports import write_autopick_reports
from cryopick.stages.base import Stage, StageContext, StageResult, read_micrographs, resolve_device
from cryopick.stages.fields import input_file, param, runtime

SUFFIX = "_autopick.star"
#: The tutorial's extraction threshold, for the log's "good picks" panel.
GOOD_FOM = -3.0


@dataclass(frozen=True)
class Params:
    """AutoPick job, "Topaz" tab: picking."""

    micrographs_star: str = input_file(help="Input micrographs for autopick", cli="--i", node=nodes.MICROGRAPHS,
                                       job_option="fn_input_autopick")
    particle_diameter_angstrom: float = param(help="Particle diameter", cli="--diameter", unit="Å",
                                              relion="--particle_diameter", job_option="topaz_particle_diameter",
                                              minimum=1e-3)
    model_path: str = input_file(help="Trained topaz model (default: Topaz's pretrained network)", cli="--model",
                                 job_option="topaz_model", required=False)
    pretrained_model: Literal["resnet16_u64", "resnet16_u32", "resnet8_u64", "resnet8_u32"] = param(
        DEFAULT_PRETRAINED, help="Pretrained network used when no model is given", cli="--pretrained")
    normalisation: Literal["gmm", "relion"] = param(
        "gmm", help="Micrograph normalisation: topaz preprocess's GMM, or RELION wrapper's mean/std",
        cli="--normalise")
    seed: int = param(1, help="Seed of the GMM normalisation's pixel sample", cli="--seed")
    precision: Precision = param(
        "auto", help="Arithmetic of the network: float32 (the topaz CLI's scores), bfloat16 (about 2x faster on "
        "CPUs with native bfloat16; scores within ~0.2), or auto (bfloat16 on such CPUs, else float32)",
        cli="--precision")
    threshold: float = param(-6.0, help="Log-likelihood threshold of the picks kept", cli="--threshold",
                             relion="--topaz_threshold")
    downscale: int | None = param(None, help="Downscaling factor (default: from the diameter)", cli="--downscale",
                                  relion="--topaz_downscale", minimum=1)
    radius_px: int | None = param(None, help="Picking radius in downscaled pixels (default: from the diameter)",
                                  cli="--radius", unit="px", relion="--topaz_radius", minimum=0)
    nr_particles_per_micrograph: int = param(
        0, help="Expected particles per micrograph (0: not given); the job then reports the FOM above which that "
        "many particles per micrograph lie (fom_at_expected_count), a threshold for the final extraction",
        cli="--per-mic", minimum=0)
    threads: int = runtime(0, help="CPU threads for the network (0: torch's default, all cores)", cli="--threads",
                           minimum=0, maximum=1024)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device", relion="--gpu")
    skip_failed_micrographs: bool = runtime(False, help="Succeed without micrographs that cannot be read",
                                            cli="--skip-failed")


#: Networks kept in memory per process (a service picking with many trained models drops the oldest).
MAX_CACHED_MODELS = 4
_MODELS: OrderedDict[tuple, Any] = OrderedDict()
_MODELS_LOCK = threading.Lock()


def scoring_model(source: str, device: str, precision: str = "float32") -> tuple[Any, bool]:
    """The prepared network for ``source`` (a pretrained name or an absolute ``.sav`` path), loaded
    once per process, device and precision; a changed ``.sav`` file (size or mtime) is loaded again.

    Returns
    -------
    model : topaz LinearClassifier
    cached : bool
        It was already in memory.
    """
    if source in PRETRAINED:
        key: tuple = (source, device, precision)
    else:
        st = os.stat(source)
        key = (source, st.st_size, st.st_mtime_ns, device, precision)
    with _MODELS_LOCK:
        cached = key in _MODELS
        if cached:
            _MODELS.move_to_end(key)
        else:
            model = load_pretrained(source) if source in PRETRAINED else load_sav(source)
            _MODELS[key] = prepare_model(model, device, precision)
            while len(_MODELS) > MAX_CACHED_MODELS:
                _MODELS.popitem(last=False)
        return _MODELS[key], cached


@dataclass
class _Plan:
    names: list[str]
    pixel_size_angstrom: float
    geometry: TopazGeometry
    model_source: str
    model: Any
    cached: bool
    device: str
    precision: str

    @property
    def fingerprint_extra(self) -> dict:
        return {"pixel_size_used": self.pixel_size_angstrom, "model": self.model_source,
                "precision_used": self.precision}


def model_source(params: Any, project: ProjectPaths) -> str:
    """A pretrained network's name, or the checked absolute path of the project's ``.sav`` file."""
    if not params.model_path:
        return params.pretrained_model
    path = project.read_path(params.model_path, "topaz model")
    if not path.is_file():
        raise MissingFileError(f"{path}: topaz model file not found")
    return str(path)


def _prepare(params: Params, project: ProjectPaths) -> _Plan:
    names, apix = read_micrographs(project, params.micrographs_star)
    geometry = TopazGeometry.for_particle(params.particle_diameter_angstrom, apix, params.downscale, params.radius_px)
    device = resolve_device(params.device)
    precision = resolve_precision(params.precision, device)
    source = model_source(params, project)
    return _Plan(names, apix, geometry, source, *scoring_model(source, device, precision), device, precision)


@dataclass(frozen=True)
class _Done:
    micrograph: str
    coord_file: str
    fom: np.ndarray


def read_binned(ctx: StageContext, name: str, downscale: int) -> np.ndarray:
    """Micrograph ``name`` binned and normalised for the network (the job's normalisation and seed)."""
    mic = ctx.read_micrograph(name)
    if min(mic.shape) // downscale < 8:
        raise BadInputError(f"{ctx.micrograph_path(name)}: {mic.shape[1]}x{mic.shape[0]} px is too small to bin by "
                            f"{downscale}")
    p = ctx.params
    try:
        return prepare_micrograph(mic, downscale, p.normalisation, micrograph_rng(p.seed, name))
    except ValueError as exc:
        raise BadInputError(f"{ctx.micrograph_path(name)}: cannot normalise it for Topaz: {exc}") from None


def _pick_all(ctx: StageContext, plan: _Plan) -> list:
    """Pick every micrograph; the next one is read and binned while the network scores this one."""
    g = plan.geometry
    todo = []
    for name in plan.names:
        rel, path = ctx.job.item_output(name, SUFFIX)
        todo.append((name, rel, path, ctx.reuse and path.exists()))

    def load(item):
        name, _, _, reused = item
        return None if reused else read_binned(ctx, name, g.downscale)

    with ThreadPoolExecutor(max_workers=1) as reader:
        futures = [None] * len(todo)
        if todo:
            futures[0] = reader.submit(load, todo[0])

        def work(index_item):
            i, (name, rel, path, reused) = index_item
            if i + 1 < len(todo):
                futures[i + 1] = reader.submit(load, todo[i + 1])
            image = futures[i].result()
            if reused:
                fom = read_coordinates(path).get("rlnAutopickFigureOfMerit", np.zeros(0))
                return _Done(name, rel, np.asarray(fom, dtype=float))
            picks = picks_from_scores(score_map(plan.model, image, plan.device), g.pick_radius_px,
                                      ctx.params.threshold, g.downscale)
            write_coordinates(path, picks_columns(picks.x_px, picks.y_px, picks.score))
            return _Done(name, rel, as_written(picks.score))  # what extraction will read and threshold

        return ctx.for_each(list(enumerate(todo)), work, name=lambda it: it[1][0], threads=1,
                            note=lambda d: f"{len(d.fom)} picks")


def fom_at_count(fom: np.ndarray, count: int) -> float:
    """The FOM threshold that keeps the ``count`` best picks: ``count`` picks have a FOM above it
    (strictly, as extraction's --min-fom compares; ties aside). It is the (count + 1)-th best FOM, or
    just below the lowest when there are no more than ``count`` picks; NaN when ``count`` is 0.
    """
    if count <= 0 or fom.size == 0:
        return float("nan")
    ranked = np.sort(np.asarray(fom, dtype=np.float64))[::-1]
    return float(ranked[count]) if count < ranked.size else float(np.nextafter(ranked[-1], -np.inf))


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    import torch

    p, g = ctx.params, plan.geometry
    if p.threads > 0 and plan.device == "cpu":
        torch.set_num_threads(p.threads)
    model_name = os.path.relpath(plan.model_source, ctx.root) if p.model_path else f"pretrained {plan.model_source}"
    ctx.log(f" + Topaz picking of {len(plan.names)} micrographs from {p.micrographs_star} with {model_name} on {plan.device}"
            f" in {plan.precision}"
            f" ({'already in memory' if plan.cached else 'loaded'})")
    ctx.log(f" + pixel size {plan.pixel_size_angstrom:g} A, diameter {p.particle_diameter_angstrom:g} A: "
            f"binning {g.downscale} ({p.normalisation} normalisation), radius {g.pick_radius_px} px (binned), "
            f"threshold {p.threshold:g}")
    outcome = _pick_all(ctx, plan)
    ctx.require_items(outcome)
    done = outcome.done
    good = np.array([float((d.fom > GOOD_FOM).sum()) for d in done])
    write_autopick_reports(ctx, [d.micrograph for d in done], [d.fom for d in done], "Topaz score",
                           BarChart(f"Picks with FOM > {GOOD_FOM:g} per micrograph", "micrograph (input order)",
                                    "picks", good))
    # the coordinate list last: a job that fails before it (e.g. on a full disk) has no output node that looks finished
    write_coordinate_list(ctx.job.output("autopick.star"), [d.micrograph for d in done], [d.coord_file for d in done])
    total = int(sum(len(d.fom) for d in done))
    all_fom = np.concatenate([d.fom for d in done]) if done else np.zeros(0)
    ctx.log(f" + Picked {total} particles on {len(done)} micrographs; written {ctx.job.rel}autopick.star")
    expected = p.nr_particles_per_micrograph * len(done)
    at_expected = fom_at_count(all_fom, expected)
    if expected:
        ctx.log(f" + The {expected} expected particles ({p.nr_particles_per_micrograph} per micrograph) are the picks "
                f"with FOM > {at_expected:.4g} (fom_at_expected_count)")
    return StageResult(
        job_dir=ctx.job.rel,
        output_nodes=[(f"{ctx.job.rel}autopick.star", nodes.COORDS_AUTOPICK),
                      (f"{ctx.job.rel}logfile.pdf", nodes.AUTOPICK_LOGFILE)],
        counts={"micrographs": len(done), "picks": total, "picks_fom_above_-3": int(good.sum()),
                "failed_micrographs": len(outcome.failures)},
        summary={
            "picks_per_micrograph": total / max(len(done), 1),
            "mean_fom": float(all_fom.mean()) if all_fom.size else 0.0,
            "fom_at_expected_count": at_expected,
            "pixel_size_angstrom": plan.pixel_size_angstrom,
            "downscale": g.downscale,
            "radius_px": g.pick_radius_px,
        },
        failures=outcome.failures,
        figures=[f"{ctx.job.rel}logfile.pdf"],
    )


run = Stage("topaz-pick", _prepare, _execute,
            job_options=lambda p: {"do_log": False, "do_topaz": True, "do_topaz_pick": True, "do_topaz_train": False,
                                   "use_gpu": p.device != "cpu"}).run
