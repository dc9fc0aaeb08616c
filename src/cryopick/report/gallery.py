"""Class-average galleries: the picture a microscopist looks at after 2D classification.

Class averages sorted by class distribution (most populated first), each scaled on its own
(RELION's display: 0.5th–99.5th percentile to black–white), with its class number, particle
count and resolution underneath. Written as a PDF (one A4 page per 48 classes) and as a PNG
mosaic (for the flow's artifact); both without matplotlib or pillow.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence

import numpy as np

from cryopick.io.atomic import atomic_path
from cryopick.report.pdf import PAGE_H, PAGE_W, Page, _escape, write_pdf

COLUMNS, ROWS = 6, 8
TILE_PT = 80.0


def display_order(distribution: np.ndarray) -> np.ndarray:
    """Class indices by decreasing class distribution (ties: lower class first), shape (K,)."""
    return np.lexsort((np.arange(len(distribution)), -np.asarray(distribution, dtype=np.float64)))


def to_grey(image: np.ndarray) -> np.ndarray:
    """One image (h, w) scaled to 0–255 between its 0.5th and 99.5th percentiles, uint8 (a flat image is mid-grey)."""
    lo, hi = np.percentile(image, [0.5, 99.5])
    if not hi > lo:
        return np.full(image.shape, 128, dtype=np.uint8)
    return np.clip((image - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def mosaic(images: np.ndarray, order: Sequence[int], columns: int = 10, gap_px: int = 2) -> np.ndarray:
    """Images (K, B, B) in ``order`` tiled row by row on a black background, uint8 (rows·(B+gap), columns·(B+gap))."""
    order = list(order)
    b = images.shape[-1]
    rows = max(1, -(-len(order) // columns))
    out = np.zeros((rows * (b + gap_px) + gap_px, columns * (b + gap_px) + gap_px), dtype=np.uint8)
    for n, k in enumerate(order):
        r, c = divmod(n, columns)
        y, x = gap_px + r * (b + gap_px), gap_px + c * (b + gap_px)
        out[y:y + b, x:x + b] = to_grey(images[k])
    return out


def png_bytes(grey: np.ndarray) -> bytes:
    """A grey-level image (h, w) uint8 encoded as PNG."""
    h, w = grey.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + np.ascontiguousarray(grey[y], dtype=np.uint8).tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def write_png(path: str | os.PathLike, grey: np.ndarray) -> None:
    """Write a grey-level image (h, w) uint8 as a PNG file (atomically)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(png_bytes(grey))


def _label(k: int, count: int, fraction: float, resolution: float | None) -> list[str]:
    lines = [f"class {k + 1}: {count} ({100 * fraction:.1f}%)"]
    if resolution is not None:
        lines.append("empty" if count == 0 and fraction == 0 else f"{resolution:.1f} A")
    return lines


def write_class_gallery(path: str | os.PathLike, images: np.ndarray, distribution: np.ndarray, counts: np.ndarray,
                        resolution_angstrom: Sequence[float] | None = None, heading: str = "",
                        order: Sequence[int] | None = None, extra_labels: Sequence[str] | None = None) -> np.ndarray:
    """Write the gallery PDF (see the module docstring); returns the display order, shape (K,).

    Parameters
    ----------
    images : np.ndarray, shape (K, B, B)
    distribution : np.ndarray, shape (K,)
        rlnClassDistribution (sets the order).
    counts : np.ndarray, shape (K,)
        Particles whose best class it is (printed).
    resolution_angstrom : sequence of float, optional
        rlnEstimatedResolution of each class.
    order : sequence of int, optional
        Class indices in display order (default: by decreasing distribution).
    extra_labels : sequence of str, optional
        One more line under each class (e.g. its score), indexed by class.
    """
    order = display_order(distribution) if order is None else np.asarray(order, dtype=np.int64)
    per_page = COLUMNS * ROWS
    pages = []
    cell_w = (PAGE_W - 60) / COLUMNS
    cell_h = (PAGE_H - 90) / ROWS
    n_lines = 1 + (resolution_angstrom is not None) + (extra_labels is not None)
    tile = min(TILE_PT, cell_h - 4 - 8 * n_lines)  # the label lines fit under the tile, above the next row
    for first in range(0, len(order), per_page):
        ops, tiles = [], []
        if heading:
            ops.append(f"BT /F1 12 Tf 30 {PAGE_H - 35:.2f} Td ({_escape(heading)}) Tj ET")
        for n, k in enumerate(order[first:first + per_page]):
            r, c = divmod(n, COLUMNS)
            x = 30 + c * cell_w + (cell_w - tile) / 2
            y = PAGE_H - 60 - r * cell_h - tile
            ops.append(f"q {tile:.2f} 0 0 {tile:.2f} {x:.2f} {y:.2f} cm /Im{len(tiles)} Do Q")
            tiles.append(to_grey(images[k]))
            res = None if resolution_angstrom is None else float(resolution_angstrom[k])
            lines = _label(int(k), int(counts[k]), float(distribution[k]), res)
            lines += [extra_labels[k]] if extra_labels is not None else []
            for j, text in enumerate(lines):
                ops.append(f"BT /F1 7 Tf {x:.2f} {y - 9 - 8 * j:.2f} Td ({_escape(text)}) Tj ET")
        pages.append(Page("\n".join(ops), tuple(tiles)))
    write_pdf(path, pages)
    return order
