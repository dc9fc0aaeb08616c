"""Particle extraction: RELION's Extract job (``relion_preprocess --extract``), relion_spec.md §3.

Inputs: a micrographs STAR with CTF (``CtfFind/jobNNN/micrographs_ctf.star`` or a Select
subset) and an ``autopick.star`` coordinate list, or, for re-extraction, a refinement's
``_data.star`` (:mod:`cryopick.stages.extract_inputs`). Outputs, as RELION 4:

* ``<job>/<post(mic) without ext>.mrcs``: one stack per micrograph (MRC mode 12 with
  ``float16``, else mode 2);
* ``<job>/<post(mic) without ext>_extract.star``: that micrograph's particle rows
  (table ``data_images``);
* ``<job>/particles.star``: optics + particles; with re-extraction also
  ``<job>/extractpick.star``.

Where RELION stops or is silent:

* a pick whose box lies wholly off the micrograph: RELION stops with an error; cryopick skips
  the pick, counts it (``counts["particles_off_micrograph"]``) and logs it;
* a coordinate file for a micrograph that is not in the micrographs STAR: skipped and
  reported (``counts["coordinate_files_unmatched"]``), as RELION;
* a missing or unreadable micrograph or coordinate file fails that micrograph; the others
  are extracted, then the job fails naming them all (or, with ``skip_failed_micrographs``,
  succeeds without them) — the policy every stage shares;
* odd box or rescaled size, rescaling up, a background circle larger than the box: an error
  before anything is written;
* optics groups with different micrograph pixel sizes: refused before anything is written. This
  is a limitation, not bad input: relion_preprocess (RELION ≥ 3.1) extracts each micrograph at
  its group's pixel size and writes one rlnImagePixelSize per group.

Speed: micrographs run in ``threads`` threads with OpenBLAS kept single-threaded
(:mod:`cryopick.extraction.blas`); plain extraction reads and writes its tables as column
dictionaries (:mod:`cryopick.io.columns`) and never imports pandas, whose import alone costs
about a third of a second; re-extraction reads the refinement's ``_data.star`` with pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cryopick.errors import BadInputError, CryopickError, MissingFileError
from cryopick.extraction.blas import single_threaded_blas
from cryopick.extraction.particles import (
    ExtractionSettings,
    background_radius_px,
    extract_particles,
    filter_by_fom,
    validate_settings,
)
from cryopick.io import columns as tbl
from cryopick.io import nodes
from cryopick.io.columns import Columns
from cryopick.io.coords import read_coordinates, write_coordinate_list
from cryopick.io.mrc import read_header, write_mrc
from cryopick.io.optics import read_optics_columns
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import compose_image_name, read_star_raw, write_star
from cryopick.stages.base import Stage, StageContext, StageResult, check_micrograph_names, refuse_duplicate_micrographs
from cryopick.stages.extract_inputs import Work, fresh_work, reextract_work
from cryopick.stages.fields import input_file, param, runtime

IMAGES_TABLE = "images"

# copied from the micrograph row to each particle row when present (CTF::write + extras)
_CTF_DEFAULTS = (
    ("rlnCtfMaxResolution", None),
    ("rlnCtfFigureOfMerit", None),
    ("rlnDefocusU", None),
    ("rlnDefocusV", None),
    ("rlnDefocusAngle", None),
    ("rlnCtfBfactor", 0.0),
    ("rlnCtfScalefactor", 1.0),
    ("rlnPhaseShift", 0.0),
    ("rlnBeamTiltX", None),
    ("rlnBeamTiltY", None),
)


@dataclass(frozen=True)
class Params:
    """Extract job ("I/O", "extract" and "Helix" tabs without helices)."""

    micrographs_star: str = input_file(help="micrograph STAR file (with CTF values)", cli="--i",
                                       node=nodes.MICROGRAPHS, job_option="star_mics")
    coords_star: str = input_file(help="Input coordinates (autopick.star)", cli="--coords",
                                  node=nodes.COORDS_AUTOPICK, job_option="coords_suffix", required=False)
    reextract_data_star: str = input_file(help="Refined particles STAR file to re-extract", cli="--reextract",
                                          node=nodes.PARTICLES, job_option="fndata_reextract", required=False)
    box_size_px: int = param(128, help="Particle box size", cli="--box", unit="px", relion="--extract_size",
                             relion_default=128, job_option="extract_size", minimum=2, maximum=8192, even=True)
    invert_contrast: bool = param(True, help="Invert contrast?", cli="--invert", relion="--invert_contrast",
                                  relion_default=True, job_option="do_invert")
    normalise: bool = param(True, help="Normalize particles?", cli="--norm", relion="--norm",
                            relion_default=True, job_option="do_norm")
    bg_diameter_px: float = param(-1.0, help="Diameter background circle (-1: 75% of the box)", cli="--bg-diameter",
                                  unit="px", relion="--bg_radius", relion_default=-1.0, job_option="bg_diameter")
    white_dust_sigma: float = param(-1.0, help="Stddev for white dust removal (-1: off)", cli="--white-dust",
                                    relion="--white_dust", relion_default=-1.0, job_option="white_dust")
    black_dust_sigma: float = param(-1.0, help="Stddev for black dust removal (-1: off)", cli="--black-dust",
                                    relion="--black_dust", relion_default=-1.0, job_option="black_dust")
    rescale_px: int | None = param(None, help="Re-scaled size (default: no rescaling)", cli="--rescale", unit="px",
                                   relion="--scale", job_option="rescale", minimum=2, maximum=8192, even=True)
    float16: bool = param(True, help="Write output in float16?", cli="--float16", relion="--float16",
                          relion_default=True, job_option="do_float16")
    min_fom: float | None = param(None, help="Minimum autopick FOM (keep picks above it; default: all)",
                                  cli="--min-fom", relion="--minimum_pick_fom", job_option="minimum_pick_fom")
    recenter: bool = param(False, help="Re-center refined coordinates? (re-extraction)", cli="--recenter",
                           relion="--recenter", relion_default=False, job_option="do_recenter")
    recenter_x_px: float = param(0.0, help="Re-center on X-coordinate of the reference", cli="--recenter-x",
                                 unit="px", relion="--recenter_x", relion_default=0.0, job_option="recenter_x")
    recenter_y_px: float = param(0.0, help="Re-center on Y-coordinate of the reference", cli="--recenter-y",
                                 unit="px", relion="--recenter_y", relion_default=0.0, job_option="recenter_y")
    recenter_z_px: float = param(0.0, help="Re-center on Z-coordinate of the reference", cli="--recenter-z",
                                 unit="px", relion="--recenter_z", relion_default=0.0, job_option="recenter_z")
    reset_offsets: bool = param(False, help="Reset the refined offsets to zero? (re-extraction)",
                                cli="--reset-offsets", relion="--reset_offsets", relion_default=False,
                                job_option="do_reset_offsets")
    seed: int = param(0, help="Seed of the dust-replacement random values", cli="--seed")
    threads: int = runtime(1, help="Micrographs processed in parallel", cli="--threads", relion="--j",
                           job_option="nr_threads", minimum=1, maximum=1024)
    skip_failed_micrographs: bool = runtime(False, help="Succeed without micrographs that cannot be read",
                                            cli="--skip-failed")

    @property
    def is_reextract(self) -> bool:
        return bool(self.reextract_data_star)

    def validate(self) -> None:
        if bool(self.coords_star) == self.is_reextract:
            raise BadInputError("extraction: give either a coordinate list (--coords) or a _data.star to re-extract (--reextract)")
        self.settings()

    def settings(self) -> ExtractionSettings:
        """The per-particle :class:`~cryopick.extraction.particles.ExtractionSettings` (validated)."""
        rescale = self.rescale_px if self.rescale_px and self.rescale_px != self.box_size_px else None
        if self.normalise and self.bg_diameter_px > self.box_size_px:
            raise BadInputError(f"background diameter {self.bg_diameter_px:g} px is larger than the box ({self.box_size_px} px)")
        s = ExtractionSettings(
            box_size_px=int(self.box_size_px),
            rescale_px=rescale,
            normalise=self.normalise,
            bg_radius_px=background_radius_px(self.box_size_px, self.bg_diameter_px, rescale) if self.normalise else 0,
            white_dust_sigma=float(self.white_dust_sigma),
            black_dust_sigma=float(self.black_dust_sigma),
            invert_contrast=self.invert_contrast,
        )
        validate_settings(s)
        return s


def _job_options(p: Params) -> dict[str, object]:
    """The GUI's switches that the fields imply."""
    return {
        "do_reextract": p.is_reextract,
        "do_rescale": p.rescale_px is not None,
        "rescale": p.rescale_px if p.rescale_px is not None else p.box_size_px,
        "do_fom_threshold": p.min_fom is not None,
        "minimum_pick_fom": f"{p.min_fom:g}" if p.min_fom is not None else "0",
        "nr_mpi": 1,
    }


