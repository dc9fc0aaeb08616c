"""The per-micrograph extraction pipeline: boxes -> rescale -> normalise -> invert.

Follows RELION's ``performPerImageOperations`` order (relion_spec.md 3.4) and its
FOM selection rule (3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryopick.errors import BadInputError
from cryopick.extraction.boxes import box_positions, boxes_on_micrograph, extract_boxes, iter_boxes
from cryopick.extraction.normalise import normalise_stack
from cryopick.extraction.rescale import downscale, downscale_boxes

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
        Particles processed together (bounds memory: about 40·B² bytes each).
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


def filter_by_fom(picks: pd.DataFrame, min_fom: float | None, path: object) -> pd.DataFrame:
    """Keep picks with ``rlnAutopickFigureOfMerit > min_fom`` (strict), as RELION.

    Raises
    ------
    BadInputError
        A threshold is set but the coordinate file ``path`` has no FOM column.
    """
    if min_fom is None:
        return picks
    if FOM_LABEL not in picks.columns:
        raise BadInputError(f"{path}: no _{FOM_LABEL} column, cannot apply the minimum FOM threshold {min_fom}")
    keep = picks[FOM_LABEL].to_numpy(dtype=np.float64) > float(min_fom)
    return picks.loc[keep].reset_index(drop=True)


def _finish(images: np.ndarray, s: ExtractionSettings, rng: np.random.Generator) -> np.ndarray:
    """Normalise and invert (after any rescaling); shape (n, S, S) float64."""
    if s.normalise:
        images = normalise_stack(images, s.bg_radius_px, s.white_dust_sigma, s.black_dust_sigma, s.ramp, rng)
    if s.invert_contrast:
        images = np.negative(images, out=images if images.flags.writeable else None)
    return images


def process_boxes(boxes: np.ndarray, s: ExtractionSettings, rng: np.random.Generator) -> np.ndarray:
    """Rescale, normalise and invert a stack of boxes.

    Parameters
    ----------
    boxes : ndarray, shape (n, B, B)

    Returns
    -------
    ndarray, shape (n, S, S), float64
    """
    out = np.array(boxes, dtype=np.float64)
    if s.rescale_px and s.rescale_px != s.box_size_px:
        out = downscale(out, s.rescale_px)
    return _finish(out, s, rng)


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
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    xpos, ypos = box_positions(x_px, y_px)
    kept = boxes_on_micrograph(xpos, ypos, s.box_size_px, micrograph.shape)
    xk, yk = xpos[kept], ypos[kept]
    size = s.output_size_px
    images = np.empty((len(xk), size, size), dtype=np.float32)
    mic64 = np.asarray(micrograph, dtype=np.float64)
    rescale = bool(s.rescale_px) and s.rescale_px != s.box_size_px
    shrink = rescale and s.rescale_px < s.box_size_px
    step = max(int(s.chunk), 1)
    for start in range(0, len(xk), step):
        stop = min(start + step, len(xk))
        if shrink:
            # transform straight from views of the micrograph: no full-size box stack
            boxes = iter_boxes(mic64, xk[start:stop], yk[start:stop], s.box_size_px)
            stack = downscale_boxes(boxes, stop - start, s.box_size_px, s.rescale_px)
        else:
            stack = extract_boxes(mic64, xk[start:stop], yk[start:stop], s.box_size_px)
            if rescale:
                stack = downscale(stack, s.rescale_px)
        images[start:stop] = _finish(stack, s, rng)
    return images, kept
