"""Greedy peak search with circular non-maximum suppression (RELION's LoG peak loop)."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=256)
def _disk(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (dy, dx) with dy² + dx² < radius² (strict)."""
    r = max(int(radius), 0)
    d = np.arange(-r, r + 1)
    dy, dx = np.meshgrid(d, d, indexing="ij")
    inside = dy * dy + dx * dx < r * r
    return dy[inside], dx[inside]


def greedy_peaks(score: np.ndarray, radius_px: np.ndarray, upper: float = np.inf) -> np.ndarray:
    """Repeatedly take the highest positive pixel and suppress a disk around it.

    Equivalent to RELION's loop "while max > 0: take the first maximum (row-major),
    emit it if below ``upper``, zero the pixels strictly within its radius", but
    done by one stable sort of the positive pixels instead of a scan per peak.

    Parameters
    ----------
    score : ndarray, shape (h, w)
        Peak map; pixels <= 0 are never picked.
    radius_px : ndarray, shape (h, w), int
        Suppression radius of a peak at each pixel.
    upper : float
        Peaks with value >= upper suppress their neighbourhood but are not returned.

    Returns
    -------
    ndarray, shape (n, 2), int
        (row, column) of the emitted peaks, in order of decreasing score.
    """
    h, w = score.shape
    flat = score.ravel()
    cand = np.flatnonzero(flat > 0)
    order = cand[np.argsort(-flat[cand], kind="stable")]
    suppressed = np.zeros((h, w), dtype=bool)
    sup_flat = suppressed.ravel()
    peaks: list[tuple[int, int]] = []
    pos, n = 0, len(order)
    chunk = 256
    while pos < n:
        window = sup_flat[order[pos : pos + chunk]]
        free = np.flatnonzero(~window)
        if free.size == 0:
            pos += chunk
            chunk = min(chunk * 2, 1 << 16)
            continue
        pos += int(free[0])
        p = int(order[pos])
        pos += 1
        i, j = divmod(p, w)
        if flat[p] < upper:
            peaks.append((i, j))
        dy, dx = _disk(int(radius_px[i, j]))
        yy, xx = dy + i, dx + j
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        suppressed[yy[ok], xx[ok]] = True
        if dy.size == 0:
            suppressed[i, j] = True
    return np.array(peaks, dtype=np.int64).reshape(-1, 2)