@dataclass
class _Plan:
    """Everything read and checked before the job begins."""

    settings: ExtractionSettings
    micrograph_pixel_angstrom: float
    output_pixel_angstrom: float
    work: list[Work]
    source_optics: Columns
    log_lines: list[str]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Done:
    """What extracting one micrograph produced (``rows`` None: nothing to extract there)."""

    name: str
    rows: Columns | None = None
    reused: bool = False
    off_micrograph: int = 0
    below_fom: int = 0
    note: str = ""
    extract_star: str = ""

    def describe(self) -> str:
        if self.rows is None:
            return self.note
        msg = f"{tbl.n_rows(self.rows)} particles" + (" (reused)" if self.reused else "")
        if self.off_micrograph:
            msg += f", {self.off_micrograph} pick(s) with boxes wholly off the micrograph skipped"
        return msg


def _prepare(params: Params, project: ProjectPaths) -> _Plan:
    settings = params.settings()
    mics_path = project.read_path(params.micrographs_star, "micrographs STAR")
    mic_optics, mics = read_optics_columns(mics_path, "micrographs")
    if "rlnMicrographName" not in mics:
        raise BadInputError(f"{mics_path}: table data_micrographs lacks label(s) _rlnMicrographName")
    apix = tbl.micrograph_pixel_size(mic_optics, mics_path)  # also refuses mixed pixel sizes
    refuse_duplicate_micrographs(mics_path, [str(n) for n in mics["rlnMicrographName"]])
    log_lines: list[str] = []
    counts: dict[str, int] = {}
    if params.is_reextract:
        work, source = reextract_work(project, params.reextract_data_star, params.micrographs_star, mics, apix,
                                      params, log_lines.append, counts)
    else:
        work = fresh_work(project, params.coords_star, params.micrographs_star, mics, log_lines.append, counts)
        source = mic_optics
    if not work:
        raise BadInputError(f"{params.reextract_data_star or params.coords_star}: names none of the micrographs of "
                            f"{params.micrographs_star}; nothing to extract")
    check_micrograph_names(project, [w.name for w in work], mics_path)
    for w in work:
        if w.coord_file is not None:
            project.read_path(w.coord_file, "coordinate file")
    output_apix = apix * settings.box_size_px / settings.output_size_px
    return _Plan(settings, apix, output_apix, work, source, log_lines, counts)


