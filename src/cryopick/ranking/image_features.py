"""Image features of a 2D class average for RELION 4's class ranker (relion_spec.md §5.3).

Computed on the class average Fourier-rescaled to 4 Å/px (:func:`rescale_to_pixel_size`),
inside the radius R = min(S/2, D/8) px of that S×S image (D = particle diameter in Å):
moments on the ring 0.95R ≤ r ≤ R, statistics of the image low-passed to 25 Å,
protein/solvent masks grown from the centre of the low-passed image, moments of the (not
low-passed) image under them, the share of scattered signal, the protein on the edge of the
circle and a granulometry (:func:`class_image_features` does all of it).

Geometry follows RELION's: the centre of an S×S image is pixel (S//2, S//2), r is measured on
the integer grid from it, and RELION's ROUND rounds half away from zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.ndimage

from cryopick.errors import BadInputError
from cryopick.extraction.reextract import round_half_away
from cryopick.fourier import resize_real, row_frequencies
from cryopick.picking.log import relion_round
from cryopick.ranking.checks import require_positive, square_image

#: Pixel size (Å) of the image the image features are computed on.
UNIFORM_PIXEL_ANGSTROM = 4.0
#: Resolution (Å) of the low-pass filter behind the masks and the low-pass statistics.
LOWPASS_ANGSTROM = 25.0
#: Width (in Fourier shells) of the raised-cosine edge of that filter.
LOWPASS_EDGE_SHELLS = 2
#: Inner radius of the ring, as a fraction of R.
RADIUS_RATIO = 0.95
#: The protein threshold, as a fraction of the low-passed image's standard deviation.
THRESHOLD_FRACTION = 0.05
#: Radii (px) of the disc structuring elements of the granulometry.
GRANULO_RADII_PX = (1, 2, 3, 4, 5, 6)
#: RELION refuses granulometry on images smaller than this (px).
MIN_GRANULO_SIZE_PX = 15


@dataclass(frozen=True)
class Moments:
    """Moments of the pixel values under a mask (RELION's ``calculateMoments``).

    All are 0 for an empty mask; skew and kurtosis are 0 for a constant one.

    Attributes
    ----------
    sum, mean : float
    stddev : float
        Population standard deviation.
    skew : float
        Third standardised moment.
    kurtosis : float
        Fourth standardised moment (3 for a Gaussian: not the excess kurtosis).
    """

    sum: float
    mean: float
    stddev: float
    skew: float
    kurtosis: float


@dataclass(frozen=True)
class LowpassStats:
    """Mean, population standard deviation, minimum and maximum of the low-passed image (whole box)."""

    mean: float
    stddev: float
    min: float
    max: float


@dataclass(frozen=True)
class SolventMasks:
    """Protein and solvent masks of an S×S image (RELION's ``makeSolventMasks``).

    Attributes
    ----------
    protein : ndarray, shape (S, S), bool
        The islands grown from the centre that are large enough to be protein.
    solvent : ndarray, shape (S, S), bool
        The disc r ≤ R without the protein.
    scattered_px : int
        Pixels of the islands grown from the centre that are too small to be protein.
    """

    protein: np.ndarray
    solvent: np.ndarray
    scattered_px: int

    @property
    def protein_area_px(self) -> int:
        return int(np.count_nonzero(self.protein))

    @property
    def solvent_area_px(self) -> int:
        return int(np.count_nonzero(self.solvent))

    @property
    def scattered_signal(self) -> float:
        """Scattered pixels / (scattered + protein pixels + 1)."""
        return self.scattered_px / (self.scattered_px + self.protein_area_px + 1)


@dataclass(frozen=True)
class ClassImageFeatures:
    """The image features of one class average, computed on its 4 Å/px version.

    Attributes
    ----------
    size_px : int
        Side S of the 4 Å image.
    radius_px : float
        R = min(S/2, D/(2·4 Å)).
    ring : Moments
        Over 0.95R ≤ r ≤ R.
    lowpass : LowpassStats
        Of the image low-passed to 25 Å.
    protein, solvent : Moments
        Of the (not low-passed) image under the protein / solvent mask.
    protein_area_px, solvent_area_px : int
        Pixels in the masks.
    has_protein : bool
        More than one protein pixel.
    has_solvent : bool
        More solvent pixels than 0.08·3.14·R².
    scattered_signal : float
        Scattered pixels / (scattered + protein pixels + 1).
    relative_signal_intensity : float
        protein.sum − solvent.mean · protein_area_px.
    edge_signal : float
        Fraction of the pixels with ROUND(r) = ROUND(R) that are protein.
    granulo : tuple of 6 float
        Sums of the image opened by discs of radius 1..6 px.
    """

    size_px: int
    radius_px: float
    ring: Moments
    lowpass: LowpassStats
    protein: Moments
    solvent: Moments
    protein_area_px: int
    solvent_area_px: int
    has_protein: bool
    has_solvent: bool
    scattered_signal: float
    relative_signal_intensity: float
    edge_signal: float
    granulo: tuple[float, ...]


def squared_radii(size_px: int) -> np.ndarray:
    """Squared integer distance of each pixel from the centre pixel (S//2, S//2).

    Returns
    -------
    ndarray, shape (S, S), int
    """
    d = np.arange(size_px) - size_px // 2
    return d[:, None] ** 2 + d[None, :] ** 2


# ---------------------------------------------------------------- rescaling


def rescaled_size(box_px: int, pixel_size_angstrom: float, target_angstrom: float = UNIFORM_PIXEL_ANGSTROM) -> int:
    """RELION's size at the target pixel size: ROUND(B·apix/target), minus one if odd.

    Raises
    ------
    BadInputError
        The box would shrink to nothing.
    """
    size = relion_round(box_px * pixel_size_angstrom / target_angstrom)
    size -= size % 2
    if size < 2:
        raise BadInputError(
            f"a {box_px} px box at {pixel_size_angstrom} Å/px is too small to rescale to {target_angstrom} Å/px"
        )
    return size


def rescale_to_pixel_size(image: np.ndarray, pixel_size_angstrom: float,
                          target_angstrom: float = UNIFORM_PIXEL_ANGSTROM) -> np.ndarray:
    """Fourier-rescale a class average to (about) ``target_angstrom`` per pixel, as RELION's ``resizeMap``.

    Parameters
    ----------
    image : ndarray, shape (B, B)
    pixel_size_angstrom : float
        Pixel size of ``image``.
    target_angstrom : float
        Wanted pixel size (RELION then treats the result as exactly this).

    Returns
    -------
    ndarray, shape (S, S), float64
        S = :func:`rescaled_size` (B, apix, target).
    """
    img = square_image(image)
    require_positive("the pixel size", pixel_size_angstrom)
    require_positive("the target pixel size", target_angstrom)
    return resize_real(img, rescaled_size(img.shape[0], pixel_size_angstrom, target_angstrom))


def mask_radius_px(size_px: int, diameter_angstrom: float,
                   pixel_size_angstrom: float = UNIFORM_PIXEL_ANGSTROM) -> float:
    """R = min(S/2, D/(2·apix)): the particle's radius in pixels, at most half the box."""
    require_positive("the particle diameter", diameter_angstrom)
    return min(size_px / 2.0, diameter_angstrom / (2.0 * pixel_size_angstrom))


# ---------------------------------------------------------------- moments and statistics


def moments(values: np.ndarray) -> Moments:
    """Sum, mean, population std, skew and kurtosis of ``values`` (RELION's ``calculateMoments``).

    Parameters
    ----------
    values : ndarray, shape (n,)
        The pixels under a mask.

    Returns
    -------
    Moments
        All zero when n = 0. Skew and kurtosis are zero when the values are constant (a
        variance below (1e-12·|mean|)² counts as zero: summation rounding, not signal).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    if n == 0:
        return Moments(0.0, 0.0, 0.0, 0.0, 0.0)
    total = float(v.sum())
    mean = total / n
    dev = v - mean
    square_sum = float(np.sum(dev * dev))
    stddev = math.sqrt(square_sum / n)
    if stddev <= 1e-12 * abs(mean) or square_sum == 0.0:
        return Moments(total, mean, stddev, 0.0, 0.0)
    skew = float(np.sum(dev**3)) * math.sqrt(n) / square_sum**1.5
    kurtosis = float(np.sum(dev**4)) * n / square_sum**2
    return Moments(total, mean, stddev, skew, kurtosis)


def ring_moments(image: np.ndarray, radius_px: float, radius_ratio: float = RADIUS_RATIO) -> Moments:
    """Moments of the pixels with (ratio·R)² ≤ r² ≤ R².

    Parameters
    ----------
    image : ndarray, shape (S, S)
    radius_px : float
        R.
    radius_ratio : float
        Inner radius / R.
    """
    img = square_image(image)
    r2 = squared_radii(img.shape[0])
    inner = radius_ratio * radius_px
    ring = (r2 >= inner * inner) & (r2 <= radius_px * radius_px)
    return moments(img[ring])


def lowpass_filter(image: np.ndarray, pixel_size_angstrom: float,
                   resolution_angstrom: float = LOWPASS_ANGSTROM) -> np.ndarray:
    """RELION's ``lowPassFilterMap``: a low-pass with a raised-cosine edge of 2 Fourier shells.

    With k = ROUND(S·apix/resolution), Fourier components at radius |ν| (in shells) are kept
    below k − 1, removed above k + 1 and weighted by 0.5 + 0.5·cos(π(|ν| − k + 1)/2) between.

    Parameters
    ----------
    image : ndarray, shape (S, S)
    pixel_size_angstrom, resolution_angstrom : float

    Returns
    -------
    ndarray, shape (S, S), float64
    """
    img = square_image(image)
    require_positive("the low-pass resolution", resolution_angstrom)
    size = img.shape[0]
    shell = relion_round(size * pixel_size_angstrom / resolution_angstrom)
    half = LOWPASS_EDGE_SHELLS // 2
    low, high = max(0.0, shell - half), float(shell + half)
    ky = row_frequencies(size)[:, None]
    kx = np.arange(size // 2 + 1)[None, :]
    radius = np.sqrt(ky * ky + kx * kx)
    edge = 0.5 + 0.5 * np.cos(np.pi * (radius - low) / max(high - low, 1e-12))
    weight = np.where(radius < low, 1.0, np.where(radius > high, 0.0, edge))
    return np.fft.irfft2(np.fft.rfft2(img) * weight, s=(size, size))


def lowpass_stats(lowpassed: np.ndarray) -> LowpassStats:
    """Mean, population std, min and max over the whole (low-passed) image, shape (S, S)."""
    a = np.asarray(lowpassed, dtype=np.float64)
    return LowpassStats(float(a.mean()), float(a.std()), float(a.min()), float(a.max()))


# ---------------------------------------------------------------- protein and solvent


def solvent_masks(lowpassed: np.ndarray, threshold: float, radius_px: float) -> SolventMasks:
    """Grow protein islands from the centre of the low-passed image (RELION's ``makeSolventMasks``).

    The pixels above ``threshold`` within r ≤ R split into 4-connected islands. Islands with
    no pixel in the central disc r² ≤ 0.36R² are ignored; the others are protein if more than
    0.1·3.14·0.36·R² of their pixels lie in that central disc, and scattered signal otherwise.
    (RELION floods from each above-threshold central pixel; the islands are the same.)

    Parameters
    ----------
    lowpassed : ndarray, shape (S, S)
    threshold : float
        Pixels strictly above it are signal (RELION: 0.05 · the low-passed image's std).
    radius_px : float
        R.

    Returns
    -------
    SolventMasks
    """
    img = square_image(lowpassed)
    r2 = squared_radii(img.shape[0])
    disc = r2 <= radius_px * radius_px
    central = r2 <= 0.36 * radius_px * radius_px
    signal = (img > threshold) & disc
    labels, n_islands = scipy.ndimage.label(signal, structure=scipy.ndimage.generate_binary_structure(2, 1))
    inside = np.bincount(labels[central].ravel(), minlength=n_islands + 1)
    size = np.bincount(labels.ravel(), minlength=n_islands + 1)
    seeded = inside > 0
    seeded[0] = False  # label 0 is the background
    is_protein = seeded & (inside > 0.1 * 3.14 * 0.36 * radius_px * radius_px)
    protein = is_protein[labels]
    scattered = int(size[seeded & ~is_protein].sum())
    return SolventMasks(protein=protein, solvent=disc & ~protein, scattered_px=scattered)


def edge_signal(protein: np.ndarray, radius_px: float) -> float:
    """Fraction of the pixels with ROUND(r) = ROUND(R) that are protein.

    Parameters
    ----------
    protein : ndarray, shape (S, S), bool
    radius_px : float
        R.
    """
    mask = np.asarray(protein, dtype=bool)
    rounded = round_half_away(np.sqrt(squared_radii(mask.shape[0])))
    edge = rounded == relion_round(radius_px)
    n_edge = int(np.count_nonzero(edge))
    return float(np.count_nonzero(mask & edge)) / n_edge if n_edge else 0.0


# ---------------------------------------------------------------- granulometry


def _disc_footprint(radius_px: int) -> np.ndarray:
    """Disc structuring element dx² + dy² ≤ N², shape (2N+1, 2N+1), bool."""
    d = np.arange(-radius_px, radius_px + 1)
    return d[:, None] ** 2 + d[None, :] ** 2 <= radius_px * radius_px


def granulometry(image: np.ndarray, radii_px: Sequence[int] = GRANULO_RADII_PX) -> np.ndarray:
    """Sum of the grey-level opening of ``image`` by a disc of each radius (RELION's ``calculateGranulo``).

    Opening = erosion (minimum over the disc) then dilation (maximum over the disc), the disc
    clipped to the image at its borders.

    Parameters
    ----------
    image : ndarray, shape (S, S)
        S ≥ 15.
    radii_px : sequence of int

    Returns
    -------
    ndarray, shape (len(radii_px),), float64
    """
    img = square_image(image)
    if img.shape[0] < MIN_GRANULO_SIZE_PX:
        raise BadInputError(
            f"granulometry needs an image of at least {MIN_GRANULO_SIZE_PX} px at 4 Å/px, got {img.shape[0]} px "
            "(the box is too small)"
        )
    sums = []
    for radius in radii_px:
        footprint = _disc_footprint(int(radius))
        eroded = scipy.ndimage.grey_erosion(img, footprint=footprint, mode="constant", cval=np.inf)
        opened = scipy.ndimage.grey_dilation(eroded, footprint=footprint, mode="constant", cval=-np.inf)
        sums.append(opened.sum())
    return np.array(sums, dtype=np.float64)


# ---------------------------------------------------------------- all image features


def class_image_features(image: np.ndarray, pixel_size_angstrom: float, diameter_angstrom: float,
                         lowpass_angstrom: float = LOWPASS_ANGSTROM,
                         radius_ratio: float = RADIUS_RATIO) -> ClassImageFeatures:
    """The image features of one class average (relion_spec.md §5.3).

    The average is rescaled to S = :func:`rescaled_size` pixels and, as in RELION, then
    treated as exactly 4 Å/px (for R and the low-pass) although B·apix/S may differ slightly.
    The first-peak CTF correction of §5.2 (``rlnDoIgnoreCtfUntilFirstPeak``) is the caller's.

    Parameters
    ----------
    image : ndarray, shape (B, B)
        The class average at its own pixel size.
    pixel_size_angstrom : float
    diameter_angstrom : float
        Particle (mask) diameter D.
    lowpass_angstrom : float
        Low-pass resolution for the masks and the low-pass statistics (``--lowpass``).
    radius_ratio : float
        Inner radius of the ring / R (``--radius_ratio``).

    Returns
    -------
    ClassImageFeatures
    """
    img = rescale_to_pixel_size(image, pixel_size_angstrom)
    radius = mask_radius_px(img.shape[0], diameter_angstrom)
    lowpassed = lowpass_filter(img, UNIFORM_PIXEL_ANGSTROM, lowpass_angstrom)
    stats = lowpass_stats(lowpassed)
    masks = solvent_masks(lowpassed, THRESHOLD_FRACTION * stats.stddev, radius)
    protein, solvent = moments(img[masks.protein]), moments(img[masks.solvent])
    return ClassImageFeatures(
        size_px=img.shape[0],
        radius_px=radius,
        ring=ring_moments(img, radius, radius_ratio),
        lowpass=stats,
        protein=protein,
        solvent=solvent,
        protein_area_px=masks.protein_area_px,
        solvent_area_px=masks.solvent_area_px,
        has_protein=masks.protein_area_px > 1,
        has_solvent=masks.solvent_area_px > 0.08 * 3.14 * radius * radius,
        scattered_signal=masks.scattered_signal,
        relative_signal_intensity=protein.sum - solvent.mean * masks.protein_area_px,
        edge_signal=edge_signal(masks.protein, radius),
        granulo=tuple(float(s) for s in granulometry(img)),
    )
