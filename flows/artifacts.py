"""Prefect artifacts for jobs: a table per job, picks on a micrograph, a montage of particles.

Pictures are written as PNG into the job directory (so they stay with the project) and
published as Markdown artifacts with the PNG embedded as a base64 data URI (the Prefect
UI's Markdown renderer shows ``![](data:image/png;base64,...)``; image artifacts only render
public URLs) plus the file path.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.mrc import read_header, read_mrc
from cryopick.io.optics import read_optics_star
from cryopick.io.star import split_image_name

_MAX_DISPLAY_PX = 512
_FIGURE_CANDIDATES = 20


def artifact_key(text: str) -> str:
    """A valid artifact key (lowercase letters, digits, dashes) from a step name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "job"


def job_table(step: str, result: Mapping[str, Any], cached: bool = False) -> list[dict[str, str]]:
    """Rows ``{"field", "value"}`` describing a job result."""
    rows = [{"field": "step", "value": step}, {"field": "job directory", "value": result.get("job_dir", "")}]
    if cached:
        rows.append({"field": "cached", "value": "yes (inputs, parameters and code unchanged)"})
    rows += [{"field": k, "value": str(v)} for k, v in result.get("counts", {}).items()]
    rows += [{"field": k, "value": f"{v:.4g}"} for k, v in result.get("summary", {}).items()]
    rows += [{"field": "output", "value": f"{p} ({label})"} for p, label in result.get("output_nodes", [])]
    failures = result.get("failures", {})
    if failures:
        rows.append({"field": "failed items", "value": str(len(failures))})
        rows += [{"field": f"failed: {k}", "value": v} for k, v in list(failures.items())[:20]]
    return rows


def publish_job_table(step: str, result: Mapping[str, Any]) -> None:
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        key=artifact_key(step), table=job_table(step, result), description=f"{step}: {result.get('job_dir', '')}"
    )


def publish_png(step: str, suffix: str, png_path: Path, project_root: Path, caption: str) -> None:
    """Publish a PNG as a Markdown artifact (embedded image + path)."""
    from prefect.artifacts import create_markdown_artifact

    data = base64.b64encode(png_path.read_bytes()).decode()
    rel = os.path.relpath(png_path, project_root)
    md = f"### {step}: {caption}\n\n![{caption}](data:image/png;base64,{data})\n\nFile: `{rel}` (in `{project_root}`)\n"
    create_markdown_artifact(key=artifact_key(f"{step}-{suffix}"), markdown=md, description=caption)


def _bin_for_display(image: np.ndarray) -> tuple[np.ndarray, int]:
    """Block-average an image (ny, nx) so its larger side is at most 512 px; returns (image, factor)."""
    factor = max(1, int(np.ceil(max(image.shape) / _MAX_DISPLAY_PX)))
    ny, nx = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    binned = image[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3))
    return binned, factor


def picks_figure(project_root: str | os.PathLike, coords_star: str, out_png: Path, diameter_angstrom: float) -> str | None:
    """Draw one micrograph of a coordinate list with its picks coloured by figure of merit.

    Blue = high FOM, red = low FOM (as in the RELION tutorial). Shows the micrograph with the
    most picks among the first ``_FIGURE_CANDIDATES`` of the list. Returns the micrograph
    name, or None if none of them has picks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(project_root)
    listing = read_coordinate_list(root / coords_star)
    best = None
    for mic, coord_file in list(zip(listing["rlnMicrographName"], listing["rlnMicrographCoordinates"]))[:_FIGURE_CANDIDATES]:
        path = root / str(coord_file)
        if not path.exists() or path.stat().st_size == 0:
            continue
        picks = read_coordinates(path)
        if best is None or len(picks) > len(best[1]):
            best = (str(mic), picks)
    if best is None:
        return None
    mic, picks = best
    image, factor = _bin_for_display(read_mrc(root / mic))
    apix = read_header(root / mic).pixel_size_angstrom or 1.0
    lo, hi = np.percentile(image, [1, 99])
    fig, ax = plt.subplots(figsize=(6, 6 * image.shape[0] / image.shape[1] + 0.3), dpi=90)
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, origin="upper")
    fom = picks["rlnAutopickFigureOfMerit"].to_numpy(float) if "rlnAutopickFigureOfMerit" in picks else np.zeros(len(picks))
    x = picks["rlnCoordinateX"].to_numpy(float) / factor
    y = picks["rlnCoordinateY"].to_numpy(float) / factor
    radius = 0.5 * diameter_angstrom / apix / factor
    cmap = plt.get_cmap("RdYlBu")  # low -> red, high -> blue
    norm = matplotlib.colors.Normalize(vmin=float(fom.min()), vmax=float(fom.max()) if fom.max() > fom.min() else float(fom.min()) + 1)
    for xi, yi, fi in zip(x, y, fom):
        ax.add_patch(plt.Circle((xi, yi), radius, fill=False, lw=1.2, color=cmap(norm(fi))))
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.04, label="figure of merit")
    ax.set_title(f"{Path(mic).name}: {len(picks)} picks", fontsize=9)
    ax.set_axis_off()
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    plt.close(fig)
    return mic


def particles_montage(project_root: str | os.PathLike, particles_star: str, out_png: Path, n: int = 36) -> int:
    """A grid of the first ``n`` extracted particles; returns how many were drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(project_root)
    star = read_optics_star(root / particles_star, data_name="particles")
    names = list(star.data["rlnImageName"][:n])
    if not names:
        return 0
    stacks: dict[str, np.ndarray] = {}
    images = []
    for name in names:
        index, stack = split_image_name(str(name))
        if stack not in stacks:
            data = read_mrc(root / stack)
            stacks[stack] = data if data.ndim == 3 else data[None]
        images.append(stacks[stack][index - 1])
    cols = int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9), dpi=90, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, img in zip(axes.ravel(), images):
        lo, hi = np.percentile(img, [1, 99])
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi)
    fig.suptitle(f"{particles_star}: first {len(images)} of {len(star.data)} particles", fontsize=8)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    plt.close(fig)
    return len(images)