def _particle_rows(ctx: StageContext, w: Work, picks: Columns, stack_rel: str) -> Columns:
    rows = {lab: col for lab, col in picks.items() if lab != "rlnParticleSelectionType"}
    n = tbl.n_rows(picks)
    rows["rlnImageName"] = np.array([compose_image_name(k, stack_rel) for k in range(1, n + 1)], dtype=object)
    if ctx.params.is_reextract:
        return rows
    rows["rlnMicrographName"] = np.full(n, w.name, dtype=object)
    rows["rlnOpticsGroup"] = np.full(n, int(w.mic_row["rlnOpticsGroup"]), dtype=np.int64)
    if "rlnDefocusU" in w.mic_row:
        for label, default in _CTF_DEFAULTS:
            if label in w.mic_row:
                rows[label] = np.full(n, float(w.mic_row[label]))
            elif default is not None:
                rows[label] = np.full(n, default)
    return rows


def _reusable(plan: _Plan, float16: bool, stack, star) -> Columns | None:
    """Rows of a micrograph finished by an earlier run (same parameters), or None if it must be redone."""
    if not (stack.exists() and star.exists()):
        return None
    try:
        table = read_star_raw(star).get(IMAGES_TABLE)
        hdr = read_header(stack)
    except CryopickError:
        return None
    size = plan.settings.output_size_px
    if table is None or len(table) != hdr.nz or hdr.nx != size or hdr.ny != size or hdr.mode != (12 if float16 else 2):
        return None
    return dict(table.columns)


