"""Particle extraction: RELION's Extract job (``relion_preprocess --extract``), relion_spec.md section 3.

Inputs: a micrographs STAR with CTF (``CtfFind/jobNNN/micrographs_ctf.star`` or a
Select subset) and an ``autopick.star`` coordinate list, or, for re-extraction, a
refinement's ``_data.star``. Outputs, as RELION 4:

* ``<job>/<post(mic) without ext>.mrcs``: one stack per micrograph (MRC mode 12 with
  ``float16``, else mode 2);
* ``<job>/<post(mic) without ext>_extract.star``: that micrograph's particle rows
  (table ``data_images``);
* ``<job>/particles.star``: optics + particles; with re-extraction also
  ``<job>/extractpick.star``.

Decisions where RELION stops or is silent (see the README of this stage in the
docstring of :func:`run`):

* a pick whose box lies wholly off the micrograph: RELION stops with an error;
  cryopick skips the pick, counts it (``counts["particles_off_micrograph"]``) and logs it;
* a coordinate file for a micrograph that is not in the micrographs STAR: skipped
  and reported (``counts["coordinate_files_unmatched"]``), as RELION;
* a missing or unreadable micrograph file, or a missing coordinate file: that
  micrograph is skipped and reported in ``StageResult.failures``; the others are
  extracted (an error only if nothing could be extracted);
* odd box or rescaled size, rescaled size larger than the box, background circle
  larger than the box, optics groups with different micrograph pixel sizes:
  :class:`~cryopick.errors.BadInputError` before any work.

Speed: micrographs run in ``threads`` threads with OpenBLAS kept single-threaded
(:mod:`cryopick.extraction.blas`); plain extraction reads and writes its tables as
column dictionaries (:mod:`cryopick.io.columns`) and never imports pandas,
whose import alone costs about a third of a second; re-extraction reads the
refinement's ``_data.star`` with pandas.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cryopick.errors import BadInputError, CryopickError, MissingFileError
from cryopick.io import columns as tbl
from cryopick.extraction.blas import single_threaded_blas
from cryopick.io.columns import Columns
from cryopick.io.coords import resolve, write_coordinate_list
from cryopick.io.jobdir import ABORTED, JobDir, per_micrograph_output, post_path
from cryopick.io.pipeline import register_job
from cryopick.io.star import compose_image_name, read_star_raw, write_star
from cryopick.stages.base import Cancelled, Progress, ProgressFn, StageResult, check_cancel, no_progress

TYPE_LABEL = "relion.extract"
TYPE_LABEL_REEXTRACT = "relion.extract.reextract"
PARTICLES_NODE = "ParticlesData.star.relion"
MICROGRAPHS_NODE = "MicrographsData.star.relion"
COORDS_NODE = "MicrographsCoords.star.relion.autopick"
REEXTRACT_COORDS_NODE = "MicrographsCoords.star.relion.reextract"
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
    """Extraction parameters (RELION GUI: Extract job).

    Attributes
    ----------
    micrographs_star : str
        Project-relative micrographs STAR with CTF values.
    coords_star : str or None
        Project-relative ``autopick.star`` (data_coordinate_files); not needed
        for re-extraction.
    box_size_px : int
        Even box size in micrograph pixels.
    invert_contrast : bool
    normalise : bool
    bg_diameter_px : float
        Background circle diameter in (un-rescaled) box pixels; -1 = 75 % of the box.
    white_dust_sigma, black_dust_sigma : float
        Dust thresholds in background σ; -1 = off.
    rescale_px : int or None
        Even size to Fourier-rescale the boxes to (None = no rescaling).
    float16 : bool
        Write MRC mode 12 stacks.
    min_fom : float or None
        Keep picks with FOM strictly above this.
    threads : int
        Micrographs processed in parallel.
    reextract_data_star : str or None
        Re-extract the particles of this ``_data.star`` instead of coordinates.
    recenter : bool
        Re-centre on the refined origins (re-extraction).
    recenter_x_px, recenter_y_px, recenter_z_px : float
        Reference point to centre on, in particle pixels.
    reset_offsets : bool
        Set origins to zero (re-extraction).
    seed : int
        Seed of the dust-replacement random values.
    """

    micrographs_star: str
    coords_star: str | None = None
    box_size_px: int = 256
    invert_contrast: bool = True
    normalise: bool = True
    bg_diameter_px: float = -1.0
    white_dust_sigma: float = -1.0
    black_dust_sigma: float = -1.0
    rescale_px: int | None = None
    float16: bool = True
    min_fom: float | None = None
    threads: int = 1
    reextract_data_star: str | None = None
    recenter: bool = False
    recenter_x_px: float = 0.0
    recenter_y_px: float = 0.0
    recenter_z_px: float = 0.0
    reset_offsets: bool = False
    seed: int = 0

    @property
    def is_reextract(self) -> bool:
        return bool(self.reextract_data_star)

    def settings(self):
        """The per-particle :class:`~cryopick.extraction.particles.ExtractionSettings` (validated)."""
        from cryopick.extraction.particles import ExtractionSettings, background_radius_px, validate_settings

        if self.box_size_px <= 0 or self.box_size_px % 2:
            raise BadInputError(f"box size {self.box_size_px} px: must be a positive even number (RELION extracts even boxes only)")
        rescale = int(self.rescale_px) if self.rescale_px and int(self.rescale_px) != self.box_size_px else None
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
        if self.threads < 1:
            raise BadInputError(f"threads = {self.threads}: must be at least 1")
        if not self.is_reextract and not self.coords_star:
            raise BadInputError("extraction needs a coordinate list (coords_star) or a _data.star to re-extract")
        return s

    def job_options(self) -> dict[str, object]:
        """``job.star`` options named as RELION's Extract job (relion_spec.md 7.4)."""
        return {
            "star_mics": self.micrographs_star,
            "coords_suffix": self.coords_star or "",
            "do_reextract": self.is_reextract,
            "fndata_reextract": self.reextract_data_star or "",
            "do_reset_offsets": self.reset_offsets,
            "do_recenter": self.recenter,
            "recenter_x": f"{self.recenter_x_px:g}",
            "recenter_y": f"{self.recenter_y_px:g}",
            "recenter_z": f"{self.recenter_z_px:g}",
            "extract_size": self.box_size_px,
            "do_float16": self.float16,
            "do_invert": self.invert_contrast,
            "do_norm": self.normalise,
            "bg_diameter": f"{self.bg_diameter_px:g}",
            "white_dust": f"{self.white_dust_sigma:g}",
            "black_dust": f"{self.black_dust_sigma:g}",
            "do_rescale": self.rescale_px is not None,
            "rescale": self.rescale_px if self.rescale_px is not None else self.box_size_px,
            "do_fom_threshold": self.min_fom is not None,
            "minimum_pick_fom": f"{self.min_fom:g}" if self.min_fom is not None else "0",
            "nr_mpi": 1,
            "nr_threads": self.threads,
        }

    def command(self, job_rel: str) -> str:
        """The equivalent ``cryopick extract`` command line (for note.txt)."""
        a = ["cryopick", "extract", "--i", self.micrographs_star]
        if self.coords_star:
            a += ["--coords", self.coords_star]
        a += ["--o", job_rel, "--box", str(self.box_size_px)]
        if self.invert_contrast:
            a.append("--invert")
        if self.normalise:
            a += ["--norm", "--bg-diameter", f"{self.bg_diameter_px:g}", "--white-dust", f"{self.white_dust_sigma:g}",
                  "--black-dust", f"{self.black_dust_sigma:g}"]
        if self.rescale_px is not None:
            a += ["--rescale", str(self.rescale_px)]
        if self.float16:
            a.append("--float16")
        if self.min_fom is not None:
            a += ["--min-fom", f"{self.min_fom:g}"]
        if self.is_reextract:
            a += ["--reextract", str(self.reextract_data_star)]
            if self.recenter:
                a += ["--recenter", "--recenter-x", f"{self.recenter_x_px:g}", "--recenter-y", f"{self.recenter_y_px:g}",
                      "--recenter-z", f"{self.recenter_z_px:g}"]
            if self.reset_offsets:
                a.append("--reset-offsets")
        a += ["--threads", str(self.threads), "--seed", str(self.seed)]
        return shlex.join(a)


