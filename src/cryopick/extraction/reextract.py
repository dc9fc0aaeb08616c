"""Coordinates and origins for re-extraction from a refinement's ``_data.star`` (relion_spec.md 3.6).

Sign convention: the particle centre in the micrograph (pixels) is
``coordinate − origin_Å / micrograph pixel size``.
"""

from __future__ import annotations

import numpy as np


def round_half_away(x: np.ndarray) -> np.ndarray:
    """RELION's ``ROUND``: round half away from zero."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def euler_matrices(rot_deg: np.ndarray, tilt_deg: np.ndarray, psi_deg: np.ndarray) -> np.ndarray:
    """RELION's ``Euler_angles2matrix`` (ZYZ) for many particles.

    Parameters
    ----------
    rot_deg, tilt_deg, psi_deg : ndarray, shape (n,)

    Returns
    -------
    ndarray, shape (n, 3, 3)
    """
    a, b, g = (np.deg2rad(np.asarray(v, dtype=np.float64)) for v in (rot_deg, tilt_deg, psi_deg))
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    m = np.empty(a.shape + (3, 3))
    m[..., 0, 0] = cg * cc - sg * sa
    m[..., 0, 1] = cg * cs + sg * ca
    m[..., 0, 2] = -cg * sb
    m[..., 1, 0] = -sg * cc - cg * sa
    m[..., 1, 1] = -sg * cs + cg * ca
    m[..., 1, 2] = sg * sb
    m[..., 2, 0] = sc
    m[..., 2, 1] = ss
    m[..., 2, 2] = cb
    return m


def reextraction_geometry(
    x_px: np.ndarray,
    y_px: np.ndarray,
    origin_x_angstrom: np.ndarray,
    origin_y_angstrom: np.ndarray,
    particle_pixel_angstrom: np.ndarray,
    micrograph_pixel_angstrom: float,
    recenter: bool = False,
    recenter_px: tuple[float, float, float] = (0.0, 0.0, 0.0),
    angles_deg: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    reset_offsets: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """New coordinates and origins of re-extracted particles.

    Parameters
    ----------
    x_px, y_px : ndarray, shape (n,)
        Coordinates in the data STAR (micrograph pixels).
    origin_x_angstrom, origin_y_angstrom : ndarray, shape (n,)
        ``rlnOriginXAngst`` / ``rlnOriginYAngst`` (zeros if absent).
    particle_pixel_angstrom : ndarray, shape (n,)
        Pixel size of each particle's optics group.
    micrograph_pixel_angstrom : float
    recenter : bool
        Move the coordinates to the refined centre (integer part) and keep the
        sub-pixel residual as the new origin.
    recenter_px : (x, y, z)
        Point of the reference (in particle pixels) to centre on.
    angles_deg : (rot, tilt, psi), each shape (n,), optional
        Needed when ``recenter_px`` is non-zero.
    reset_offsets : bool
        Set the origins to zero and keep the coordinates.

    Returns
    -------
    x_px, y_px, origin_x_angstrom, origin_y_angstrom : ndarray, shape (n,)
    """
    x = np.asarray(x_px, dtype=np.float64).copy()
    y = np.asarray(y_px, dtype=np.float64).copy()
    ox = np.asarray(origin_x_angstrom, dtype=np.float64)
    oy = np.asarray(origin_y_angstrom, dtype=np.float64)
    pa = np.asarray(particle_pixel_angstrom, dtype=np.float64)
    apix = float(micrograph_pixel_angstrom)
    if reset_offsets:
        return x, y, np.zeros_like(x), np.zeros_like(y)
    ratio = pa / apix
    if not recenter and np.all(np.abs(ratio - 1.0) <= 1e-6):
        return x, y, ox.copy(), oy.copy()
    px = ox / pa
    py = oy / pa
    if recenter and any(abs(c) > 0 for c in recenter_px):
        if angles_deg is None:
            raise ValueError("recentring on a point needs the particle angles")
        mats = euler_matrices(*angles_deg)
        proj = mats @ np.asarray(recenter_px, dtype=np.float64)
        px = px - proj[:, 0]
        py = py - proj[:, 1]
    mx = px * ratio
    my = py * ratio
    if recenter:
        rx, ry = round_half_away(mx), round_half_away(my)
        return x - rx, y - ry, apix * (mx - rx), apix * (my - ry)
    return x, y, apix * mx, apix * my
