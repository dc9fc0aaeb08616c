"""Prefect artifacts for jobs: one card per job (counts, parameters, outputs, pictures) and the pictures.

Pictures are written as PNG into the job directory (so they stay with the project) and
published as Markdown artifacts with a small JPEG copy embedded as a base64 data URI (the
Prefect UI's Markdown renderer shows ``![](data:image/jpeg;base64,...)``; image artifacts only
render public URLs) plus the file path. The copy is at most :data:`INLINE_MAX_PX` wide at JPEG
quality :data:`INLINE_JPEG_QUALITY` (a noisy micrograph PNG of 300-400 kB becomes ~50 kB), so
the Prefect database does not fill with pictures.
"""

from __future__ import annotations

import base64
import io
import os
import re
import threading
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image

from cryopick.io.atomic import atomic_path
from cryopick.io.mrc import read_header, read_mrc
from cryopick.io.columns import read_table
from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.star import split_image_name
from cryopick.report.gallery import display_order, to_grey

_MAX_DISPLAY_PX = 512
#: Width limit (px) and JPEG quality of the copy of a picture embedded in an artifact.
INLINE_MAX_PX = 480
INLINE_JPEG_QUALITY = 70


def artifact_key(text: str) -> str:
    """A valid artifact key (lowercase letters, digits, dashes) from a step name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "job"


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (cells with ``|`` escaped)."""
    def cell(v: Any) -> str:
        text = f"{v:.4g}" if isinstance(v, float) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def job_card(step: str, result: Mapping[str, Any], params: Mapping[str, Any], pictures: list[tuple[str, Path]],
             project_root: Path) -> str:
    """A job's card (Markdown): where it ran, its counts and summary as columns, its parameters,
    outputs, failed items, and its pictures (small inline JPEG copies with the PNG's path).

    Parameters
    ----------
    pictures : list of (caption, png path)
    """
    job_dir = result.get("job_dir", "")
    parts = [f"## {step}: `{job_dir}`"]
    counts = result.get("counts", {})
    if counts:
        parts.append(_md_table(list(counts), [list(counts.values())]))
    summary = result.get("summary", {})
    if summary:
        parts.append(_md_table(list(summary), [list(summary.values())]))
    for caption, png in pictures:
        data = base64.b64encode(inline_jpeg(png)).decode()
        rel = os.path.relpath(png, project_root)
        parts.append(f"**{caption}**\n\n![{caption}](data:image/jpeg;base64,{data})\n\n`{rel}` (in `{project_root}`)")
    if params:
        parts.append("**Parameters**\n\n" + _md_table(["parameter", "value"], [[k, v] for k, v in params.items()]))
    nodes = result.get("output_nodes", [])
    if nodes:
        parts.append("**Outputs**\n\n" + "\n".join(f"- `{p}` ({label})" for p, label in nodes))
    failures = result.get("failures", {})
    if failures:
        listed = list(failures.items())[:20]
        parts.append(f"**{len(failures)} failed items**\n\n" + "\n".join(f"- `{k}`: {v}" for k, v in listed))
    return "\n\n".join(parts) + "\n"


def publish_card(step: str, result: Mapping[str, Any], params: Mapping[str, Any], pictures: list[tuple[str, Path]],
                 project_root: Path) -> None:
    """Publish a job's card as one Markdown artifact keyed by the step."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(key=artifact_key(step), markdown=job_card(step, result, params, pictures, project_root),
                             description=f"{step}: {result.get('job_dir', '')}")


def inline_jpeg(png_path: Path) -> bytes:
    """A small JPEG copy of a picture for embedding: at most INLINE_MAX_PX wide, on white."""
    with Image.open(png_path) as im:
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, "white")
        flat.paste(im, mask=im.getchannel("A"))
        if flat.width > INLINE_MAX_PX:
            flat = flat.resize((INLINE_MAX_PX, max(1, round(flat.height * INLINE_MAX_PX / flat.width))), Image.LANCZOS)
        out = io.BytesIO()
        flat.save(out, "JPEG", quality=INLINE_JPEG_QUALITY, optimize=True)
        return out.getvalue()


def _bin_for_display(image: np.ndarray) -> tuple[np.ndarray, int]:
    """Block-average an image (ny, nx) so its larger side is at most 512 px; returns (image, factor)."""
    factor = max(1, int(np.ceil(max(image.shape) / _MAX_DISPLAY_PX)))
    ny, nx = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    binned = image[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3))
    return binned, factor


def _pyplot():
    """matplotlib's pyplot on the Agg backend (imported once per process, ~0.4 s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_preload_lock = threading.Lock()