@dataclass
class _Work:
    """One micrograph to extract."""

    index: int
    name: str
    mic_row: dict
    coord_file: str | None = None          # fresh extraction
    picks: Columns | None = None           # re-extraction rows (already re-centred)


@dataclass
class _Done:
    """What extracting one micrograph produced."""

    name: str
    rows: Columns | None = None
    reused: bool = False
    off_micrograph: int = 0
    below_fom: int = 0
    failure: str | None = None
    note: str = ""
    stack: str = ""
    extract_star: str = ""


@dataclass
class _Context:
    root: Path
    job_rel: str
    params: Params
    settings: object
    micrograph_pixel_angstrom: float
    output_pixel_angstrom: float
    mics: Columns
    counts: dict[str, int] = field(default_factory=dict)


# ----------------------------------------------------------------------------- inputs


def _fresh_work(ctx: _Context, log) -> list[_Work]:
    coords_path = resolve(ctx.root, ctx.params.coords_star)
    listing = tbl.read_coordinate_list(coords_path)
    coord_of = dict(zip((str(v) for v in listing["rlnMicrographName"]),
                        (str(v) for v in listing["rlnMicrographCoordinates"])))
    mic_names = [str(v) for v in ctx.mics["rlnMicrographName"]]
    known = set(mic_names)
    unmatched = [m for m in coord_of if m not in known]
    for m in unmatched:
        log(f" WARNING: {coords_path}: coordinates for {m}, which is not in {ctx.params.micrographs_star}; skipped")
    ctx.counts["coordinate_files_unmatched"] = len(unmatched)
    ctx.counts["micrographs_without_coordinates"] = sum(1 for m in mic_names if m not in coord_of)
    return [
        _Work(i, name, tbl.row(ctx.mics, i), coord_file=coord_of[name])
        for i, name in enumerate(mic_names)
        if name in coord_of
    ]


