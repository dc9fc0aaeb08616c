"""Synthetic micrographs with known particle positions, for picker and I/O tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryopick.io.mrc import write_mrc
from cryopick.io.optics import OpticsStar, single_optics_group, write_optics_star


def blob_micrograph(
    shape: tuple[int, int], centres: np.ndarray, sigma_px: float, amplitude: float, noise: float, seed: int
) -> np.ndarray:
    """Gaussian blobs (negative amplitude = dark particles) plus white noise.

    Returns
    -------
    ndarray, shape (ny, nx), float32
    """
    ny, nx = shape
    rng = np.random.default_rng(seed)
    img = rng.normal(0.0, noise, size=shape)
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = int(4 * sigma_px)
    for cx, cy in centres:
        x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 1, nx)
        y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 1, ny)
        d2 = (xx[y0:y1, x0:x1] - cx) ** 2 + (yy[y0:y1, x0:x1] - cy) ** 2
        img[y0:y1, x0:x1] += amplitude * np.exp(-d2 / (2 * sigma_px**2))
    return img.astype(np.float32)


def separated_centres(shape: tuple[int, int], n: int, min_dist: float, margin: float, seed: int) -> np.ndarray:
    """Up to ``n`` random centres (x, y) at least ``min_dist`` apart and ``margin`` from the edges."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    pts: list[tuple[float, float]] = []
    for _ in range(n * 50):
        p = (rng.uniform(margin, nx - margin), rng.uniform(margin, ny - margin))
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= min_dist**2 for q in pts):
            pts.append(p)
        if len(pts) == n:
            break
    return np.array(pts)


def write_project(
    root: Path, micrographs: list[np.ndarray], pixel_size: float, names: list[str] | None = None
) -> str:
    """Write micrographs under MotionCorr/job002/Movies and a CtfFind-like micrographs STAR.

    Returns
    -------
    str
        Project-relative path of the micrographs STAR.
    """
    import pandas as pd

    names = names or [f"MotionCorr/job002/Movies/mic_{k + 1:03d}.mrc" for k in range(len(micrographs))]
    for name, mic in zip(names, micrographs):
        write_mrc(root / name, mic, pixel_size)
    optics = single_optics_group(pixel_size, original_pixel_size_angstrom=pixel_size / 2)
    n = len(names)
    data = pd.DataFrame(
        {
            "rlnMicrographName": names,
            "rlnOpticsGroup": [1] * n,
            "rlnDefocusU": np.linspace(12000, 20000, n),
            "rlnDefocusV": np.linspace(11800, 19800, n),
            "rlnDefocusAngle": [30.0] * n,
            "rlnCtfMaxResolution": [4.0] * n,
            "rlnCtfFigureOfMerit": [0.1] * n,
        }
    )
    rel = "CtfFind/job003/micrographs_ctf.star"
    write_optics_star(root / rel, OpticsStar(optics, data, "micrographs"))
    return rel
