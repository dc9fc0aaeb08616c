"""What the class ranker reads from a 2D classification job (relion_spec.md §5.2).

From ``run_itNNN_optimiser.star``: the model and data STAR files it names, the mask diameter
(rlnParticleDiameter) and whether the job corrected CTFs. From the model: the pixel size and
box, each class's row of ``model_classes`` and its SSNR table, and the class averages. From
the data: the number of particles (class sizes are class distribution × that number, as
RELION estimates them) and each particle's class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.mrc import read_mrc
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import get_table, read_star_raw, split_image_name
from cryopick.ranking.class_features import ModelClass, is_ranked, particle_count

_CLASS_LABELS = ("rlnReferenceImage", "rlnClassDistribution", "rlnAccuracyRotations", "rlnAccuracyTranslationsAngst",
                 "rlnEstimatedResolution")


@dataclass(frozen=True)
class RankInputs:
    """A classification job, as the ranker sees it.

    Attributes
    ----------
    model_star, data_star : str
        Project-relative names from the optimiser file.
    pixel_size_angstrom : float
    diameter_angstrom : float
        The job's mask diameter (rlnParticleDiameter).
    ctf_corrected, ignore_ctf_until_first_peak : bool
    classes : list[ModelClass]
        One per class, in class order.
    reference_images : list[str]
        rlnReferenceImage per class.
    averages : np.ndarray, shape (K, box, box), float32
    particle_classes : np.ndarray, shape (N,), int64
        rlnClassNumber of every particle.
    particle_micrographs : np.ndarray, shape (N,), str
        rlnMicrographName ("" when the data has none).
    particle_xy_px : np.ndarray, shape (N, 2)
        rlnCoordinateX/Y (NaN when the data has none).
    optimiser_row : dict[str, object]
        The optimiser file's ``optimiser_general`` values, as read.
    model_classes : dict[str, np.ndarray]
        The model's ``model_classes`` columns, as read.
    data_tables : dict[str, RawTable]
        Every table of the data STAR (optics and particles), as read.
    """

    model_star: str
    data_star: str
    pixel_size_angstrom: float
    diameter_angstrom: float
    ctf_corrected: bool
    ignore_ctf_until_first_peak: bool
    classes: list[ModelClass]
    reference_images: list[str]
    averages: np.ndarray
    particle_classes: np.ndarray
    particle_micrographs: np.ndarray
    particle_xy_px: np.ndarray
    optimiser_row: dict
    model_classes: dict
    data_tables: dict

    @property
    def n_particles(self) -> int:
        return len(self.particle_classes)

    @property
    def particle_counts(self) -> np.ndarray:
        """RELION's estimated particles per class (class distribution × particles), shape (K,)."""
        return np.array([particle_count(c.class_distribution, self.n_particles) for c in self.classes])

    @property
    def ranked(self) -> np.ndarray:
        """Indices of the classes RELION scores (more than 10 particles), shape (n,)."""
        return np.flatnonzero([is_ranked(n) for n in self.particle_counts]).astype(np.int64)


def _first(table, label: str, path: object, kind=float):
    if label not in table.columns:
        raise BadInputError(f"{path}: lacks _{label}")
    value = table.columns[label][0]
    return kind(str(value)) if kind is str else kind(float(value))


def read_rank_inputs(project: ProjectPaths, optimiser_rel: str) -> RankInputs:
    """Read a Class2D job through its ``run_itNNN_optimiser.star``.

    Raises
    ------
    MissingFileError, BadInputError
        A file is missing or lacks a table or label; the class averages do not match the model.
    """
    opt_path = project.read_path(optimiser_rel, "optimiser STAR")
    opt = get_table(read_star_raw(opt_path), "optimiser_general", opt_path,
                    required=("rlnModelStarFile", "rlnExperimentalDataStarFile", "rlnParticleDiameter"))
    model_rel = _first(opt, "rlnModelStarFile", opt_path, str)
    data_rel = _first(opt, "rlnExperimentalDataStarFile", opt_path, str)
    diameter = _first(opt, "rlnParticleDiameter", opt_path)
    ctf = bool(_first(opt, "rlnDoCorrectCtf", opt_path, int)) if "rlnDoCorrectCtf" in opt.columns else False
    first_peak = bool(_first(opt, "rlnDoIgnoreCtfUntilFirstPeak", opt_path, int)) \
        if "rlnDoIgnoreCtfUntilFirstPeak" in opt.columns else False

    model_path = project.read_path(model_rel, "model STAR")
    tables = read_star_raw(model_path)
    general = get_table(tables, "model_general", model_path, required=("rlnPixelSize", "rlnOriginalImageSize"))
    pixel = _first(general, "rlnPixelSize", model_path)
    box = _first(general, "rlnOriginalImageSize", model_path, int)
    rows = get_table(tables, "model_classes", model_path, required=_CLASS_LABELS).columns
    classes = []
    for k in range(len(rows["rlnReferenceImage"])):
        shells = tables.get(f"model_class_{k + 1}")
        ssnr = res = None
        if shells is not None and {"rlnSsnrMap", "rlnAngstromResolution"} <= set(shells.columns):
            ssnr = np.asarray(shells.columns["rlnSsnrMap"], dtype=np.float64)
            res = np.asarray(shells.columns["rlnAngstromResolution"], dtype=np.float64)
        classes.append(ModelClass(float(rows["rlnClassDistribution"][k]), float(rows["rlnEstimatedResolution"][k]),
                                  float(rows["rlnAccuracyRotations"][k]), float(rows["rlnAccuracyTranslationsAngst"][k]),
                                  ssnr, res))
    names = [str(n) for n in rows["rlnReferenceImage"]]
    averages = _read_averages(project, names, box, model_path)
    data_path = project.read_path(data_rel, "data STAR")
    data_tables = read_star_raw(data_path)
    data = get_table(data_tables, "particles", data_path, required=("rlnClassNumber",)).columns
    particle_classes = np.asarray(data["rlnClassNumber"], dtype=np.int64)
    if len(particle_classes) and (particle_classes.min() < 1 or particle_classes.max() > len(classes)):
        raise BadInputError(f"{data_rel}: class numbers outside 1..{len(classes)}")
    n = len(particle_classes)
    mics = np.asarray(data.get("rlnMicrographName", np.full(n, "")), dtype=object).astype(str)
    xy = np.column_stack([np.asarray(data.get(f"rlnCoordinate{a}", np.full(n, np.nan)), dtype=np.float64) for a in "XY"])
    return RankInputs(model_rel, data_rel, pixel, diameter, ctf, first_peak, classes, names, averages, particle_classes,
                      mics, xy, {label: values[0] for label, values in opt.columns.items()}, dict(rows), data_tables)


def _read_averages(project: ProjectPaths, names: list[str], box: int, model_path: object) -> np.ndarray:
    stacks: dict[str, np.ndarray] = {}
    out = np.empty((len(names), box, box), dtype=np.float32)
    for k, name in enumerate(names):
        index, rel = split_image_name(name)
        if rel not in stacks:
            stack = read_mrc(project.read_path(rel, "class averages"))
            stacks[rel] = stack[None] if stack.ndim == 2 else stack
        stack = stacks[rel]
        if not 1 <= index <= len(stack) or stack.shape[-1] != box or stack.shape[-2] != box:
            raise BadInputError(f"{model_path}: {name} is not a {box}x{box} image of {rel} ({stack.shape})")
        out[k] = stack[index - 1]
    return out
