"""What to extract, per micrograph: from a coordinate list, or from a refinement's ``_data.star``.

Fresh extraction pairs each micrograph of the micrographs STAR with its coordinate file in
``autopick.star``. Re-extraction groups the particles of a ``_data.star`` by micrograph
(RELION matches them by the post-``jobNNN`` part of rlnMicrographName) and moves each to its
refined centre (:func:`cryopick.extraction.reextract.reextraction_geometry`,
relion_spec.md §3.6). Either way, coordinates for micrographs that are not in the
micrographs STAR are skipped and counted, as RELION does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io import columns as tbl
from cryopick.io.columns import Columns
from cryopick.extraction.reextract import reextraction_geometry
from cryopick.io.coords import read_coordinate_list
from cryopick.io.jobdir import post_path
from cryopick.io.optics import read_optics_star
from cryopick.io.paths import ProjectPaths


@dataclass
class Work:
    """One micrograph to extract.

    Attributes
    ----------
    index : int
        Position in the micrographs STAR.
    name : str
        rlnMicrographName.
    mic_row : dict
        Its row of the micrographs STAR (CTF values, optics group).
    coord_file : str or None
        Fresh extraction: the coordinate file, as listed.
    picks : Columns or None
        Re-extraction: its particles' rows, already moved to their refined centres.
    """

    index: int
    name: str
    mic_row: dict
    coord_file: str | None = None
    picks: Columns | None = None


def fresh_work(project: ProjectPaths, coords_star: str, micrographs_star: str, mics: Columns,
               log: Callable[[str], None], counts: dict[str, int]) -> list[Work]:
    """Micrographs that have a coordinate file in ``coords_star`` (autopick.star)."""
    coords_path = project.read_path(coords_star, "coordinate list")
    listing = read_coordinate_list(coords_path)
    coord_of = dict(zip((str(v) for v in listing["rlnMicrographName"]),
                        (str(v) for v in listing["rlnMicrographCoordinates"])))
    mic_names = [str(v) for v in mics["rlnMicrographName"]]
    known = set(mic_names)
    unmatched = [m for m in coord_of if m not in known]
    for m in unmatched:
        log(f" WARNING: {coords_path}: coordinates for {m}, which is not in {micrographs_star}; skipped")
    counts["coordinate_files_unmatched"] = len(unmatched)
    counts["micrographs_without_coordinates"] = sum(1 for m in mic_names if m not in coord_of)
    return [Work(i, name, tbl.row(mics, i), coord_file=coord_of[name]) for i, name in enumerate(mic_names) if name in coord_of]


def reextract_work(project: ProjectPaths, data_star: str, micrographs_star: str, mics: Columns,
                   micrograph_pixel_angstrom: float, params: Any, log: Callable[[str], None],
                   counts: dict[str, int]) -> tuple[list[Work], Columns]:
    """Work per micrograph from a refinement's ``_data.star``, and that file's optics table (uses pandas).

    ``params`` supplies ``recenter``, ``recenter_x_px``/``_y_px``/``_z_px`` and ``reset_offsets``.
    """
    data_path = project.read_path(data_star, "particles STAR to re-extract")
    parts = read_optics_star(data_path, "particles")
    df = parts.data
    for lab in ("rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY"):
        if lab not in df.columns:
            raise BadInputError(f"{data_path}: data_particles lacks _{lab}; cannot re-extract")
    if "rlnImagePixelSize" not in parts.optics.columns:
        raise BadInputError(f"{data_path}: data_optics lacks _rlnImagePixelSize; cannot re-extract")
    has_origin = "rlnOriginXAngst" in df.columns and "rlnOriginYAngst" in df.columns
    if params.recenter and not has_origin:
        raise BadInputError(f"{data_path}: no _rlnOriginXAngst/_rlnOriginYAngst columns to re-centre on")
    pix = dict(zip(parts.optics["rlnOpticsGroup"].astype(int), parts.optics["rlnImagePixelSize"].astype(float)))
    pa = df["rlnOpticsGroup"].astype(int).map(pix).to_numpy(dtype=np.float64)
    zeros = np.zeros(len(df))
    recenter_px = (params.recenter_x_px, params.recenter_y_px, params.recenter_z_px)
    angles = None
    if params.recenter and any(recenter_px):
        angles = tuple(df[c].to_numpy(dtype=np.float64) if c in df.columns else zeros
                       for c in ("rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"))
    x, y, ox, oy = reextraction_geometry(
        df["rlnCoordinateX"].to_numpy(dtype=np.float64),
        df["rlnCoordinateY"].to_numpy(dtype=np.float64),
        df["rlnOriginXAngst"].to_numpy(dtype=np.float64) if has_origin else zeros,
        df["rlnOriginYAngst"].to_numpy(dtype=np.float64) if has_origin else zeros,
        pa,
        micrograph_pixel_angstrom,
        recenter=params.recenter,
        recenter_px=recenter_px,
        angles_deg=angles,
        reset_offsets=params.reset_offsets,
    )
    df = df.copy()
    df["rlnCoordinateX"] = x
    df["rlnCoordinateY"] = y
    if has_origin or params.reset_offsets:
        df["rlnOriginXAngst"] = ox
        df["rlnOriginYAngst"] = oy
    post_of_particle = df["rlnMicrographName"].astype(str).map(post_path)
    mic_names = [str(v) for v in mics["rlnMicrographName"]]
    mic_posts = {post_path(m) for m in mic_names}
    orphans = sorted(set(post_of_particle) - mic_posts)
    for m in orphans:
        log(f" WARNING: {data_path}: particles on micrograph {m}, which is not in {micrographs_star}; skipped")
    counts["coordinate_files_unmatched"] = len(orphans)
    groups = {k: g for k, g in df.groupby(post_of_particle.to_numpy(), sort=False)}
    work = []
    for i, name in enumerate(mic_names):
        g = groups.get(post_path(name))
        if g is not None:
            work.append(Work(i, name, tbl.row(mics, i), picks=tbl.frame_columns(g.reset_index(drop=True))))
    counts["micrographs_without_coordinates"] = len(mic_names) - len(work)
    return work, tbl.frame_columns(parts.optics)
