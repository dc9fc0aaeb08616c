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

Micrographs are picked in parallel threads; a re-run of an interrupted or failed job
with the same parameters keeps the coordinate files already written (RELION's
"only do unfinished"). A bad micrograph does not stop the others: they are picked,
then the job fails naming every bad file (or, with ``skip_failed_micrographs``, succeeds
without them).
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cryopick.errors import BadInputError, Cancelled, CryopickError, MissingFileError, PartialFailure
from cryopick.io.atomic import write_text_atomic
from cryopick.io.columns import read_coordinates as read_coordinate_columns
from cryopick.io.coords import picks_columns, resolve, write_coordinate_list, write_coordinates
from cryopick.io.jobdir import JobDir, per_micrograph_output
from cryopick.io.mrc import read_header, read_mrc
from cryopick.io.optics import read_micrograph_list
from cryopick.io.pipeline import register_job
from cryopick.io.star import write_star
from cryopick.picking.log import UPPER_THRESHOLD_OFF, LoGParams, LoGPicker
from cryopick.report.pdf import BarChart, write_bar_charts
from cryopick.stages.base import Progress, ProgressFn, StageResult, check_cancel, no_progress

TYPE_LABEL = "relion.autopick.log"
COORDS_NODE = "MicrographsCoords.star.relion.autopick"
LOGFILE_NODE = "LogFile.pdf.relion.autopick"
MICS_NODE = "MicrographsData.star.relion"
SUFFIX = "_autopick.star"
_FINGERPRINT = ".cryopick_params.json"


@dataclass(frozen=True)
class Params:
    """AutoPick (LoG) parameters, named after the RELION GUI fields.

    Attributes
    ----------
    micrographs_star : str
        Project-relative micrographs STAR (e.g. ``Select/job004/micrographs_split1.star``).
    diameter_min_angstrom, diameter_max_angstrom : float
        "Min./Max. diameter for LoG filter (A)".
    particles_white : bool
        "Are the particles white?".
    max_resolution_angstrom : float
        "Maximum resolution to consider (A)"; <= 0 for none.
    threshold_stddev : float
        "Adjust default threshold (stddev)".
    upper_threshold_stddev : float
        "Upper threshold (stddev)"; >= 999 = off.
    pixel_size_angstrom : float
        Override of the optics table's rlnMicrographPixelSize; <= 0 = from the STAR file.
    threads : int
        Micrographs picked in parallel.
    neighbour_percent, max_search, skip_side_px, random_seed
        RELION's expert options (--LoG_neighbour, --Log_max_search, --skip_side, --random_seed).
    skip_failed_micrographs : bool
        Succeed without micrographs that cannot be read (they are listed in run.err).
    """

    micrographs_star: str
    diameter_min_angstrom: float = 150.0
    diameter_max_angstrom: float = 180.0
    particles_white: bool = False
    max_resolution_angstrom: float = 20.0
    threshold_stddev: float = 0.0
    upper_threshold_stddev: float = UPPER_THRESHOLD_OFF
    pixel_size_angstrom: float = -1.0
    threads: int = 1
    neighbour_percent: float = 100.0
    max_search: float = 5.0
    skip_side_px: int = 0
    random_seed: int = 1
    skip_failed_micrographs: bool = False

    def validate(self) -> None:
        """Check the parameters that need no file (called before anything is written)."""
        if self.threads < 1:
            raise BadInputError(f"autopick: threads must be at least 1, got {self.threads}")
        self.log_params(self.pixel_size_angstrom if self.pixel_size_angstrom > 0 else 1.0).validate()

    def log_params(self, pixel_size_angstrom: float) -> LoGParams:
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

    def command(self, job_rel: str) -> str:
        """The equivalent cryopick command line (for note.txt)."""
        cmd = (
            f"cryopick autopick-log --i {self.micrographs_star} --o {job_rel} "
            f"--diam-min {self.diameter_min_angstrom:g} --diam-max {self.diameter_max_angstrom:g} "
            f"--maxres {self.max_resolution_angstrom:g} --threshold {self.threshold_stddev:g} "
            f"--upper-threshold {self.upper_threshold_stddev:g} --threads {self.threads}"
        )
        if self.particles_white:
            cmd += " --white"
        if self.pixel_size_angstrom > 0:
            cmd += f" --angpix {self.pixel_size_angstrom:g}"
        return cmd

    def job_options(self) -> dict[str, object]:
        """RELION job.star option names and values."""
        return {
            "fn_input_autopick": self.micrographs_star,
            "do_log": True,
            "log_diam_min": self.diameter_min_angstrom,
            "log_diam_max": self.diameter_max_angstrom,
            "log_invert": self.particles_white,
            "log_maxres": self.max_resolution_angstrom,
            "log_adjust_thr": self.threshold_stddev,
            "log_upper_thr": self.upper_threshold_stddev,
            "do_topaz": False,
            "use_gpu": False,
            "nr_threads": self.threads,
        }


