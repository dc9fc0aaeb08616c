"""Auto-picking with the Laplacian-of-Gaussian filter: RELION's AutoPick job (LoG mode).

Writes a RELION 4 AutoPick job directory:

``<job>/autopick.star``
    ``data_coordinate_files``: rlnMicrographName -> rlnMicrographCoordinates.
``<job>/<post(mic) without ext>_autopick.star``
    One coordinate file per micrograph (0 bytes when nothing was picked).
``<job>/summary.star``
    Per micrograph: rlnMicrographName, mean rlnAutopickFigureOfMerit, rlnGroupNrParticles.
``<job>/logfile.pdf``
    FOM histogram and picks per micrograph.

Micrographs are picked in parallel threads; a re-run of an interrupted or failed job with
the same parameters keeps the coordinate files already written (RELION's "only do
unfinished"). A micrograph that cannot be read does not stop the others; the job then fails
naming every bad file, or with ``skip_failed_micrographs`` succeeds without them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io import nodes
from cryopick.io.coords import picks_columns, read_coordinates, write_coordinate_list, write_coordinates
from cryopick.io.mrc import read_header
from cryopick.io.paths import ProjectPaths
from cryopick.picking.log import LoGParams, LoGPicker
from cryopick.stages.autopick_reports import mean_fom_chart, write_autopick_reports
from cryopick.stages.base import Stage, StageContext, StageResult, read_micrographs
from cryopick.stages.fields import input_file, label_of, param, runtime

SUFFIX = "_autopick.star"


@dataclass(frozen=True)
class Params:
    """AutoPick job, "Laplacian" tab (and RELION's expert options of ``relion_autopick --LoG``)."""

    micrographs_star: str = input_file(help="Input micrographs for autopick", cli="--i", node=nodes.MICROGRAPHS,
                                       job_option="fn_input_autopick")
    diameter_min_angstrom: float = param(200.0, help="Min. diameter for LoG filter", cli="--diam-min", unit="Å",
                                         relion="--LoG_diam_min", relion_default=200.0, job_option="log_diam_min",
                                         minimum=1e-3)
    diameter_max_angstrom: float = param(250.0, help="Max. diameter for LoG filter", cli="--diam-max", unit="Å",
                                         relion="--LoG_diam_max", relion_default=250.0, job_option="log_diam_max",
                                         minimum=1e-3)
    particles_white: bool = param(False, help="Are the particles white?", cli="--white", relion="--Log_invert",
                                  relion_default=False, job_option="log_invert")
    max_resolution_angstrom: float = param(20.0, help="Maximum resolution to consider (<= 0: none)", cli="--maxres",
                                           unit="Å", relion="--lowpass", relion_default=20.0, job_option="log_maxres")
    threshold_stddev: float = param(0.0, help="Adjust default threshold", cli="--threshold", unit="stddev",
                                    relion="--LoG_adjust_threshold", relion_default=0.0, job_option="log_adjust_thr")
    upper_threshold_stddev: float = param(999.0, help="Upper threshold (>= 999: off)", cli="--upper-threshold",
                                          unit="stddev", relion="--LoG_upper_threshold", relion_default=999.0,
                                          job_option="log_upper_thr")
    pixel_size_angstrom: float | None = param(None, help="Pixel size (default: rlnMicrographPixelSize of the optics table)",
                                              cli="--angpix", unit="Å", relion="--angpix", minimum=1e-3)
    neighbour_percent: float = param(100.0, help="Suppression distance, percent of (diameter + min. diameter)/2",
                                     cli="--neighbour", unit="%", relion="--LoG_neighbour", minimum=1e-3)
    max_search: float = param(5.0, help="Search diameters up to this factor beyond the range", cli="--max-search",
                              relion="--Log_max_search", minimum=2.0)
    skip_side_px: int = param(0, help="Keep picks this far from the edges", cli="--skip-side", unit="px",
                              relion="--skip_side", minimum=0)
    seed: int = param(1, help="Seed of the noise that pads non-square micrographs", cli="--seed",
                      relion="--random_seed")
    threads: int = runtime(1, help="Micrographs picked in parallel", cli="--threads", relion="--j",
                           job_option="nr_threads", minimum=1, maximum=1024)
    skip_failed_micrographs: bool = runtime(False, help="Succeed without micrographs that cannot be read",
                                            cli="--skip-failed")

    def log_params(self, pixel_size_angstrom: float) -> LoGParams:
        """The picker's parameters at ``pixel_size_angstrom``."""
        return LoGParams(
            diameter_min_angstrom=self.diameter_min_angstrom,
            diameter_max_angstrom=self.diameter_max_angstrom,
            pixel_size_angstrom=pixel_size_angstrom,
            particles_white=self.particles_white,
            max_resolution_angstrom=self.max_resolution_angstrom,
            threshold_stddev=self.threshold_stddev,
            upper_threshold_stddev=self.upper_threshold_stddev,
            neighbour_percent=self.neighbour_percent,
            max_search=self.max_search,
            skip_side_px=self.skip_side_px,
        )

    def validate(self) -> None:
        """Rules between fields (the picker's own checks, at a placeholder pixel size).

        Raises
        ------
        BadInputError
            The minimum diameter above the maximum (naming both by flag), or another inconsistency.
        """
        if self.diameter_min_angstrom > self.diameter_max_angstrom:
            raise BadInputError(f"{label_of(Params, 'diameter_min_angstrom')} = {self.diameter_min_angstrom:g} Å is "
                                f"larger than the maximum, {label_of(Params, 'diameter_max_angstrom')} = "
                                f"{self.diameter_max_angstrom:g} Å")
        self.log_params(self.pixel_size_angstrom or 1.0).validate()


@dataclass
class _Plan:
    names: list[str]
    pixel_size_angstrom: float
    log_params: LoGParams

    @property
    def fingerprint_extra(self) -> dict:
        return {"pixel_size_used": self.pixel_size_angstrom}


@dataclass(frozen=True)
class _Done:
    micrograph: str
    coord_file: str
    fom: np.ndarray


class _PickerCache:
    """One :class:`LoGPicker` per micrograph size, shared by the worker threads,
    and one read buffer per thread and size."""

    def __init__(self, params: LoGParams):
        self.params = params
        self._pickers: dict[tuple[int, int], LoGPicker] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def read_buffer(self, shape: tuple[int, int]) -> np.ndarray:
        buffers = self._local.__dict__.setdefault("buffers", {})
        if shape not in buffers:
            buffers[shape] = np.empty(shape, dtype=np.float32)
        return buffers[shape]

    def get(self, shape: tuple[int, int]) -> LoGPicker:
        with self._lock:
            if shape not in self._pickers:
                self._pickers[shape] = LoGPicker(self.params, shape)
            return self._pickers[shape]


def _prepare(params: Params, project: ProjectPaths) -> _Plan:
    names, star_apix = read_micrographs(project, params.micrographs_star)
    apix = params.pixel_size_angstrom or star_apix
    log_params = params.log_params(apix)
    log_params.validate()
    return _Plan(names, apix, log_params)


def _pick_one(ctx: StageContext, cache: _PickerCache, index: int, name: str) -> _Done:
    coord_rel, coord_path = ctx.job.item_output(name, SUFFIX)
    if ctx.reuse and coord_path.exists():
        fom = read_coordinates(coord_path).get("rlnAutopickFigureOfMerit", np.zeros(0))
        return _Done(name, coord_rel, np.asarray(fom, dtype=float))
    mic = ctx.read_micrograph(name, cache.read_buffer)
    picks = cache.get(mic.shape).pick(mic, seed=ctx.params.seed + index)
    write_coordinates(coord_path, picks_columns(picks.x_px, picks.y_px, picks.fom))
    return _Done(name, coord_rel, picks.fom)


def _warm_up(ctx: StageContext, first_micrograph: str, cache: _PickerCache) -> None:
    """Build the picker for the first micrograph's size before the workers start."""
    try:
        hdr = read_header(ctx.micrograph_path(first_micrograph))
    except Exception:  # noqa: BLE001 - reported by its worker
        return
    cache.get((hdr.ny, hdr.nx))


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    p = ctx.params
    lp = plan.log_params
    ctx.log(f" + Laplacian-of-Gaussian picking of {len(plan.names)} micrographs from {p.micrographs_star}")
    ctx.log(f" + pixel size {plan.pixel_size_angstrom:g} A, diameters {lp.diameter_min_angstrom:g}-{lp.diameter_max_angstrom:g} A")
    cache = _PickerCache(lp)
    _warm_up(ctx, plan.names[0], cache)
    outcome = ctx.for_each(
        list(enumerate(plan.names)),
        lambda item: _pick_one(ctx, cache, *item),
        name=lambda item: item[1],
        threads=p.threads,
        note=lambda d: f"{len(d.fom)} picks",
    )
    ctx.require_items(outcome)
    done = outcome.done
    write_autopick_reports(ctx, [d.micrograph for d in done], [d.fom for d in done], "LoG response",
                           mean_fom_chart([d.fom for d in done]))
    # the coordinate list last: a job that fails before it (e.g. on a full disk) has no output node that looks finished
    write_coordinate_list(ctx.job.output("autopick.star"), [d.micrograph for d in done], [d.coord_file for d in done])
    total = int(sum(len(d.fom) for d in done))
    ctx.log(f" + Picked {total} particles on {len(done)} micrographs; written {ctx.job.rel}autopick.star")
    all_fom = np.concatenate([d.fom for d in done])
    return StageResult(
        job_dir=ctx.job.rel,
        output_nodes=[(f"{ctx.job.rel}autopick.star", nodes.COORDS_AUTOPICK),
                      (f"{ctx.job.rel}logfile.pdf", nodes.AUTOPICK_LOGFILE)],
        counts={"micrographs": len(done), "picks": total, "failed_micrographs": len(outcome.failures)},
        summary={
            "picks_per_micrograph": total / max(len(done), 1),
            "mean_fom": float(all_fom.mean()) if all_fom.size else 0.0,
            "pixel_size_angstrom": plan.pixel_size_angstrom,
        },
        failures=outcome.failures,
        figures=[f"{ctx.job.rel}logfile.pdf"],
    )


run = Stage("autopick-log", _prepare, _execute,
            job_options=lambda p: {"do_log": True, "do_topaz": False, "use_gpu": False}).run
