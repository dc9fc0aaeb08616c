"""Box placement with RELION's conventions (relion_spec.md section 3.3).

A pick at (X, Y) (0-based pixels, x = column, y = row) is placed at the integer
pixel ``(int(X), int(Y))`` (truncation toward zero); the box of even size B covers
columns ``int(X) - B/2 ... int(X) + B/2 - 1`` and the same rows, so the particle
centre is box pixel (B/2, B/2). Pixels of a box that fall off the micrograph are
filled by edge replication (nearest column, then nearest row), which is the same
as clipping the pixel indices to the micrograph. A box with no pixel on the
micrograph cannot be extracted (RELION stops with an error; cryopick skips it
and counts it).
"""

from __future__ import annotations


import numpy as np


def box_positions(x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer box centres: C-style truncation toward zero of the coordinates.

    Parameters
    ----------
    x_px, y_px : ndarray, shape (n,)
        Finite (the coordinate reader refuses NaN and infinity).

    Returns
    -------
    xpos, ypos : ndarray, shape (n,), int64
    """
    # absurd values (beyond ±2**52 px) are clipped before the cast: they stay off the micrograph,
    # without numpy's "invalid value encountered in cast" warning
    return (
        np.trunc(np.clip(np.asarray(x_px, dtype=np.float64), -(2.0**52), 2.0**52)).astype(np.int64),
        np.trunc(np.clip(np.asarray(y_px, dtype=np.float64), -(2.0**52), 2.0**52)).astype(np.int64),
    )


def boxes_on_micrograph(xpos: np.ndarray, ypos: np.ndarray, box_px: int, shape: tuple[int, int]) -> np.ndarray:
    """Whether each box has at least one pixel on the micrograph.

    Parameters
    ----------
    xpos, ypos : ndarray, shape (n,), int
        Integer box centres from :func:`box_positions`.
    box_px : int
        Even box size B.
    shape : (ny, nx)
        Micrograph shape.

    Returns
    -------
    ndarray, shape (n,), bool
    """
    ny, nx = shape
    half = box_px // 2
    x0, x1 = xpos - half, xpos + half - 1
    y0, y1 = ypos - half, ypos + half - 1
    return (x1 >= 0) & (x0 < nx) & (y1 >= 0) & (y0 < ny)


def fill_box(out: np.ndarray, micrograph: np.ndarray, x: int, y: int, offset: float = 0.0) -> np.ndarray:
    """Write the box centred on integer pixel (x, y), minus ``offset``, into ``out``.

    Parameters
    ----------
    out : ndarray, shape (B, B)
        Destination (any float dtype); B is even.
    micrograph : ndarray, shape (ny, nx)
    x, y : int
        Integer box centre; the box must have a pixel on the micrograph
        (see :func:`boxes_on_micrograph`).
    offset : float
        Subtracted from every pixel (in ``out``'s precision).

    Returns
    -------
    ndarray
        ``out``, with ``out[i, j] = micrograph[clip(y - B/2 + i), clip(x - B/2 + j)] - offset``.
    """
    ny, nx = micrograph.shape
    box_px = out.shape[0]
    x0, y0 = int(x) - box_px // 2, int(y) - box_px // 2
    # the part of the box on the micrograph, in micrograph (m*) and box (b*) coordinates
    mx0, mx1 = max(x0, 0), min(x0 + box_px, nx)
    my0, my1 = max(y0, 0), min(y0 + box_px, ny)
    if mx0 >= mx1 or my0 >= my1:
        raise ValueError(f"box at ({x}, {y}) has no pixel on the {nx}x{ny} micrograph")
    bx0, bx1, by0, by1 = mx0 - x0, mx1 - x0, my0 - y0, my1 - y0
    inner = out[by0:by1, bx0:bx1]
    np.subtract(micrograph[my0:my1, mx0:mx1], offset, out=inner, casting="unsafe")
    if bx0 > 0 or bx1 < box_px or by0 > 0 or by1 < box_px:
        # replicate the nearest column, then the nearest row (clipped indices)
        out[by0:by1, :bx0] = out[by0:by1, bx0 : bx0 + 1]
        out[by0:by1, bx1:] = out[by0:by1, bx1 - 1 : bx1]
        out[:by0] = out[by0]
        out[by1:] = out[by1 - 1]
    return out


def extract_boxes(
    micrograph: np.ndarray,
    xpos: np.ndarray,
    ypos: np.ndarray,
    box_px: int,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Cut B×B boxes out of a micrograph, replicating edge pixels for boxes that cross an edge.

    Parameters
    ----------
    micrograph : ndarray, shape (ny, nx)
    xpos, ypos : ndarray, shape (n,), int
        Integer box centres (see :func:`fill_box`).
    box_px : int
        Even box size B.
    dtype : numpy dtype, optional
        Output dtype (default: the micrograph's).

    Returns
    -------
    ndarray, shape (n, B, B)
        ``out[k, i, j] = micrograph[clip(ypos[k] - B/2 + i), clip(xpos[k] - B/2 + j)]``.
    """
    out = np.empty((len(xpos), box_px, box_px), dtype=dtype or micrograph.dtype)
    for k, (x, y) in enumerate(zip(np.asarray(xpos).tolist(), np.asarray(ypos).tolist())):
        fill_box(out[k], micrograph, x, y)
    return out