_preloading: threading.Thread | None = None


def preload() -> None:
    """Import matplotlib in a background thread, once per process.

    Called when a job that will be drawn starts: the ~0.4 s import then overlaps the job
    (the task thread only waits for the service meanwhile) instead of following it. A
    drawing that starts before the import finished waits for it (Python's import lock).
    """
    global _preloading
    with _preload_lock:
        if _preloading is not None:
            return

        def run() -> None:
            try:
                plt = _pyplot()
                import matplotlib.collections  # noqa: F401

                # a first drawing loads fonts and fills matplotlib's caches (~0.3 s)
                fig = plt.figure(figsize=(1, 1), dpi=20)
                fig.add_axes((0, 0, 1, 1)).set_title("warm-up", fontsize=9)
                fig.savefig(io.BytesIO(), format="png")
                plt.close(fig)
            except Exception:  # noqa: BLE001 - the drawing itself will report it
                pass

        _preloading = threading.Thread(target=run, name="cryopick-preload-matplotlib", daemon=True)
        _preloading.start()


def _save(fig, out_png: Path) -> None:
    """Write a figure as PNG (fast zlib level: the pictures are noisy and compress little anyway), atomically:
    it goes into a finished job directory, which a flow killed while drawing must not leave a broken picture in."""
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": 1})