def _extract_one(ctx: StageContext, plan: _Plan, w: Work) -> _Done:
    """Extract one micrograph; raises :class:`CryopickError` if its files are missing or unreadable."""
    p = ctx.params
    stack_rel, stack_path = ctx.job.item_output(w.name, ".mrcs")
    star_rel, star_path = ctx.job.item_output(w.name, "_extract.star")
    done = _Done(w.name, extract_star=star_rel)
    if ctx.reuse:
        old = _reusable(plan, p.float16, stack_path, star_path)
        if old is not None:
            done.rows, done.reused = old, True
            return done
    if w.picks is not None:
        picks = w.picks
    else:
        coord_path = ctx.project.read_path(w.coord_file, "coordinate file")
        try:
            picks = read_coordinates(coord_path)
        except MissingFileError:
            raise MissingFileError(f"{w.name}: coordinate file {w.coord_file} not found") from None
        n_all = tbl.n_rows(picks)
        picks = filter_by_fom(picks, p.min_fom, coord_path)
        done.below_fom = n_all - tbl.n_rows(picks)
    n_picks = tbl.n_rows(picks)
    if n_picks == 0:
        done.note = "no particles to extract; skipped"
        return done
    try:  # also refuses stacks, NaN or infinite pixels and blank (constant) micrographs
        mic = ctx.read_micrograph(w.name)
    except MissingFileError:
        raise MissingFileError(f"micrograph file {w.name} not found; its {n_picks} particles were not extracted") from None
    except BadInputError as exc:
        raise BadInputError(f"micrograph {w.name} unreadable ({exc}); its {n_picks} particles were not extracted") from None
    rng = np.random.default_rng([int(p.seed), int(w.index)])
    images, kept = extract_particles(
        mic,
        np.asarray(picks["rlnCoordinateX"], dtype=np.float64),
        np.asarray(picks["rlnCoordinateY"], dtype=np.float64),
        plan.settings,
        rng,
    )
    del mic
    done.off_micrograph = int(np.count_nonzero(~kept))
    if not kept.any():
        done.note = f"all {n_picks} boxes lie off the micrograph; skipped"
        return done
    rows = _particle_rows(ctx, w, tbl.take(picks, kept), stack_rel)
    write_mrc(stack_path, images, plan.output_pixel_angstrom, float16=p.float16)
    write_star(star_path, {IMAGES_TABLE: rows})
    done.rows = rows
    return done


def _why_nothing(results: list[_Done]) -> str:
    """Why no micrograph gave a particle: how many picks lay off the micrograph or below the minimum FOM."""
    off = sum(d.off_micrograph for d in results)
    below = sum(d.below_fom for d in results)
    reasons = []
    if off:
        reasons.append(f"{off} pick(s) lie off the micrograph")
    if below:
        reasons.append(f"{below} are below the minimum FOM")
    return ", ".join(reasons) or "the coordinate files hold no picks"


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    p = ctx.params
    for line in plan.log_lines:
        ctx.log(line)
    ctx.log(f" Extracting particles from {len(plan.work)} micrographs with {p.threads} thread(s) ...")
    with single_threaded_blas():  # parallel micrographs, not parallel BLAS (see cryopick.extraction.blas)
        outcome = ctx.for_each(plan.work, lambda w: _extract_one(ctx, plan, w), name=lambda w: w.name,
                               threads=p.threads, note=_Done.describe)
    ctx.require_items(outcome)
    ctx.check_cancel()
    results = outcome.done
    extracted = [d for d in results if d.rows is not None and tbl.n_rows(d.rows)]
    if not extracted:
        raise BadInputError(f"{p.reextract_data_star or p.coords_star}: no particles extracted from "
                            f"{p.micrographs_star}: {_why_nothing(results)}")
    rows = tbl.concat([d.rows for d in extracted])
    s = plan.settings
    factor = s.box_size_px / s.output_size_px
    if p.is_reextract:
        pixel = plan.micrograph_pixel_angstrom * factor
    else:
        pixel = np.asarray(plan.source_optics["rlnMicrographPixelSize"], dtype=np.float64) * factor
    optics, rows = tbl.particle_optics(plan.source_optics, rows, pixel, s.output_size_px, keep_premultiplied=p.is_reextract)
    n_particles = tbl.n_rows(rows)
    particles_rel = f"{ctx.job.rel}particles.star"
    write_star(ctx.job.output("particles.star"), {"optics": optics, "particles": rows})
    outputs = [(particles_rel, nodes.PARTICLES)]
    if p.is_reextract:
        write_coordinate_list(ctx.job.output("extractpick.star"), [d.name for d in extracted], [d.extract_star for d in extracted])
        outputs.append((f"{ctx.job.rel}extractpick.star", nodes.COORDS_REEXTRACT))
    ctx.log(f" Written {particles_rel} with {n_particles} particles from {len(extracted)} micrographs")
    counts = dict(plan.counts)
    counts.update(
        micrographs=len(extracted),
        particles=n_particles,
        micrographs_reused=sum(d.reused for d in extracted),
        micrographs_failed=len(outcome.failures),
        micrographs_empty=sum(1 for d in results if d.rows is None),
        particles_off_micrograph=sum(d.off_micrograph for d in results),
        particles_below_fom=sum(d.below_fom for d in results),
    )
    summary = {
        "image_pixel_size_angstrom": float(plan.output_pixel_angstrom),
        "image_size_px": float(s.output_size_px),
        "particles_per_micrograph": float(n_particles / len(extracted)),
    }
    return StageResult(ctx.job.rel, outputs, counts, summary, outcome.failures)


run = Stage(
    "extract", _prepare, _execute, job_options=_job_options,
    process_label=lambda p: "relion.extract.reextract" if p.is_reextract else "relion.extract",
).run