@dataclass(frozen=True)
class _Done:
    index: int
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


def _fingerprint(params: Params, pixel_size: float) -> str:
    fields = asdict(params)
    fields.pop("threads")
    fields["pixel_size_used"] = pixel_size
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _pick_one(
    root: Path, job: JobDir, name: str, index: int, cache: _PickerCache, seed: int, reuse: bool, cancel: threading.Event | None
) -> _Done:
    check_cancel(cancel)
    coord_rel = per_micrograph_output(job.rel, name, SUFFIX)
    coord_path = root / coord_rel
    if reuse and coord_path.exists():
        fom = read_coordinate_columns(coord_path).get("rlnAutopickFigureOfMerit", np.zeros(0))
        return _Done(index, name, coord_rel, np.asarray(fom, dtype=float))
    mic_path = resolve(root, name)
    hdr = read_header(mic_path)
    if hdr.nz != 1:
        raise BadInputError(f"{mic_path}: is a stack of {hdr.nz} images, expected one micrograph")
    mic = read_mrc(mic_path, out=cache.read_buffer((hdr.ny, hdr.nx)))
    picks = cache.get(mic.shape).pick(mic, seed=seed)
    write_coordinates(coord_path, picks_columns(picks.x_px, picks.y_px, picks.fom))
    return _Done(index, name, coord_rel, picks.fom)


def _warm_up(root: Path, first_micrograph: str, cache: _PickerCache) -> None:
    """Build the picker for the first micrograph's size before the workers start."""
    try:
        hdr = read_header(resolve(root, first_micrograph))
    except CryopickError:
        return  # reported by its worker
    cache.get((hdr.ny, hdr.nx))


def _write_reports(job: JobDir, done: list[_Done]) -> None:
    names = np.array([d.micrograph for d in done], dtype=object)
    counts = np.array([len(d.fom) for d in done], dtype=np.int64)
    means = np.array([float(d.fom.mean()) if len(d.fom) else 0.0 for d in done])
    write_star(
        job.file("summary.star"),
        {"autopick_summary": {"rlnMicrographName": names, "rlnAutopickFigureOfMerit": means, "rlnGroupNrParticles": counts}},
    )
    all_fom = np.concatenate([d.fom for d in done]) if done else np.zeros(0)
    if all_fom.size:
        lo, hi = float(all_fom.min()), float(all_fom.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, 31)
        hist = np.histogram(all_fom, bins=edges)[0]
    else:
        edges, hist = np.array([0.0, 1.0]), np.zeros(1)
    write_bar_charts(
        job.file("logfile.pdf"),
        [
            BarChart("Number of picks per micrograph", "micrograph (input order)", "picks", counts.astype(float)),
            BarChart("Histogram of figures of merit (LoG response)", "figure of merit", "picks", hist.astype(float), edges),
            BarChart("Mean figure of merit per micrograph", "micrograph (input order)", "mean FOM", np.maximum(means, 0.0)),
        ],
        heading=f"{job.rel}: {int(counts.sum())} picks on {len(done)} micrographs",
    )


