"""Reading what pick scoring needs: ground-truth particles and a job's picks per micrograph."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.columns import micrograph_pixel_size
from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.optics import read_optics_columns
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import read_star_raw


@dataclass(frozen=True)
class Truth:
    """Ground truth read from a particles STAR.

    Attributes
    ----------
    xy_by_mic : dict[str, ndarray (n, 2)]
        True particle centres (x, y) in micrograph pixels, per micrograph.
    pixel_size_angstrom : float
    diameter_angstrom : float or None
        From the simulator's ``data_simulation`` table, if present.
    """

    xy_by_mic: dict[str, np.ndarray]
    pixel_size_angstrom: float
    diameter_angstrom: float | None


def read_truth(path: str | os.PathLike) -> Truth:
    """Read true particle positions (``GroundTruth/particles.star`` or any particles STAR
    with rlnMicrographName, rlnCoordinateX/Y and a micrograph pixel size in data_optics)."""
    optics, data = read_optics_columns(path, "particles")
    for lab in ("rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY"):
        if lab not in data:
            raise BadInputError(f"{path}: data_particles lacks _{lab}")
    pix = micrograph_pixel_size(optics, path)
    names = np.asarray(data["rlnMicrographName"]).astype(str)
    xy = np.column_stack([np.asarray(data["rlnCoordinateX"], float), np.asarray(data["rlnCoordinateY"], float)])
    by_mic = {str(m): xy[names == m] for m in dict.fromkeys(names.tolist())}
    diameter = None
    sim = read_star_raw(path).get("simulation")
    if sim is not None and "cryopickParticleDiameterAngstrom" in sim.columns:
        diameter = float(sim.columns["cryopickParticleDiameterAngstrom"][0])
    return Truth(by_mic, pix, diameter)


def infer_project_root(picks_star: str | os.PathLike) -> Path | None:
    """``<root>/<Type>/jobNNN/autopick.star`` -> ``<root>``; None if not in a job directory."""
    p = Path(picks_star).resolve()
    if re.fullmatch(r"job\d{3,}", p.parent.name):
        return p.parent.parent.parent
    return None


def read_picks(picks_star: str | os.PathLike, project_root: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Per-micrograph pick columns from an ``autopick.star`` coordinate-file list.

    Raises
    ------
    MissingFileError
        A listed coordinate file does not exist.
    BadInputError
        A listed coordinate file lies outside the project.
    """
    project = ProjectPaths(project_root)
    listing = read_coordinate_list(picks_star)
    return {
        str(mic): read_coordinates(project.read_path(str(rel), "coordinate file"))
        for mic, rel in zip(listing["rlnMicrographName"], listing["rlnMicrographCoordinates"])
    }
