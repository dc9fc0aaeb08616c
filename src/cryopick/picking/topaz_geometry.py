"""Topaz's working scale for a particle diameter, the way RELION's wrapper chooses it (relion_spec.md §6.2).

Topaz's networks see a window of about 71 pixels (resnet8/resnet16 receptive field). RELION bins
micrographs so that the window covers about twice the particle diameter, never by less than 4,
and derives two radii in binned pixels: a quarter of the particle radius labels positives for
training, the whole radius suppresses neighbours when picking.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryopick.errors import BadInputError
from cryopick.picking.log import relion_round

#: Receptive field (px) RELION assumes for the binning factor.
RECEPTIVE_FIELD_PX = 71
#: RELION never bins by less than this.
MIN_DOWNSCALE = 4


@dataclass(frozen=True)
class TopazGeometry:
    """Binning factor and radii of a Topaz job.

    Attributes
    ----------
    downscale : int
        Micrographs are Fourier-binned by this factor before the network sees them.
    train_radius_px, pick_radius_px : int
        Radii in binned pixels: positives around each training particle; non-maximum suppression.
    """

    downscale: int
    train_radius_px: int
    pick_radius_px: int

    @classmethod
    def for_particle(cls, diameter_angstrom: float, pixel_size_angstrom: float,
                     downscale: int | None = None, radius_px: int | None = None) -> "TopazGeometry":
        """RELION's choices for ``diameter_angstrom`` at ``pixel_size_angstrom``; ``downscale`` and
        ``radius_px`` (both radii) override them when given.

        Raises
        ------
        BadInputError
            Non-positive diameter or pixel size, or a particle smaller than one binned pixel.
        """
        if not diameter_angstrom > 0:
            raise BadInputError(f"the particle diameter must be positive (got {diameter_angstrom} Å)")
        if not pixel_size_angstrom > 0:
            raise BadInputError(f"the pixel size must be positive (got {pixel_size_angstrom} Å)")
        diameter_px = diameter_angstrom / pixel_size_angstrom
        x = downscale or max(MIN_DOWNSCALE, relion_round(2.0 * diameter_px / RECEPTIVE_FIELD_PX))
        if diameter_px / x < 1.0:
            raise BadInputError(f"a {diameter_angstrom:g} Å particle is {diameter_px / x:.2f} px after binning "
                                f"by {x} at {pixel_size_angstrom:g} Å/px: bin less (downscale)")
        train = radius_px if radius_px is not None else relion_round(diameter_px / (8.0 * x))
        pick = radius_px if radius_px is not None else relion_round(diameter_px / (2.0 * x))
        return cls(int(x), int(train), int(pick))
