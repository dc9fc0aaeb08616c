"""Tiny synthetic extraction inputs: micrographs, a CTF micrographs STAR and picks.

Used by the extraction tests, the RELION parity tests and the extraction
benchmark. The micrographs are random structured images (blobs on a tilted,
noisy background, so that ramp subtraction and normalisation matter); the picks
have fractional coordinates (to exercise truncation) and some lie close enough to
an edge that their boxes cross it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.io.coords import picks_columns, write_coordinate_list, write_coordinates
from cryopick.io.jobdir import per_micrograph_output
from cryopick.io.mrc import write_mrc
from cryopick.io.optics import OpticsStar, single_optics_group, write_optics_star


@dataclass
class SyntheticExtractionProject:
    """Paths (project-relative) and ground truth of a synthetic extraction input.

    Attributes
    ----------
    root : pathlib.Path
        Project root.
    micrographs_star : str
        ``CtfFind/job003/micrographs_ctf.star``.
    coords_star : str
        ``AutoPick/job006/autopick.star``.
    micrographs : list[str]
        Micrograph names as written in the STAR file.
    coordinate_files : list[str]
        One per micrograph.
    picks : list[pandas.DataFrame]
        The coordinate table written for each micrograph.
    """

    root: Path
    micrographs_star: str
    coords_star: str
    micrographs: list[str] = field(default_factory=list)
    coordinate_files: list[str] = field(default_factory=list)
    picks: list[pd.DataFrame] = field(default_factory=list)


def structured_micrograph(shape: tuple[int, int], centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random structured image: Gaussian blobs, a linear ramp, a mean offset and noise.

    Parameters
    ----------
    shape : (ny, nx)
    centres : ndarray, shape (n, 2)
        Blob centres (x, y) in pixels.

    Returns
    -------
    ndarray, shape (ny, nx), float32
    """
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    img = 50.0 + 0.02 * xx - 0.015 * yy + rng.normal(0.0, 1.0, size=shape)
    # low-frequency structure
    for _ in range(6):
        cx, cy = rng.uniform(0, nx), rng.uniform(0, ny)
        s = rng.uniform(nx / 10, nx / 4)
        img += rng.uniform(-1.5, 1.5) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    for cx, cy in centres:
        s = rng.uniform(3.0, 7.0)
        x0, x1 = int(max(cx - 4 * s, 0)), int(min(cx + 4 * s + 1, nx))
        y0, y1 = int(max(cy - 4 * s, 0)), int(min(cy + 4 * s + 1, ny))
        if x0 >= x1 or y0 >= y1:
            continue
        patch = np.exp(-((xx[y0:y1, x0:x1] - cx) ** 2 + (yy[y0:y1, x0:x1] - cy) ** 2) / (2 * s * s))
        img[y0:y1, x0:x1] -= rng.uniform(1.0, 3.0) * patch
    return img.astype(np.float32)


def write_synthetic_project(
    root: str | os.PathLike,
    n_micrographs: int = 3,
    shape: tuple[int, int] = (380, 400),
    picks_per_micrograph: int = 7,
    edge_margin_px: int = 10,
    pixel_size_angstrom: float = 1.5,
    seed: int = 0,
    outside_picks: int = 0,
) -> SyntheticExtractionProject:
    """Write micrographs, ``micrographs_ctf.star`` and an ``autopick.star`` listing.

    Parameters
    ----------
    root : path-like
        Project root (created).
    n_micrographs : int
    shape : (ny, nx)
        Micrograph size in pixels.
    picks_per_micrograph : int
        Picks per micrograph; with 4 or more, the first four lie within
        ``edge_margin_px`` of the left, bottom, right and top edge (their boxes cross it).
    pixel_size_angstrom : float
    seed : int
    outside_picks : int
        Extra picks per micrograph placed far outside the micrograph.

    Returns
    -------
    SyntheticExtractionProject
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    ny, nx = shape
    mics, coord_files, picks = [], [], []
    defocus_u = rng.uniform(10000, 30000, n_micrographs)
    for k in range(n_micrographs):
        name = f"MotionCorr/job002/Movies/mic_{k + 1:03d}.mrc"
        n = picks_per_micrograph
        x = rng.uniform(0, nx, n)
        y = rng.uniform(0, ny, n)
        if n >= 4:  # one box crossing each edge
            x[0] = rng.uniform(0, edge_margin_px)
            y[1] = ny - 1 - rng.uniform(0, edge_margin_px)
            x[2] = nx - 1 - rng.uniform(0, edge_margin_px)
            y[3] = rng.uniform(0, edge_margin_px)
        if outside_picks:
            x = np.concatenate([x, np.full(outside_picks, nx + 500.5)])
            y = np.concatenate([y, rng.uniform(0, ny, outside_picks)])
        fom = rng.uniform(-1.0, 3.0, len(x))
        img = structured_micrograph(shape, np.stack([x, y], axis=1), rng)
        write_mrc(root / name, img, pixel_size_angstrom)
        cf = per_micrograph_output("AutoPick/job006/", name, "_autopick.star")
        df = pd.DataFrame(picks_columns(x, y, fom))
        write_coordinates(root / cf, df)
        mics.append(name)
        coord_files.append(cf)
        picks.append(df)
    coords_star = "AutoPick/job006/autopick.star"
    write_coordinate_list(root / coords_star, mics, coord_files)

    optics = single_optics_group(pixel_size_angstrom)
    data = pd.DataFrame(
        {
            "rlnMicrographName": np.array(mics, dtype=object),
            "rlnOpticsGroup": np.ones(n_micrographs, dtype=np.int64),
            "rlnCtfImage": np.array([m.replace("MotionCorr/job002", "CtfFind/job003").replace(".mrc", ".ctf:mrc") for m in mics], dtype=object),
            "rlnDefocusU": defocus_u,
            "rlnDefocusV": defocus_u - rng.uniform(0, 500, n_micrographs),
            "rlnCtfAstigmatism": rng.uniform(0, 500, n_micrographs),
            "rlnDefocusAngle": rng.uniform(-90, 90, n_micrographs),
            "rlnCtfFigureOfMerit": rng.uniform(0.05, 0.3, n_micrographs),
            "rlnCtfMaxResolution": rng.uniform(3.0, 8.0, n_micrographs),
        }
    )
    mics_star = "CtfFind/job003/micrographs_ctf.star"
    write_optics_star(root / mics_star, OpticsStar(optics, data, "micrographs"))
    return SyntheticExtractionProject(root, mics_star, coords_star, mics, coord_files, picks)
