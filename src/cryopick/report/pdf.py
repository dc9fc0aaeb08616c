"""A minimal PDF writer for bar charts, histograms and image galleries (no matplotlib: it costs ~0.5 s to import).

Produces a valid PDF 1.4 file: A4 pages with vector bars, axes, tick labels and titles in the
standard Helvetica font (no embedding needed), and grey-level images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cryopick.io.atomic import atomic_path

PAGE_W, PAGE_H = 595.0, 842.0  # A4 in points


@dataclass(frozen=True)
class BarChart:
    """One panel: bars of ``heights`` at bin ``edges`` (histogram) or at categories.

    Attributes
    ----------
    title, xlabel, ylabel : str
    heights : ndarray, shape (n,)
    edges : ndarray, shape (n+1,), optional
        Bin edges for a histogram; None for one bar per category 1..n.
    """

    title: str
    xlabel: str
    ylabel: str
    heights: np.ndarray
    edges: np.ndarray | None = None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1", "replace").decode("latin-1")


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(start, hi + step * 1e-9, step)]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 and abs(v) >= 1 else f"{v:.3g}"


def _panel(c: BarChart, x0: float, y0: float, w: float, h: float) -> list[str]:
    ops = ["0 0 0 RG 0.8 w"]
    heights = np.asarray(c.heights, dtype=float)
    n = len(heights)
    if c.edges is not None:
        lo, hi = float(c.edges[0]), float(c.edges[-1])
        if hi <= lo:
            hi = lo + 1.0
    else:
        lo, hi = 0.5, n + 0.5
    ymax = float(heights.max()) if n and heights.max() > 0 else 1.0
    yt = _nice_ticks(0, ymax)
    ymax = max(ymax, yt[-1])

    def px(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * w

    def py(v: float) -> float:
        return y0 + v / ymax * h

    ops.append("0.25 0.45 0.75 rg")
    for k in range(n):
        a, b = (float(c.edges[k]), float(c.edges[k + 1])) if c.edges is not None else (k + 0.6, k + 1.4)
        ops.append(f"{px(a):.2f} {y0:.2f} {max(px(b) - px(a), 0.3):.2f} {py(heights[k]) - y0:.2f} re f")
    ops.append("0 0 0 rg")
    ops.append(f"{x0:.2f} {y0:.2f} m {x0 + w:.2f} {y0:.2f} l S {x0:.2f} {y0:.2f} m {x0:.2f} {y0 + h:.2f} l S")
    text = []
    for v in yt:
        ops.append(f"{x0 - 4:.2f} {py(v):.2f} m {x0:.2f} {py(v):.2f} l S")
        text.append((x0 - 8 - 4.5 * len(_fmt(v)), py(v) - 3, 8, _fmt(v)))
    xt = _nice_ticks(lo, hi) if c.edges is not None else [float(v) for v in _nice_ticks(1, n) if v >= 1 and v <= n]
    for v in xt:
        ops.append(f"{px(v):.2f} {y0:.2f} m {px(v):.2f} {y0 - 4:.2f} l S")
        text.append((px(v) - 2.2 * len(_fmt(v)), y0 - 14, 8, _fmt(v)))
    text.append((x0, y0 + h + 12, 11, c.title))
    text.append((x0 + w / 2 - 2.5 * len(c.xlabel), y0 - 28, 9, c.xlabel))
    for tx, ty, size, s in text:
        ops.append(f"BT /F1 {size} Tf {tx:.2f} {ty:.2f} Td ({_escape(s)}) Tj ET")
    ops.append(f"BT /F1 9 Tf 0 1 -1 0 {x0 - 38:.2f} {y0 + h / 2 - 2.5 * len(c.ylabel):.2f} Tm ({_escape(c.ylabel)}) Tj ET")
    return ops


def write_bar_charts(path: str | os.PathLike, charts: Sequence[BarChart], heading: str = "") -> None:
    """Write up to three charts stacked on one A4 page as a PDF (atomically)."""
    ops: list[str] = []
    if heading:
        ops.append(f"BT /F1 13 Tf 50 {PAGE_H - 40:.2f} Td ({_escape(heading)}) Tj ET")
    panel_h = (PAGE_H - 120) / max(len(charts), 1)
    for k, chart in enumerate(charts):
        top = PAGE_H - 70 - k * panel_h
        ops.extend(_panel(chart, 80, top - panel_h + 50, PAGE_W - 130, panel_h - 90))
    write_pdf(path, [Page("\n".join(ops))])


@dataclass(frozen=True)
class Page:
    """One A4 page: its content operators and the images they draw.

    Attributes
    ----------
    content : str
        PDF content-stream operators (text in Helvetica, font ``/F1``).
    images : tuple of ndarray, shape (h, w), uint8
        Grey-level images, drawn by ``/Im<i> Do`` (i = 0, 1, ... in this order).
    """

    content: str
    images: tuple = ()


def _image_object(image: np.ndarray) -> bytes:
    h, w = image.shape
    data = np.ascontiguousarray(image, dtype=np.uint8).tobytes()
    head = (f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
            f"/BitsPerComponent 8 /Length {len(data)} >>\nstream\n").encode()
    return head + data + b"\nendstream"


def write_pdf(path: str | os.PathLike, pages: Sequence[Page]) -> None:
    """Write A4 pages as a PDF 1.4 file (atomically)."""
    objects: list[bytes] = [b"", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for page in pages:
        first_image = len(objects) + 1
        objects.extend(_image_object(im) for im in page.images)
        xobjects = " ".join(f"/Im{i} {first_image + i} 0 R" for i in range(len(page.images)))
        content = page.content.encode("latin-1")
        objects.append(b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W:.0f} {PAGE_H:.0f}] /Contents {len(objects)} 0 R "
                       f"/Resources << /Font << /F1 3 0 R >> /XObject << {xobjects} >> >> >>".encode())
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    with atomic_path(path) as tmp:
        tmp.write_bytes(bytes(out))
