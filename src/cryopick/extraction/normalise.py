"""Background normalisation of particle images as RELION's ``normalise`` (relion_spec.md 3.4).

For a square image of size S with centre pixel (S/2, S/2), the background is every
pixel whose integer offsets (x, y) from the centre satisfy ``x² + y² > R²``. In order:

1. dust (optional): with the background mean m and population std σ, pixels with
   ``v − m > w·σ`` (white) and then ``v − m < −b·σ`` (black) are replaced by
   Gaussian random values N(m, σ);
2. ramp (default on): a least-squares plane ``a·x + b·y + c`` fitted to the
   background pixels is subtracted from every pixel;
3. the background mean m and population std σ are recomputed and every pixel
   becomes ``(v − m) / σ`` (images with σ < 1e-10 are left as they are).

All operations are vectorised over a stack of images.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cryopick.errors import BadInputError

MIN_STDDEV = 1e-10


@dataclass(frozen=True)
class Background:
    """Precomputed geometry of the background region of an S×S image.

    Attributes
    ----------
    size_px : int
        Image side S.
    radius_px : int
        Background radius R (background is ``x² + y² > R²``).
    index : ndarray, shape (nb,), int
        Flat indices (into S*S) of the background pixels.
    plane_solver : ndarray, shape (3, nb)
        Pseudo-inverse of the design matrix ``[x, y, 1]`` of the background
        pixels: ``coefficients (a, b, c) = plane_solver @ values``.
    design : ndarray, shape (3, S*S)
        Rows x, y, 1 for every pixel, to evaluate the plane.
    """

    size_px: int
    radius_px: int
    index: np.ndarray
    plane_solver: np.ndarray
    design: np.ndarray


@lru_cache(maxsize=16)
def background(size_px: int, radius_px: int) -> Background:
    """The background geometry for S = ``size_px`` and R = ``radius_px`` (cached).

    Raises
    ------
    BadInputError
        The circle leaves no background pixel.
    """
    c = size_px // 2
    y, x = np.mgrid[0:size_px, 0:size_px]
    x = (x - c).astype(np.float64).ravel()
    y = (y - c).astype(np.float64).ravel()
    mask = x * x + y * y > float(radius_px) * float(radius_px)
    index = np.flatnonzero(mask)
    if index.size == 0:
        raise BadInputError(
            f"background radius {radius_px} px leaves no background pixel in a {size_px} px box"
        )
    design = np.stack([x, y, np.ones_like(x)])
    solver = np.linalg.pinv(design[:, index].T)
    for arr in (index, solver, design):
        arr.setflags(write=False)
    return Background(size_px, radius_px, index, solver, design)


def background_stats(flat: np.ndarray, bg: Background) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation of the background pixels of each image.

    Parameters
    ----------
    flat : ndarray, shape (n, S*S), float64
    bg : Background

    Returns
    -------
    mean, std : ndarray, shape (n,)
    """
    values = flat[:, bg.index]
    mean = values.mean(axis=1)
    std = np.sqrt(np.mean((values - mean[:, None]) ** 2, axis=1))
    return mean, std


def remove_dust(
    flat: np.ndarray,
    bg: Background,
    white_sigma: float,
    black_sigma: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Replace outlier pixels by N(m, σ) random values, in place (RELION's ``removeDust``).

    Parameters
    ----------
    flat : ndarray, shape (n, S*S), float64
        Modified in place.
    white_sigma, black_sigma : float
        Thresholds in background standard deviations; ≤ 0 disables that side.
    rng : numpy.random.Generator

    Returns
    -------
    white, black : ndarray, shape (n, S*S), bool
        Which pixels were replaced as white / black dust.
    """
    mean, std = background_stats(flat, bg)
    m = mean[:, None]
    s = std[:, None]
    white = np.zeros(flat.shape, dtype=bool)
    black = np.zeros(flat.shape, dtype=bool)
    if white_sigma > 0:
        white = (flat - m) > white_sigma * s
        _replace(flat, white, m, s, rng)
    if black_sigma > 0:
        black = (flat - m) < -black_sigma * s
        _replace(flat, black, m, s, rng)
    return white, black


def _replace(flat: np.ndarray, where: np.ndarray, m: np.ndarray, s: np.ndarray, rng: np.random.Generator) -> None:
    count = int(np.count_nonzero(where))
    if count == 0:
        return
    mm = np.broadcast_to(m, flat.shape)[where]
    ss = np.broadcast_to(s, flat.shape)[where]
    flat[where] = mm + ss * rng.standard_normal(count)


def normalise_stack(
    images: np.ndarray,
    radius_px: int,
    white_dust_sigma: float = -1.0,
    black_dust_sigma: float = -1.0,
    ramp: bool = True,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """RELION's background normalisation of a stack of square images.

    Parameters
    ----------
    images : ndarray, shape (n, S, S)
    radius_px : int
        Background radius R in pixels of these images.
    white_dust_sigma, black_dust_sigma : float
        Dust thresholds in σ; ≤ 0 disables.
    ramp : bool
        Subtract a background plane first.
    rng : numpy.random.Generator, optional
        For dust replacement values (default: seeded with 0).

    Returns
    -------
    ndarray, shape (n, S, S), float64
        A new array; ``images`` is not modified. Each image's result does not
        depend on the other images of the stack (no BLAS: row-wise reductions only).
    """
    n, size, size2 = images.shape
    if size != size2:
        raise ValueError(f"images must be square, got {size}x{size2}")
    flat = np.array(images, dtype=np.float64).reshape(n, size * size)
    normalise_rows(flat, background(size, int(radius_px)), white_dust_sigma, black_dust_sigma, ramp, rng)
    return flat.reshape(n, size, size)


def normalise_rows(
    flat: np.ndarray,
    bg: Background,
    white_dust_sigma: float = -1.0,
    black_dust_sigma: float = -1.0,
    ramp: bool = True,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """:func:`normalise_stack` in place on flattened images.

    Parameters
    ----------
    flat : ndarray, shape (n, S*S), float64
        Modified in place. Each image's result does not depend on the others
        (einsum and row-wise reductions, no BLAS), except through ``rng``.
    bg : Background
        For this S and the background radius.

    Returns
    -------
    ndarray
        ``flat``.
    """
    if white_dust_sigma > 0 or black_dust_sigma > 0:
        remove_dust(flat, bg, white_dust_sigma, black_dust_sigma, rng if rng is not None else np.random.default_rng(0))
    if ramp:
        coeffs = np.einsum("ij,kj->ik", np.take(flat, bg.index, axis=1), bg.plane_solver)   # (n, 3)
        flat -= np.einsum("ik,kj->ij", coeffs, bg.design)
    values = np.take(flat, bg.index, axis=1)                                        # (n, nb)
    mean = values.mean(axis=1)
    values -= mean[:, None]
    std = np.sqrt(np.mean(np.square(values, out=values), axis=1))
    ok = std >= MIN_STDDEV                 # images with sigma < MIN_STDDEV are left as they are
    flat -= np.where(ok, mean, 0.0)[:, None]
    flat /= np.where(ok, std, 1.0)[:, None]
    return flat
