"""Training particles for Topaz, read as RELION's wrapper reads them (relion_spec.md §6.4).

From a particles STAR ("train on a set of particles"): each particle's picked position minus
its refined origin offset, ``X − ROUND(rlnOriginXAngst / pixel size)`` (the micrographs' pixel
size), so training sees where the particle really is. From a coordinate-file list
(``autopick.star``): the picks as they are. Only micrographs of the input micrographs STAR count, and
only particles that lie on their micrograph (:func:`on_micrograph`).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.mrc import read_header
from cryopick.io.optics import read_optics_columns
from cryopick.io.paths import ProjectPaths
from cryopick.picking.log import relion_round


def particle_centres(project: ProjectPaths, particles_star: str, pixel_size_angstrom: float) -> dict[str, np.ndarray]:
    """Per micrograph, particle centres (x, y) in micrograph pixels with origin offsets applied.

    Returns
    -------
    dict[str, np.ndarray]
        Micrograph name -> shape (n, 2) float64.
    """
    path = project.read_path(particles_star, "particles STAR")
    _, data = read_optics_columns(path, "particles")
    for label in ("rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY"):
        if label not in data:
            raise BadInputError(f"{path}: data_particles lacks _{label}")
    x = np.asarray(data["rlnCoordinateX"], dtype=np.float64)
    y = np.asarray(data["rlnCoordinateY"], dtype=np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise BadInputError(f"{path}: non-finite particle coordinates")
    for label, values in (("rlnOriginXAngst", x), ("rlnOriginYAngst", y)):
        if label in data:
            values -= np.array([relion_round(v / pixel_size_angstrom) for v in np.asarray(data[label], float)])
    names = np.asarray(data["rlnMicrographName"]).astype(str)
    xy = np.column_stack([x, y])
    return {str(m): xy[names == m] for m in dict.fromkeys(names.tolist())}


def pick_centres(project: ProjectPaths, coords_star: str, names: Collection[str]) -> dict[str, np.ndarray]:
    """Per micrograph of ``names``, the picks (x, y) of a coordinate-file list, in micrograph pixels.

    The coordinate files of other micrographs are not read (they do not count, and may be gone).
    """
    path = project.read_path(coords_star, "coordinate-file list")
    listing = read_coordinate_list(path)
    out = {}
    for mic, rel in zip(listing["rlnMicrographName"], listing["rlnMicrographCoordinates"]):
        if str(mic) not in names:
            continue
        cols = read_coordinates(project.read_path(str(rel), "coordinate file"))
        out[str(mic)] = np.column_stack([np.asarray(cols["rlnCoordinateX"], float),
                                         np.asarray(cols["rlnCoordinateY"], float)]).reshape(-1, 2)
    return out


def on_micrograph(project: ProjectPaths, centres: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    """The particles that lie on their micrograph (0 <= x < nx, 0 <= y < ny, by its header), and how many do not.

    A particle off its micrograph labels no pixel, so it is left out, and micrographs left without
    particles with it.

    Parameters
    ----------
    centres : dict[str, np.ndarray]
        Micrograph name -> shape (n, 2) particle centres (x, y), as :func:`pick_centres` gives them.

    Raises
    ------
    MissingFileError, BadInputError
        A micrograph that is missing or whose header is unreadable (naming the file).
    """
    kept: dict[str, np.ndarray] = {}
    off = 0
    for name, xy in centres.items():
        hdr = read_header(project.read_path(name, "micrograph", linked_ok=True))
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < hdr.nx) & (xy[:, 1] >= 0) & (xy[:, 1] < hdr.ny)
        off += int(np.count_nonzero(~inside))
        if inside.any():
            kept[name] = xy[inside]
    return kept, off