def _reextract_work(ctx: _Context, log) -> tuple[list[_Work], Columns]:
    """Work per micrograph from a refinement's _data.star, and its optics table (uses pandas)."""
    from cryopick.extraction.reextract import reextraction_geometry
    from cryopick.io.optics import read_optics_star

    p = ctx.params
    data_path = resolve(ctx.root, p.reextract_data_star)
    parts = read_optics_star(data_path, "particles")
    df = parts.data
    for lab in ("rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY"):
        if lab not in df.columns:
            raise BadInputError(f"{data_path}: data_particles lacks _{lab}; cannot re-extract")
    if "rlnImagePixelSize" not in parts.optics.columns:
        raise BadInputError(f"{data_path}: data_optics lacks _rlnImagePixelSize; cannot re-extract")
    has_origin = "rlnOriginXAngst" in df.columns and "rlnOriginYAngst" in df.columns
    if p.recenter and not has_origin:
        raise BadInputError(f"{data_path}: no _rlnOriginXAngst/_rlnOriginYAngst columns to re-centre on")
    apix = ctx.micrograph_pixel_angstrom
    pix = dict(zip(parts.optics["rlnOpticsGroup"].astype(int), parts.optics["rlnImagePixelSize"].astype(float)))
    pa = df["rlnOpticsGroup"].astype(int).map(pix).to_numpy(dtype=np.float64)
    n = len(df)
    zeros = np.zeros(n)
    angles = None
    if p.recenter and any((p.recenter_x_px, p.recenter_y_px, p.recenter_z_px)):
        angles = tuple(df[c].to_numpy(dtype=np.float64) if c in df.columns else zeros for c in ("rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"))
    x, y, ox, oy = reextraction_geometry(
        df["rlnCoordinateX"].to_numpy(dtype=np.float64),
        df["rlnCoordinateY"].to_numpy(dtype=np.float64),
        df["rlnOriginXAngst"].to_numpy(dtype=np.float64) if has_origin else zeros,
        df["rlnOriginYAngst"].to_numpy(dtype=np.float64) if has_origin else zeros,
        pa,
        apix,
        recenter=p.recenter,
        recenter_px=(p.recenter_x_px, p.recenter_y_px, p.recenter_z_px),
        angles_deg=angles,
        reset_offsets=p.reset_offsets,
    )
    df = df.copy()
    df["rlnCoordinateX"] = x
    df["rlnCoordinateY"] = y
    if has_origin or p.reset_offsets:
        df["rlnOriginXAngst"] = ox
        df["rlnOriginYAngst"] = oy
    post_of_particle = df["rlnMicrographName"].astype(str).map(post_path)
    mic_names = [str(v) for v in ctx.mics["rlnMicrographName"]]
    mic_posts = {post_path(m) for m in mic_names}
    orphans = sorted(set(post_of_particle) - mic_posts)
    for m in orphans:
        log(f" WARNING: {data_path}: particles on micrograph {m}, which is not in {p.micrographs_star}; skipped")
    ctx.counts["coordinate_files_unmatched"] = len(orphans)
    groups = {k: g for k, g in df.groupby(post_of_particle.to_numpy(), sort=False)}
    work = []
    for i, name in enumerate(mic_names):
        g = groups.get(post_path(name))
        if g is not None:
            work.append(_Work(i, name, tbl.row(ctx.mics, i), picks=tbl.frame_columns(g.reset_index(drop=True))))
    ctx.counts["micrographs_without_coordinates"] = len(mic_names) - len(work)
    return work, tbl.frame_columns(parts.optics)


