"""The particles a Class2D job classifies: read, checked and turned into the classifier's containers.

Reads a particles STAR file (RELION ≥ 3.1: optics + particles) as RELION's Class2D does:

* every optics group must have the same image size and pixel size (cryopick classifies one
  box; RELION would rescale), and images that are not CTF-premultiplied;
* with CTF correction each particle needs rlnDefocusU/V/Angle, each optics group rlnVoltage,
  rlnSphericalAberration and rlnAmplitudeContrast; rlnPhaseShift, rlnCtfBfactor and
  rlnCtfScalefactor are optional (0, 0, 1);
* groups for the intensity-scale correction: rlnGroupName if given, else one group per
  micrograph (its name after the ``jobNNN/`` part), numbered in order of appearance;
* starting offsets from rlnOriginX/YAngst and norm corrections from rlnNormCorrection, when present;
* every image must exist in its stack (:func:`cryopick.io.particle_stacks.check_particle_stacks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io import columns as tbl
from cryopick.io.columns import Columns
from cryopick.io.jobdir import post_path
from cryopick.io.optics import read_optics_columns
from cryopick.io.particle_stacks import check_particle_stacks, read_particle_images
from cryopick.io.paths import ProjectPaths

CTF_PARTICLE_LABELS = ("rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle")
CTF_OPTICS_LABELS = ("rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast")


@dataclass
class ParticleSet:
    """A checked particles STAR file.

    Attributes
    ----------
    star : str
        Project-relative path.
    optics, rows : Columns
        Its two tables.
    pixel_size_angstrom : float
    box_px : int
    stacks : dict
        Stack -> [(row, 0-based index)] (:func:`check_particle_stacks`).
    group : np.ndarray, shape (n,), int
        0-based scale-correction group of each particle.
    group_names : list[str]
    optics_index : np.ndarray, shape (n,), int
        0-based row of each particle's optics group in ``optics``.
    """

    star: str
    optics: Columns
    rows: Columns
    pixel_size_angstrom: float
    box_px: int
    stacks: dict
    group: np.ndarray
    group_names: list[str]
    optics_index: np.ndarray

    @property
    def n(self) -> int:
        return tbl.n_rows(self.rows)

    def column(self, label: str, default: float) -> np.ndarray:
        """A per-particle float column, ``default`` where the label is absent."""
        if label in self.rows:
            return np.asarray(self.rows[label], dtype=np.float64)
        return np.full(self.n, float(default))

    def optics_column(self, label: str) -> np.ndarray:
        """An optics-table value for each particle, shape (n,)."""
        return np.asarray(self.optics[label], dtype=np.float64)[self.optics_index]


def _groups(rows: Columns, n: int) -> tuple[np.ndarray, list[str]]:
    if "rlnGroupName" in rows:
        keys = [str(v) for v in rows["rlnGroupName"]]
    elif "rlnMicrographName" in rows:
        keys = [post_path(str(v)) for v in rows["rlnMicrographName"]]
    else:
        keys = ["group_1"] * n
    names: list[str] = []
    index: dict[str, int] = {}
    group = np.empty(n, dtype=np.int64)
    for i, key in enumerate(keys):
        if key not in index:
            index[key] = len(names)
            names.append(key)
        group[i] = index[key]
    return group, names


def read_particle_set(project: ProjectPaths, star_rel: str, ctf: bool) -> ParticleSet:
    """Read and check a particles STAR file (see the module docstring).

    Raises
    ------
    BadInputError, MissingFileError
        Naming the file and the problem.
    """
    path = project.read_path(star_rel, "particles STAR")
    optics, rows = read_optics_columns(path, "particles")
    n = tbl.n_rows(rows)
    if n == 0:
        raise BadInputError(f"{star_rel}: no particles")
    if "rlnImageName" not in rows:
        raise BadInputError(f"{star_rel}: table data_particles lacks label _rlnImageName")
    for label in ("rlnImagePixelSize", "rlnImageSize"):
        if label not in optics:
            raise BadInputError(f"{star_rel}: table data_optics lacks label _{label} (is this a particles STAR file?)")
    sizes = np.unique(np.asarray(optics["rlnImageSize"], dtype=np.int64))
    pixels = np.unique(np.round(np.asarray(optics["rlnImagePixelSize"], dtype=np.float64), 6))
    if len(sizes) > 1 or len(pixels) > 1:
        raise BadInputError(f"{star_rel}: optics groups with different image sizes {sizes.tolist()} or pixel sizes "
                            f"{pixels.tolist()} Å; classify them separately or re-extract them to one box")
    box = int(sizes[0])
    if box % 2:
        raise BadInputError(f"{star_rel}: image size {box} px is odd; 2D classification needs an even box")
    if "rlnCtfDataAreCtfPremultiplied" in optics and np.any(np.asarray(optics["rlnCtfDataAreCtfPremultiplied"]).astype(int)):
        raise BadInputError(f"{star_rel}: CTF-premultiplied particles are not supported; extract them without premultiplication")
    group_ids = [int(g) for g in np.asarray(optics["rlnOpticsGroup"])]
    where = {g: i for i, g in enumerate(group_ids)}
    # (read_optics_columns has checked that every group is defined)
    optics_index = np.array([where[int(g)] for g in np.asarray(rows["rlnOpticsGroup"])], dtype=np.int64)
    if ctf:
        missing = [lab for lab in CTF_PARTICLE_LABELS if lab not in rows]
        missing += [lab for lab in CTF_OPTICS_LABELS if lab not in optics]
        if missing:
            raise BadInputError(f"{star_rel}: CTF correction needs {', '.join('_' + m for m in missing)}; "
                                f"run CTF estimation first or classify without CTF correction")
    stacks = check_particle_stacks(project, [str(v) for v in rows["rlnImageName"]], star_rel, box)
    group, names = _groups(rows, n)
    return ParticleSet(star_rel, optics, rows, float(pixels[0]), box, stacks, group, names, optics_index)


def read_images(project: ProjectPaths, ps: ParticleSet) -> np.ndarray:
    """All particle images in STAR order, shape (n, B, B), float32; non-finite values are an error."""
    images = read_particle_images(project, ps.stacks, ps.n, ps.box_px)
    bad = ~np.isfinite(images).all(axis=(1, 2))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise BadInputError(f"{ps.star}: {int(bad.sum())} particle image(s) hold NaN or infinite values "
                            f"(first: {ps.rows['rlnImageName'][first]})")
    return images