def _line_count(path: Path) -> int:
    """Lines of a text file (0 for a missing or empty one): ranks coordinate files by picks without parsing them."""
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def rank_micrographs(picks_by_mic: Mapping[str, Mapping[str, np.ndarray]]) -> list[str]:
    """The best, median and worst micrograph with picks, by the mean figure of merit of their picks
    (distinct names; fewer when fewer micrographs have picks)."""
    scored = [(float(np.mean(c.get("rlnAutopickFigureOfMerit", np.zeros(len(c["rlnCoordinateX"]))))), k, m)
              for k, (m, c) in enumerate(picks_by_mic.items()) if len(c["rlnCoordinateX"])]
    if not scored:
        return []
    order = [m for _, _, m in sorted(scored, key=lambda t: (-t[0], t[1]))]
    return list(dict.fromkeys([order[0], order[len(order) // 2], order[-1]]))


def _draw_picks(ax, root: Path, mic: str, cols: Mapping[str, np.ndarray], diameter_angstrom: float, norm, cmap,
                label: str) -> None:
    from matplotlib.collections import EllipseCollection

    image, factor = _bin_for_display(read_mrc(root / mic))
    apix = read_header(root / mic).pixel_size_angstrom or 1.0
    # robust grey range: ice contamination and carbon must not wash out the particles
    med = float(np.median(image))
    spread = 1.4826 * float(np.median(np.abs(image - med))) or float(image.std()) or 1.0
    ax.imshow(image, cmap="gray", vmin=med - 3.0 * spread, vmax=med + 3.0 * spread, origin="upper",
              interpolation="nearest")
    n = len(cols["rlnCoordinateX"])
    fom = np.asarray(cols.get("rlnAutopickFigureOfMerit", np.zeros(n)), dtype=float)
    xy = np.column_stack([np.asarray(cols["rlnCoordinateX"], float), np.asarray(cols["rlnCoordinateY"], float)]) / factor
    diameter = diameter_angstrom / apix / factor
    ax.add_collection(EllipseCollection(
        widths=diameter, heights=diameter, angles=0.0, units="xy", offsets=xy, offset_transform=ax.transData,
        facecolors="none", edgecolors=cmap(norm(fom)), linewidths=1.0,
    ), autolim=False)
    ax.set_title(f"{label}: {Path(mic).name}\n{n} picks, mean FOM {fom.mean():.3g}", fontsize=8)
    ax.set_axis_off()


def fom_colour_range(foms: np.ndarray) -> tuple[float, float]:
    """The FOM colour scale: the 1st to 99th percentile of all picks' FOMs (a few extreme picks,
    e.g. on ice, would otherwise squeeze every other pick into one colour); never empty."""
    lo, hi = (float(v) for v in np.percentile(foms, [1.0, 99.0]))
    return lo, hi if hi > lo else lo + 1.0


def picks_figure(project_root: str | os.PathLike, coords_star: str, out_png: Path, diameter_angstrom: float) -> list[str] | None:
    """A picking job at a glance: picks on the best, median and worst micrograph (by mean FOM),
    circles coloured by figure of merit on one scale (blue high, red low, as in the RELION
    tutorial; :func:`fom_colour_range`), and histograms of the FOMs and of the picks per micrograph.

    Returns the micrographs drawn (best, median, worst), or None if no micrograph has picks.
    """
    root = Path(project_root)
    listing = read_coordinate_list(root / coords_star)
    picks = {str(m): read_coordinates(root / str(c))
             for m, c in zip(listing["rlnMicrographName"], listing["rlnMicrographCoordinates"])}
    shown = rank_micrographs(picks)
    if not shown:
        return None
    plt = _pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    counts = np.array([len(c["rlnCoordinateX"]) for c in picks.values()])
    foms = np.concatenate([np.asarray(c.get("rlnAutopickFigureOfMerit", np.zeros(len(c["rlnCoordinateX"]))), float)
                           for c in picks.values()])
    cmap = plt.get_cmap("RdYlBu")  # low -> red, high -> blue
    lo, hi = fom_colour_range(foms)
    norm = Normalize(vmin=lo, vmax=hi)
    fig = plt.figure(figsize=(9.0, 5.6), dpi=80)
    grid = fig.add_gridspec(2, 4, width_ratios=[1, 1, 1, 0.06], height_ratios=[1.5, 1], hspace=0.35, wspace=0.08)
    for k, (mic, label) in enumerate(zip(shown, ("best", "median", "worst"))):
        _draw_picks(fig.add_subplot(grid[0, k]), root, mic, picks[mic], diameter_angstrom, norm, cmap, label)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=fig.add_subplot(grid[0, 3]), extend="both",
                 label="figure of merit (1st-99th percentile)")
    ax = fig.add_subplot(grid[1, :2])
    ax.hist(foms, bins=40, color="#4575b4")
    ax.set_xlabel("figure of merit", fontsize=8)
    ax.set_ylabel("picks", fontsize=8)
    ax.set_title(f"{len(foms)} picks on {len(picks)} micrographs", fontsize=8)
    ax = fig.add_subplot(grid[1, 2:])
    ax.hist(counts, bins=min(30, max(5, len(counts))), color="#999999")
    ax.set_xlabel("picks per micrograph", fontsize=8)
    ax.set_ylabel("micrographs", fontsize=8)
    for a in fig.axes:
        a.tick_params(labelsize=7)
    _save(fig, out_png)
    plt.close(fig)
    return shown


def montage(images: np.ndarray, cols: int, gap_px: int = 2) -> np.ndarray:
    """Tile images into one picture, each scaled to its own 1-99 percentile range.

    Parameters
    ----------
    images : ndarray, shape (n, ny, nx)
    cols : int
        Images per row.
    gap_px : int
        White gap between images.

    Returns
    -------
    ndarray, shape (rows * (ny + gap) - gap, cols * (nx + gap) - gap)
        Values in [0, 1]; gaps are 1 (white).
    """
    n, ny, nx = images.shape
    rows = int(np.ceil(n / cols))
    flat = images.reshape(n, -1).astype(np.float32)
    lo, hi = np.percentile(flat, [1, 99], axis=1)
    scaled = np.clip((flat - lo[:, None]) / np.maximum(hi - lo, 1e-12)[:, None], 0.0, 1.0).reshape(n, ny, nx)
    out = np.ones((rows * (ny + gap_px) - gap_px, cols * (nx + gap_px) - gap_px), dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (ny + gap_px): r * (ny + gap_px) + ny, c * (nx + gap_px): c * (nx + gap_px) + nx] = scaled[k]
    return out


def particles_montage(project_root: str | os.PathLike, particles_star: str, out_png: Path, n: int = 36) -> int:
    """A grid of the first ``n`` extracted particles (one image); returns how many were drawn."""
    root = Path(project_root)
    data = read_table(root / particles_star, "particles", required=("rlnImageName",))
    total = len(data["rlnImageName"])
    names = list(data["rlnImageName"][:n])
    if not names:
        return 0
    stacks: dict[str, np.ndarray] = {}
    images = []
    for name in names:
        index, stack = split_image_name(str(name))
        if stack not in stacks:
            stack_data = read_mrc(root / stack)
            stacks[stack] = stack_data if stack_data.ndim == 3 else stack_data[None]
        images.append(stacks[stack][index - 1])
    if len({img.shape for img in images}) > 1:  # mixed box sizes: show the first size only
        images = [img for img in images if img.shape == images[0].shape]
    cols = int(np.ceil(np.sqrt(len(images))))
    picture = montage(np.stack(images), cols)
    plt = _pyplot()
    rows = int(np.ceil(len(images) / cols))
    fig = plt.figure(figsize=(cols * 0.9, rows * 0.9 + 0.3), dpi=90)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96 - 0.3 / (rows * 0.9 + 0.3)))
    ax.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(f"{particles_star}: first {len(images)} of {total} particles", fontsize=8)
    _save(fig, out_png)
    plt.close(fig)
    return len(images)


def class_gallery(project_root: str | os.PathLike, data_star: str, model_star: str, out_png: Path,
                  columns: int = 10) -> int:
    """2D class averages by decreasing class distribution, each with its particle count under it; returns the classes drawn.

    Reads the classification's ``run_itNNN_model.star`` (class images and distributions) and
    ``run_itNNN_data.star`` (the particles' classes, for the counts). Empty classes come last.
    """
    root = Path(project_root)
    classes = read_table(root / model_star, "model_classes", required=("rlnReferenceImage", "rlnClassDistribution"))
    names = [str(v) for v in classes["rlnReferenceImage"]]
    if not names:
        return 0
    distribution = np.asarray(classes["rlnClassDistribution"], dtype=np.float64)
    members = np.asarray(read_table(root / data_star, "particles", required=("rlnClassNumber",))["rlnClassNumber"],
                         dtype=np.int64)
    counts = np.bincount(members[(members >= 1) & (members <= len(names))] - 1, minlength=len(names))
    order = list(display_order(distribution))
    _class_grid(_class_images(root, names), order, [f"{k + 1}: {counts[k]}" for k in order], [None] * len(order),
                f"{data_star}: {len(members)} particles in {int(np.count_nonzero(counts))} of {len(names)} classes "
                "(class: particles)", out_png, columns)
    return len(order)


def ranked_gallery(project_root: str | os.PathLike, rank_model_star: str, selection_star: str, out_png: Path,
                   columns: int = 10, max_classes: int = 50) -> int:
    """The ranked classes by decreasing score, each with its score; selected classes framed green, others red.

    Reads the Select job's ``rank_model.star`` (images, scores, distributions) and
    ``backup_selection.star`` (rlnSelected per class). Classes not scored (10 particles or
    fewer) are left out. Returns the classes drawn (at most ``max_classes``).
    """
    root = Path(project_root)
    classes = read_table(root / rank_model_star, "model_classes", required=("rlnReferenceImage", "rlnClassScore"))
    scores = np.asarray(classes["rlnClassScore"], dtype=np.float64)
    selected = np.asarray(read_table(root / selection_star, "", required=("rlnSelected",))["rlnSelected"]) == 1
    order = [k for k in np.argsort(-scores, kind="stable") if scores[k] > -999.0][:max_classes]
    if not order:
        return 0
    _class_grid(_class_images(root, [str(v) for v in classes["rlnReferenceImage"]]), order,
                [f"{k + 1}: {scores[k]:.2f}" for k in order],
                ["tab:green" if selected[k] else "tab:red" for k in order],
                f"{rank_model_star}: {int(selected.sum())} of {len(scores)} classes selected "
                "(class: score; green selected, red not)", out_png, columns)
    return len(order)


def _class_images(root: Path, names: list[str]) -> np.ndarray:
    """The class averages named ``index@stack`` (all in one stack), shape (K, B, B)."""
    stack = read_mrc(root / split_image_name(names[0])[1])
    stack = stack if stack.ndim == 3 else stack[None]
    return np.stack([stack[split_image_name(n)[0] - 1] for n in names])


def _class_grid(images: np.ndarray, order: list[int], titles: list[str], colours: list[str | None], heading: str,
                out_png: Path, columns: int) -> None:
    """Images ``order`` in a grid, each with its title underneath; a colour frames the image and its title."""
    plt = _pyplot()
    rows = -(-len(order) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.95, rows * 1.12 + 0.35), dpi=80, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, k, title, colour in zip(axes.ravel(), order, titles, colours):
        ax.imshow(to_grey(images[k]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        if colour:
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2.5)
        ax.set_title(title, fontsize=7, y=-0.22, color=colour or "black")
    fig.suptitle(heading, fontsize=8)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.35 / (rows * 1.12 + 0.35), bottom=0.03, wspace=0.05, hspace=0.3)
    _save(fig, out_png)
    plt.close(fig)