# ----------------------------------------------------------------------------- one micrograph


def _particle_rows(ctx: _Context, w: _Work, picks: Columns, stack_rel: str) -> Columns:
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


def _reusable(ctx: _Context, stack: Path, star: Path) -> Columns | None:
    """Rows of a micrograph finished by an earlier run, or None if it must be redone."""
    from cryopick.io.mrc import read_header

    if not (stack.exists() and star.exists()):
        return None
    try:
        table = read_star_raw(star).get(IMAGES_TABLE)
        hdr = read_header(stack)
    except CryopickError:
        return None
    size = ctx.settings.output_size_px
    mode = 12 if ctx.params.float16 else 2
    if table is None or len(table) != hdr.nz or hdr.nx != size or hdr.ny != size or hdr.mode != mode:
        return None
    return dict(table.columns)


def _extract_one(ctx: _Context, w: _Work, cancel: threading.Event | None) -> _Done:
    from cryopick.extraction.particles import extract_particles, filter_by_fom
    from cryopick.io.mrc import read_mrc, write_mrc

    check_cancel(cancel)
    p = ctx.params
    stack_rel = per_micrograph_output(ctx.job_rel, w.name, ".mrcs")
    star_rel = per_micrograph_output(ctx.job_rel, w.name, "_extract.star")
    done = _Done(w.name, stack=stack_rel, extract_star=star_rel)
    stack_path, star_path = ctx.root / stack_rel, ctx.root / star_rel
    old = _reusable(ctx, stack_path, star_path)
    if old is not None:
        done.rows, done.reused = old, True
        return done
    if w.picks is not None:
        picks = w.picks
    else:
        coord_path = resolve(ctx.root, w.coord_file)
        try:
            picks = tbl.read_coordinates(coord_path)
        except MissingFileError:
            done.failure = f"coordinate file {w.coord_file} not found"
            return done
        n_all = tbl.n_rows(picks)
        picks = filter_by_fom(picks, p.min_fom, coord_path)
        done.below_fom = n_all - tbl.n_rows(picks)
    n_picks = tbl.n_rows(picks)
    if n_picks == 0:
        done.note = "no particles to extract; skipped"
        return done
    mic_path = resolve(ctx.root, w.name)
    try:
        mic = read_mrc(mic_path)
    except MissingFileError:
        done.failure = f"micrograph file {w.name} not found; its {n_picks} particles were not extracted"
        return done
    except BadInputError as exc:
        done.failure = f"micrograph {w.name} unreadable ({exc}); its {n_picks} particles were not extracted"
        return done
    if mic.ndim != 2:
        done.failure = f"micrograph {w.name} is a stack of {mic.shape[0]} images, expected a single 2D image"
        return done
    rng = np.random.default_rng([int(p.seed), int(w.index)])
    images, kept = extract_particles(
        mic,
        np.asarray(picks["rlnCoordinateX"], dtype=np.float64),
        np.asarray(picks["rlnCoordinateY"], dtype=np.float64),
        ctx.settings,
        rng,
    )
    del mic
    done.off_micrograph = int(np.count_nonzero(~kept))
    if not kept.any():
        done.note = f"all {n_picks} boxes lie off the micrograph; skipped"
        return done
    rows = _particle_rows(ctx, w, tbl.take(picks, kept), stack_rel)
    write_mrc(stack_path, images, ctx.output_pixel_angstrom, float16=p.float16)
    write_star(star_path, {IMAGES_TABLE: rows})
    done.rows = rows
    return done