def run(
    params: Params,
    project_root: str | Path,
    job_dir: str,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> StageResult:
    """Pick every micrograph of ``params.micrographs_star``; write a complete AutoPick job.

    Raises
    ------
    BadInputError, MissingFileError
        Unreadable STAR file, bad parameters, or (without ``skip_failed_micrographs``)
        any micrograph that could not be picked — raised after the others were picked,
        as :class:`PartialFailure` listing them.
    """
    progress = progress or no_progress
    root = Path(project_root)
    job = JobDir(root, job_dir)
    job.begin(params.command(job.rel), TYPE_LABEL, params.job_options())
    with job.running():
        params.validate()
        names, star_apix = read_micrograph_list(resolve(root, params.micrographs_star))
        if not names:
            raise BadInputError(f"{params.micrographs_star}: the micrograph list is empty")
        apix = params.pixel_size_angstrom if params.pixel_size_angstrom > 0 else star_apix
        log_params = params.log_params(apix)
        log_params.validate()
        fingerprint = _fingerprint(params, apix)
        fp_file = job.file(_FINGERPRINT)
        reuse = fp_file.exists() and fp_file.read_text().strip() == fingerprint
        write_text_atomic(fp_file, fingerprint + "\n")
        job.log(f" + Laplacian-of-Gaussian picking of {len(names)} micrographs from {params.micrographs_star}")
        job.log(f" + pixel size {apix:g} A, diameters {log_params.diameter_min_angstrom:g}-{log_params.diameter_max_angstrom:g} A")
        cache = _PickerCache(log_params)
        _warm_up(root, names[0], cache)
        done: list[_Done] = []
        errors: dict[str, CryopickError] = {}
        with ThreadPoolExecutor(max_workers=params.threads) as pool:
            futures = {
                pool.submit(_pick_one, root, job, name, k, cache, params.random_seed + k, reuse, cancel): name
                for k, name in enumerate(names)
            }
            for n_done, fut in enumerate(as_completed(futures), start=1):
                name = futures[fut]
                try:
                    res = fut.result()
                except Cancelled:
                    for f in futures:
                        f.cancel()
                    raise
                except CryopickError as exc:
                    errors[name] = exc
                    job.log_error(f"ERROR: micrograph {name}: {exc}")
                    progress(Progress(n_done / len(names), name, f"FAILED {name}: {exc}"))
                    continue
                done.append(res)
                progress(Progress(n_done / len(names), name, f"{name}: {len(res.fom)} picks"))
        done.sort(key=lambda d: d.index)
        failures = {name: str(exc) for name, exc in errors.items()}
        if failures and (not params.skip_failed_micrographs or not done):
            listing = "; ".join(failures.values())
            message = f"{len(failures)} of {len(names)} micrographs could not be picked: {listing}"
            if len(errors) == 1:
                raise next(iter(errors.values()))
            if not done and all(isinstance(e, MissingFileError) for e in errors.values()):
                raise MissingFileError(message)
            raise PartialFailure(message, failures)
        write_coordinate_list(job.file("autopick.star"), [d.micrograph for d in done], [d.coord_file for d in done])
        _write_reports(job, done)
        total = int(sum(len(d.fom) for d in done))
        job.log(f" + Picked {total} particles on {len(done)} micrographs; written {job.rel}autopick.star")
        outputs = [(f"{job.rel}autopick.star", COORDS_NODE), (f"{job.rel}logfile.pdf", LOGFILE_NODE)]
        register_job(root, job.rel, TYPE_LABEL, "Succeeded", inputs=[(params.micrographs_star, MICS_NODE)], outputs=outputs)
    all_fom = np.concatenate([d.fom for d in done]) if done else np.zeros(0)
    return StageResult(
        job_dir=job.rel,
        output_nodes=outputs,
        counts={"micrographs": len(done), "picks": total, "failed_micrographs": len(failures)},
        summary={
            "picks_per_micrograph": total / max(len(done), 1),
            "mean_fom": float(all_fom.mean()) if all_fom.size else 0.0,
            "pixel_size_angstrom": apix,
        },
        failures=failures,
        figures=[f"{job.rel}logfile.pdf"],
    )
