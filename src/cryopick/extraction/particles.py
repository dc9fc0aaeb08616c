"""The per-micrograph extraction pipeline: boxes -> rescale -> normalise -> invert.

Follows RELION's ``performPerImageOperations`` order (relion_spec.md 3.4) and its
FOM selection rule (3.2). Boxes inside the micrograph are rescaled straight from
views of it (no copy); work buffers are reused across boxes and chunks, so a
micrograph allocates little besides its output stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from cryopick.errors import BadInputError
from cryopick.extraction.boxes import box_positions, boxes_on_micrograph, extract_boxes, fill_box
from cryopick.extraction.normalise import background, normalise_rows
from cryopick.extraction.rescale import downscale_box, downscale_operator
from cryopick.fourier import resize_real

FOM_LABEL = "rlnAutopickFigureOfMerit"


@dataclass(frozen=True)
class ExtractionSettings:
    """What to do to every particle image.

    Attributes
    ----------
    box_size_px : int
        Even box size B in micrograph pixels.
    rescale_px : int or None
        Even output size S after Fourier rescaling (None: no rescaling).
    normalise : bool
    bg_radius_px : int
        Background radius R in output pixels (see :func:`background_radius_px`).
    white_dust_sigma, black_dust_sigma : float
        ≤ 0 disables.
    ramp : bool
        Subtract a background plane during normalisation.
    invert_contrast : bool
    chunk : int
        Particles normalised together (bounds memory; results depend on it only
        through the order in which dust replacement values are drawn).
    """

    box_size_px: int
    rescale_px: int | None = None
    normalise: bool = True
    bg_radius_px: int = 0
    white_dust_sigma: float = -1.0
    black_dust_sigma: float = -1.0
    ramp: bool = True
    invert_contrast: bool = True
    chunk: int = 16

    @property
    def output_size_px(self) -> int:
        """Side of the images written (S if rescaling, else B)."""
        return int(self.rescale_px) if self.rescale_px else int(self.box_size_px)


def background_radius_px(box_size_px: int, bg_diameter_px: float, rescale_px: int | None) -> int:
    """RELION's background radius in output pixels.

    ``R = int(D/2 · S/B)`` with D = ``bg_diameter_px`` (or 0.75·B if negative)
    and S/B the rescaling factor (1 without rescaling).
    """
    diameter = 0.75 * box_size_px if bg_diameter_px < 0 else float(bg_diameter_px)
    factor = (rescale_px / box_size_px) if rescale_px else 1.0
    return int(diameter / 2.0 * factor)


def validate_settings(s: ExtractionSettings) -> None:
    """Raise :class:`BadInputError` for settings RELION refuses (and upscaling).

    Rescaling to a size larger than the box is refused: it adds no information,
    only memory and disk (RELION would allow it).
    """
    if s.box_size_px <= 0 or s.box_size_px % 2:
        raise BadInputError(f"box size {s.box_size_px} px: must be a positive even number (RELION extracts even boxes only)")
    if s.rescale_px is not None:
        if s.rescale_px <= 0 or s.rescale_px % 2:
            raise BadInputError(f"rescaled size {s.rescale_px} px: must be a positive even number")
        if s.rescale_px > s.box_size_px:
            raise BadInputError(
                f"rescaled size {s.rescale_px} px is larger than the box ({s.box_size_px} px); "
                "rescaling can only make particles smaller"
            )
    if s.normalise:
        size = s.output_size_px
        if s.bg_radius_px <= 0:
            raise BadInputError(f"background radius {s.bg_radius_px} px: must be positive to normalise")
        if 2 * s.bg_radius_px > size:
            raise BadInputError(
                f"background diameter ({2 * s.bg_radius_px} px after rescaling) is larger than the box ({size} px)"
            )


def filter_by_fom(picks: Mapping[str, np.ndarray], min_fom: float | None, path: object) -> dict[str, np.ndarray]:
    """Keep picks with ``rlnAutopickFigureOfMerit > min_fom`` (strict), as RELION.

    Parameters
    ----------
    picks : mapping label -> ndarray, shape (n,) each
        A coordinate table's columns.
    min_fom : float or None
        None keeps every pick.
    path : path-like
        The coordinate file (for messages).

    Returns
    -------
    dict label -> ndarray, shape (k,) each

    Raises
    ------
    BadInputError
        A threshold is set but the coordinate file ``path`` has picks and no FOM column.
    """
    if min_fom is None:
        return dict(picks)
    if FOM_LABEL not in picks and len(picks.get("rlnCoordinateX", ())) == 0:
        return dict(picks)  # no picks (a 0-byte coordinate file): nothing to threshold
    if FOM_LABEL not in picks:
        raise BadInputError(f"{path}: no _{FOM_LABEL} column, cannot apply the minimum FOM threshold {min_fom}")
    keep = np.asarray(picks[FOM_LABEL], dtype=np.float64) > float(min_fom)
    return {label: np.asarray(col)[keep] for label, col in picks.items()}


def extract_particles(
    micrograph: np.ndarray,
    x_px: np.ndarray,
    y_px: np.ndarray,
    s: ExtractionSettings,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Extract and process all particles of one micrograph.

    Parameters
    ----------
    micrograph : ndarray, shape (ny, nx)
    x_px, y_px : ndarray, shape (n,)
        Pick coordinates (0-based pixels).
    s : ExtractionSettings
    rng : numpy.random.Generator, optional
        Source of dust replacement values.

    Returns
    -------
    images : ndarray, shape (k, S, S), float32
        One image per pick whose box touches the micrograph, in input order.
    kept : ndarray, shape (n,), bool
        Which picks were extracted (False: box entirely off the micrograph).

    Notes
    -----
    Rescaling runs on BLAS; to call this from several threads at once, do it inside
    :func:`cryopick.extraction.blas.single_threaded_blas` (as the extraction stage does).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    xpos, ypos = box_positions(x_px, y_px)
    kept = boxes_on_micrograph(xpos, ypos, s.box_size_px, micrograph.shape)
    xk, yk = xpos[kept].tolist(), ypos[kept].tolist()
    size = s.output_size_px
    images = np.empty((len(xk), size, size), dtype=np.float32)
    if not xk:
        return images, kept
    step = max(int(s.chunk), 1)
    stack = np.empty((min(step, len(xk)), size, size), dtype=np.float64)           # reused per chunk
    boxes = _Boxes(micrograph, s)
    bg = background(size, int(s.bg_radius_px)) if s.normalise else None
    for start in range(0, len(xk), step):
        stop = min(start + step, len(xk))
        chunk = stack[: stop - start]
        boxes.fill(chunk, xk[start:stop], yk[start:stop])
        if bg is not None:
            normalise_rows(chunk.reshape(len(chunk), size * size), bg, s.white_dust_sigma, s.black_dust_sigma,
                           s.ramp, rng)
        if s.invert_contrast:
            np.negative(chunk, out=images[start:stop], casting="same_kind")
        else:
            images[start:stop] = chunk
    return images, kept


class _Boxes:
    """Cuts (and rescales) the boxes of one micrograph into float64 chunks, reusing work buffers."""

    def __init__(self, micrograph: np.ndarray, s: ExtractionSettings):
        self.mic = micrograph
        self.box = int(s.box_size_px)
        self.rescale = int(s.rescale_px) if s.rescale_px and s.rescale_px != s.box_size_px else None
        self.op = None
        if self.rescale and self.rescale < self.box:
            self.mic = np.asarray(micrograph, dtype=np.float64)  # one conversion; boxes are views of it
            self.op = downscale_operator(self.box, self.rescale)
            self.edge = np.empty((self.box, self.box))
            self.work = np.empty((self.box, self.rescale))

    def _view(self, x: int, y: int) -> np.ndarray:
        """The box at (x, y): a view of the micrograph, or an edge-replicated copy in a work buffer."""
        ny, nx = self.mic.shape
        x0, y0 = x - self.box // 2, y - self.box // 2
        if x0 >= 0 and y0 >= 0 and x0 + self.box <= nx and y0 + self.box <= ny:
            return self.mic[y0 : y0 + self.box, x0 : x0 + self.box]
        return fill_box(self.edge, self.mic, x, y)

    def fill(self, out: np.ndarray, xs: list[int], ys: list[int]) -> None:
        """``out[k]`` = the (rescaled) box at (xs[k], ys[k]); out shape (n, S, S), float64."""
        if self.op is not None:
            for k, (x, y) in enumerate(zip(xs, ys)):
                downscale_box(self._view(x, y), self.op, out=out[k], work=self.work)
        elif self.rescale is None:
            for k, (x, y) in enumerate(zip(xs, ys)):
                fill_box(out[k], self.mic, x, y)
        else:  # enlarging (refused by validate_settings, kept for completeness)
            out[...] = resize_real(extract_boxes(self.mic, np.array(xs), np.array(ys), self.box), self.rescale)