# ----------------------------------------------------------------------------- outputs


def _particle_optics(ctx: _Context, source: Columns, rows: Columns) -> tuple[Columns, Columns]:
    """Optics table for the particles and the rows with optics groups renumbered 1..n."""
    s = ctx.settings
    factor = s.box_size_px / s.output_size_px
    optics = dict(source)
    n = tbl.n_rows(optics)
    if ctx.params.is_reextract:
        optics["rlnImagePixelSize"] = np.full(n, ctx.micrograph_pixel_angstrom * factor)
    else:
        optics["rlnImagePixelSize"] = np.asarray(optics["rlnMicrographPixelSize"], dtype=np.float64) * factor
        del optics["rlnMicrographPixelSize"]
    optics["rlnImageSize"] = np.full(n, s.output_size_px, dtype=np.int64)
    optics["rlnImageDimensionality"] = np.full(n, 2, dtype=np.int64)
    if "rlnCtfDataAreCtfPremultiplied" not in optics or not ctx.params.is_reextract:
        optics["rlnCtfDataAreCtfPremultiplied"] = np.zeros(n, dtype=bool)
    groups = np.asarray(optics["rlnOpticsGroup"]).astype(np.int64)
    used = sorted(set(np.asarray(rows["rlnOpticsGroup"]).astype(np.int64).tolist()))
    renumber = {old: new for new, old in enumerate(used, start=1)}
    keep = np.flatnonzero(np.isin(groups, used))
    keep = keep[np.argsort([renumber[int(g)] for g in groups[keep]], kind="stable")]
    optics = tbl.take(optics, keep)
    optics["rlnOpticsGroup"] = np.array([renumber[int(g)] for g in groups[keep]], dtype=np.int64)
    rows = dict(rows)
    rows["rlnOpticsGroup"] = np.array([renumber[int(g)] for g in np.asarray(rows["rlnOpticsGroup"])], dtype=np.int64)
    return optics, rows


