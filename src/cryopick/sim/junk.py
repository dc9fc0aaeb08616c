"""Junk on simulated micrographs: ice contamination, carbon edges, particle aggregates.

Each junk item is a :class:`JunkItem`; ice and carbon are rendered here as
grey-level maps, aggregates as clumps of particle projections by
:mod:`cryopick.sim.micrograph` (they go through the CTF like particles).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ICE, AGGREGATE, CARBON, BROKEN = "ice", "aggregate", "carbon", "broken"


@dataclass(frozen=True)
class JunkItem:
    """One piece of junk.

    Attributes
    ----------
    kind : str
        ``ice``, ``aggregate``, ``carbon`` or ``broken`` (half a particle).
    x_px, y_px : float
        Blob centre (0-based px, x = column); for carbon the point of the edge line
        closest to the micrograph centre.
    radius_angstrom : float
        Radius enclosing the blob or clump; 0 for carbon.
    angle_deg : float
        Carbon: direction of the edge normal pointing into the carbon (deg from +x
        towards +y); 0 otherwise.
    lobes : tuple
        Ice: ``(dx_px, dy_px, r_px)`` discs whose union is the blob (rendering detail).
    """

    kind: str
    x_px: float
    y_px: float
    radius_angstrom: float
    angle_deg: float = 0.0
    lobes: tuple = field(default=(), compare=False)

    def carbon_signed_distance(self, x_px: np.ndarray, y_px: np.ndarray) -> np.ndarray:
        """Signed distance (px) from the carbon edge, positive on the carbon side."""
        t = np.deg2rad(self.angle_deg)
        return (np.asarray(x_px) - self.x_px) * np.cos(t) + (np.asarray(y_px) - self.y_px) * np.sin(t)


def sample_carbon(rng: np.random.Generator, nx: int, ny: int) -> JunkItem:
    """A straight carbon edge at 30–80 % of the half-width from the centre, at a random angle."""
    angle = rng.uniform(-180.0, 180.0)
    t = np.deg2rad(angle)
    half_extent = 0.5 * (abs(np.cos(t)) * nx + abs(np.sin(t)) * ny)
    d = rng.uniform(0.3, 0.8) * half_extent
    cx, cy = (nx - 1) / 2.0, (ny - 1) / 2.0
    return JunkItem(CARBON, cx + d * np.cos(t), cy + d * np.sin(t), 0.0, angle)


def sample_ice(rng: np.random.Generator, nx: int, ny: int, pixel_size_angstrom: float, diameter_angstrom: float) -> JunkItem:
    """An irregular ice blob: a union of 1–3 discs, 0.8–2.8 particle diameters across (before extra lobes)."""
    x, y = rng.uniform(0, nx), rng.uniform(0, ny)
    r0 = rng.uniform(0.4, 1.4) * diameter_angstrom / pixel_size_angstrom
    lobes = [(0.0, 0.0, r0)]
    for _ in range(rng.integers(0, 3)):
        ang = rng.uniform(0, 2 * np.pi)
        off = rng.uniform(0.4, 0.9) * r0
        lobes.append((off * np.cos(ang), off * np.sin(ang), rng.uniform(0.4, 0.8) * r0))
    extent = max(np.hypot(dx, dy) + r for dx, dy, r in lobes)
    return JunkItem(ICE, x, y, extent * pixel_size_angstrom, 0.0, tuple(lobes))


def ice_mask(item: JunkItem, nx: int, ny: int, edge_px: float = 1.5) -> np.ndarray:
    """Soft mask (0..1) of an ice blob, shape (ny, nx)."""
    out = np.zeros((ny, nx), dtype=np.float32)
    ext = max(np.hypot(dx, dy) + r for dx, dy, r in item.lobes) + 3 * edge_px
    x0, x1 = int(max(0, np.floor(item.x_px - ext))), int(min(nx, np.ceil(item.x_px + ext) + 1))
    y0, y1 = int(max(0, np.floor(item.y_px - ext))), int(min(ny, np.ceil(item.y_px + ext) + 1))
    if x0 >= x1 or y0 >= y1:
        return out
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    m = np.zeros_like(xx)
    for dx, dy, r in item.lobes:
        d = np.hypot(xx - item.x_px - dx, yy - item.y_px - dy)
        m = np.maximum(m, 1.0 / (1.0 + np.exp(np.clip((d - r) / edge_px, -60.0, 60.0))))
    out[y0:y1, x0:x1] = m
    return out


def carbon_mask(item: JunkItem, nx: int, ny: int) -> np.ndarray:
    """Sharp (anti-aliased over 1 px) mask of the carbon side, shape (ny, nx)."""
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    return np.clip(item.carbon_signed_distance(xx, yy) + 0.5, 0.0, 1.0).astype(np.float32)


def sample_aggregate(
    rng: np.random.Generator, nx: int, ny: int, pixel_size_angstrom: float, diameter_angstrom: float
) -> tuple[JunkItem, np.ndarray]:
    """A clump of 4–9 overlapping particles.

    Returns
    -------
    item : JunkItem
    members_px : ndarray, shape (m, 2)
        Member centres (x, y) in px.
    """
    d_px = diameter_angstrom / pixel_size_angstrom
    m = int(rng.integers(4, 10))
    offsets = rng.normal(0.0, 0.35 * d_px, size=(m, 2))
    extent = float(np.max(np.hypot(offsets[:, 0], offsets[:, 1])) + 0.5 * d_px)
    x = rng.uniform(extent, nx - extent) if nx > 2 * extent else nx / 2
    y = rng.uniform(extent, ny - extent) if ny > 2 * extent else ny / 2
    item = JunkItem(AGGREGATE, x, y, extent * pixel_size_angstrom)
    return item, offsets + np.array([x, y])
