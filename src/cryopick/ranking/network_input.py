"""The class ranker network's inputs (relion_spec.md §5.3–5.4): 24 numbers and a 64×64 image per class.

:func:`feature_vector` z-scores the features with RELION's fixed constants and, for the last
three, within the job; :func:`cnn_image` windows the class average to the particle and
Fourier-resizes it to 64×64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cryopick.errors import BadInputError
from cryopick.fourier import resize_real
from cryopick.ranking.checks import require_positive, square_image
from cryopick.ranking.class_features import ClassModelFeatures
from cryopick.ranking.image_features import ClassImageFeatures

#: Side (px) of the network's image.
CNN_IMAGE_PX = 64
#: Length of the network's feature vector.
N_FEATURES = 24
#: Mean and standard deviation of features 0–20 in RELION's training set (relion_spec.md §5.4).
FIXED_MEAN = np.array([4.352, 3.871, 0.001, 0.061, -0.199, 0.424, 0.744, -0.380, 0.292, 0.024, 0.047, 0.116, 0.638,
                       -1.112, 2.990, 837.576, 726.097, 602.175, 483.469, 328.014, 196.059])
FIXED_STD = np.array([4.759, 3.019, 0.002, 0.088, 0.283, 0.629, 0.585, 0.378, 0.485, 0.075, 0.075, 0.182, 0.429,
                      1.087, 1.758, 1958.823, 2845.330, 3605.858, 4001.972, 4399.578, 4709.751])
#: A within-job standard deviation below this z-scores its feature to 0.
MIN_JOB_STDDEV = 1e-10

FIXED_MEAN.setflags(write=False)
FIXED_STD.setflags(write=False)


@dataclass(frozen=True)
class ClassFeatures:
    """Everything the network's feature vector is made of, for one class."""

    model: ClassModelFeatures
    image: ClassImageFeatures


def raw_features(features: ClassFeatures) -> np.ndarray:
    """The 24 network features of one class before z-scoring, in RELION's order (relion_spec.md §5.4).

    Returns
    -------
    ndarray, shape (24,), float64
        0–1 accuracies (rotation, translation), 2 weighted and 3 relative resolution, 4–5 ring
        mean and std, 6 protein std, 7–8 solvent mean and std, 9 scattered signal, 10 edge
        signal, 11–14 low-pass mean, std, min, max, 15–20 granulometry, 21 protein sum,
        22 solvent sum, 23 relative signal intensity.
    """
    m, im = features.model, features.image
    return np.array([
        m.accuracy_rotation_deg, m.accuracy_translation_angstrom, m.weighted_resolution, m.relative_resolution,
        im.ring.mean, im.ring.stddev, im.protein.stddev, im.solvent.mean, im.solvent.stddev,
        im.scattered_signal, im.edge_signal,
        im.lowpass.mean, im.lowpass.stddev, im.lowpass.min, im.lowpass.max,
        *im.granulo,
        im.protein.sum, im.solvent.sum, im.relative_signal_intensity,
    ], dtype=np.float64)


def normalise_features(raw: np.ndarray) -> np.ndarray:
    """Z-score the raw features of all ranked classes of a job (RELION's ``toNormalizedVector``).

    Features 0–20 use the fixed constants :data:`FIXED_MEAN`, :data:`FIXED_STD`; 21–23 use
    the mean and population std of the job's classes (a std below 1e-10 gives 0).

    Parameters
    ----------
    raw : ndarray, shape (n, 24)

    Returns
    -------
    ndarray, shape (n, 24), float32
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != N_FEATURES:
        raise BadInputError(f"raw features must have shape (n, {N_FEATURES}), got {raw.shape}")
    out = np.zeros_like(raw)
    fixed = len(FIXED_MEAN)
    out[:, :fixed] = (raw[:, :fixed] - FIXED_MEAN) / FIXED_STD
    if len(raw):
        local = raw[:, fixed:]
        mean, std = local.mean(axis=0), local.std(axis=0)
        ok = std >= MIN_JOB_STDDEV
        out[:, fixed:] = np.where(ok, (local - mean) / np.where(ok, std, 1.0), 0.0)
    return out.astype(np.float32)


def feature_vector(classes: Sequence[ClassFeatures]) -> np.ndarray:
    """The network's feature input for all ranked classes of a job.

    Parameters
    ----------
    classes : sequence of ClassFeatures
        Every class of the job with more than 10 particles, in class order.

    Returns
    -------
    ndarray, shape (n, 24), float32
        RELION's ``features.npy``.
    """
    raw = np.array([raw_features(c) for c in classes], dtype=np.float64).reshape(-1, N_FEATURES)
    return normalise_features(raw)


def cnn_window_px(pixel_size_angstrom: float, diameter_angstrom: float) -> int:
    """Side of the window around the particle: CEIL(D/apix) + 1, plus 1 if odd."""
    require_positive("the pixel size", pixel_size_angstrom)
    require_positive("the particle diameter", diameter_angstrom)
    width = math.ceil(diameter_angstrom / pixel_size_angstrom) + 1
    return width + width % 2


def centre_window(image: np.ndarray, size_px: int) -> np.ndarray:
    """Crop or zero-pad a square image to ``size_px``, keeping the centre pixel at the centre.

    Parameters
    ----------
    image : ndarray, shape (B, B)
    size_px : int

    Returns
    -------
    ndarray, shape (size_px, size_px), float64
        Pixel (i, j) is ``image[i − size_px//2 + B//2, j − size_px//2 + B//2]``, 0 outside ``image``.
    """
    img = square_image(image)
    box = img.shape[0]
    out = np.zeros((size_px, size_px))
    shift = box // 2 - size_px // 2  # input index = output index + shift
    lo, hi = max(0, -shift), min(size_px, box - shift)
    out[lo:hi, lo:hi] = img[lo + shift:hi + shift, lo + shift:hi + shift]
    return out


def cnn_image(image: np.ndarray, pixel_size_angstrom: float, diameter_angstrom: float) -> np.ndarray:
    """The network's image of a class average (relion_spec.md §5.3, last bullet).

    The average at its own pixel size, windowed around its centre to
    :func:`cnn_window_px` (zero-padded where the window leaves the box) and Fourier-resized
    to 64×64; the grey values are not normalised.

    Parameters
    ----------
    image : ndarray, shape (B, B)
        The class average, not rescaled.
    pixel_size_angstrom : float
        Its pixel size.
    diameter_angstrom : float
        Particle (mask) diameter D.

    Returns
    -------
    ndarray, shape (64, 64), float32
        One image of RELION's ``images.npy``.
    """
    window = centre_window(image, cnn_window_px(pixel_size_angstrom, diameter_angstrom))
    return resize_real(window, CNN_IMAGE_PX).astype(np.float32)
