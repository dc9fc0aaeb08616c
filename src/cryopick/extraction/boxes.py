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

from typing import Iterator

import numpy as np


def box_positions(x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer box centres: C-style truncation toward zero of the coordinates.

    Parameters
    ----------
    x_px, y_px : ndarray, shape (n,)

    Returns
    -------
    xpos, ypos : ndarray, shape (n,), int64
    """
    return (
        np.trunc(np.asarray(x_px, dtype=np.float64)).astype(np.int64),
        np.trunc(np.asarray(y_px, dtype=np.float64)).astype(np.int64),
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


def iter_boxes(micrograph: np.ndarray, xpos: np.ndarray, ypos: np.ndarray, box_px: int) -> Iterator[np.ndarray]:
    """Yield each B×B box: a view of the micrograph when it lies inside, else an edge-replicated copy.

    Parameters
    ----------
    micrograph : ndarray, shape (ny, nx)
    xpos, ypos : ndarray, shape (n,), int
        Integer box centres; every box must have a pixel on the micrograph
        (see :func:`boxes_on_micrograph`).
    box_px : int
        Even box size B.

    Yields
    ------
    ndarray, shape (B, B)
        ``box[i, j] = micrograph[clip(ypos - B/2 + i), clip(xpos - B/2 + j)]``; do not modify
        (it may be a view of the micrograph).
    """
    ny, nx = micrograph.shape
    half = box_px // 2
    offsets = np.arange(box_px, dtype=np.int64) - half
    for x, y in zip(np.asarray(xpos, dtype=np.int64).tolist(), np.asarray(ypos, dtype=np.int64).tolist()):
        x0, y0 = x - half, y - half
        if x0 >= 0 and y0 >= 0 and x0 + box_px <= nx and y0 + box_px <= ny:
            yield micrograph[y0 : y0 + box_px, x0 : x0 + box_px]
        else:  # crosses an edge: clipped indices = replicated edge rows/columns
            rows = np.clip(y + offsets, 0, ny - 1)
            cols = np.clip(x + offsets, 0, nx - 1)
            yield micrograph[rows[:, None], cols[None, :]]


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
        Integer box centres (see :func:`iter_boxes`).
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
    for k, b in enumerate(iter_boxes(micrograph, xpos, ypos, box_px)):
        out[k] = b
    return out