def _extract_all(ctx: _Context, work: list[_Work], job: JobDir, progress: ProgressFn,
                 cancel: threading.Event | None) -> list[_Done]:
    """Extract every micrograph in ``ctx.params.threads`` threads; log and report in input order."""
    results: list[_Done] = []
    pool = cf.ThreadPoolExecutor(max_workers=ctx.params.threads)
    try:
        futures = [pool.submit(_extract_one, ctx, w, cancel) for w in work]
        for k, fut in enumerate(futures):
            d = fut.result()
            results.append(d)
            if d.failure:
                job.log_error(f" WARNING: {d.failure}")
                msg = d.failure
            elif d.rows is None:
                msg = f"{d.name}: {d.note}"
            else:
                msg = f"{d.name}: {tbl.n_rows(d.rows)} particles" + (" (reused)" if d.reused else "")
                if d.off_micrograph:
                    msg += f", {d.off_micrograph} pick(s) with boxes wholly off the micrograph skipped"
            job.log(" " + msg)
            progress(Progress((k + 1) / len(work), d.name, msg))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def run(
    params: Params,
    project_root: str | Path,
    job_dir: str,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> StageResult:
    """Extract particles; write a complete RELION Extract job directory.

    Re-running over a failed or interrupted job reuses every micrograph whose
    stack and ``_extract.star`` are complete and consistent with the parameters.

    Raises
    ------
    BadInputError, MissingFileError
        Bad parameters or input STAR files (messages name the file), or no
        particle could be extracted at all.
    Cancelled
        ``cancel`` was set (the job gets RELION_JOB_EXIT_ABORTED).
    """
    progress = progress or no_progress
    root = Path(project_root)
    job = JobDir(root, job_dir)
    label = TYPE_LABEL_REEXTRACT if params.is_reextract else TYPE_LABEL
    inputs = [(params.micrographs_star, MICROGRAPHS_NODE)]
    if params.is_reextract:
        inputs.append((params.reextract_data_star, PARTICLES_NODE))
    elif params.coords_star:
        inputs.append((params.coords_star, COORDS_NODE))
    job.begin(params.command(job.rel), label, params.job_options(), is_continue=(job.path / "job.star").exists())
    # a particles.star from an earlier run must not look like this run's result
    for stale in ("particles.star", "extractpick.star"):
        with contextlib.suppress(FileNotFoundError):
            job.file(stale).unlink()
    register_job(root, job.rel, label, "Running", inputs=inputs)
    try:
        result = _run(params, root, job, progress, cancel)
    except Cancelled as exc:
        job.log_error(f"ABORTED: {exc}")
        job.file(ABORTED).touch()
        register_job(root, job.rel, label, "Aborted", inputs=inputs)
        raise
    except BaseException as exc:
        job.fail(f"ERROR: {exc}")
        with contextlib.suppress(Exception):
            register_job(root, job.rel, label, "Failed", inputs=inputs)
        raise
    register_job(root, job.rel, label, "Succeeded", inputs=inputs, outputs=result.output_nodes)
    job.succeed()
    return result


def _run(params: Params, root: Path, job: JobDir, progress: ProgressFn, cancel: threading.Event | None) -> StageResult:
    settings = params.settings()
    mics_path = resolve(root, params.micrographs_star)
    mic_optics, mics = tbl.read_optics_columns(mics_path, "micrographs")
    if "rlnMicrographName" not in mics:
        raise BadInputError(f"{mics_path}: table data_micrographs lacks label(s) _rlnMicrographName")
    apix = tbl.micrograph_pixel_size(mic_optics, mics_path)  # also refuses mixed pixel sizes
    ctx = _Context(root, job.rel, params, settings, apix, apix * settings.box_size_px / settings.output_size_px, mics)
    log_lines: list[str] = []
    if params.is_reextract:
        work, source = _reextract_work(ctx, log_lines.append)
    else:
        work, source = _fresh_work(ctx, log_lines.append), mic_optics
    for line in log_lines:
        job.log(line)
    if not work:
        raise BadInputError(
            f"{params.reextract_data_star or params.coords_star}: no coordinates for any micrograph of {params.micrographs_star}"
        )
    job.log(f" Extracting particles from {len(work)} micrographs with {params.threads} thread(s) ...")
    check_cancel(cancel)

    with single_threaded_blas():  # parallel micrographs, not parallel BLAS (see cryopick.extraction.blas)
        results = _extract_all(ctx, work, job, progress, cancel)
    check_cancel(cancel)

    extracted = [d for d in results if d.rows is not None and tbl.n_rows(d.rows)]
    failures = {d.name: d.failure for d in results if d.failure}
    if not extracted:
        detail = "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:5])
        raise (MissingFileError if failures else BadInputError)(
            f"no particles extracted from {params.micrographs_star}" + (f" ({detail})" if detail else "")
        )
    rows = tbl.concat([d.rows for d in extracted])
    optics, rows = _particle_optics(ctx, source, rows)
    n_particles = tbl.n_rows(rows)
    particles_rel = f"{job.rel}particles.star"
    write_star(root / particles_rel, {"optics": optics, "particles": rows})
    outputs = [(particles_rel, PARTICLES_NODE)]
    if params.is_reextract:
        pick_rel = f"{job.rel}extractpick.star"
        write_coordinate_list(root / pick_rel, [d.name for d in extracted], [d.extract_star for d in extracted])
        outputs.append((pick_rel, REEXTRACT_COORDS_NODE))
    job.log(f" Written {particles_rel} with {n_particles} particles from {len(extracted)} micrographs")

    counts = dict(ctx.counts)
    counts.update(
        micrographs=len(extracted),
        particles=n_particles,
        micrographs_reused=sum(d.reused for d in extracted),
        micrographs_failed=len(failures),
        micrographs_empty=sum(1 for d in results if d.rows is None and not d.failure),
        particles_off_micrograph=sum(d.off_micrograph for d in results),
        particles_below_fom=sum(d.below_fom for d in results),
    )
    summary = {
        "image_pixel_size_angstrom": float(ctx.output_pixel_angstrom),
        "image_size_px": float(settings.output_size_px),
        "particles_per_micrograph": float(n_particles / len(extracted)),
    }
    return StageResult(job.rel, outputs, counts, summary, failures)
