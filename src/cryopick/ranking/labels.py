"""What makes a 2D class "good", for training and judging the class ranker on simulated data.

A class is **good** when most of its particles are true particles and its average matches a
true projection of the particle:

* **true fraction**: the share of the class's particles whose picked position lies within
  half a particle diameter of a true particle (the simulator's ground truth), each true
  particle claimed once (greedy by figure of merit, :func:`cryopick.metrics.match_picks`);
* **match**: the normalised cross-correlation of the class average with its best true
  projection, after alignment and a 20 Å low-pass (:func:`cryopick.class_metrics.match_classes`),
  is at least :attr:`LabelRule.min_ncc` — the threshold the Class2D benchmark uses for "this
  class shows the particle".

Both must hold, at :attr:`LabelRule.min_true_fraction` (default 0.8) and ``min_ncc`` (0.85).
Empty classes are not labelled (NaN fraction, label False, ``labelled`` False).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError
from cryopick.metrics import match_picks


@dataclass(frozen=True)
class LabelRule:
    """Thresholds of a good class.

    Attributes
    ----------
    min_true_fraction : float
        Share of true particles a good class holds at least.
    min_ncc : float
        Least normalised cross-correlation with a true projection.
    """

    min_true_fraction: float = 0.8
    min_ncc: float = 0.85


@dataclass(frozen=True)
class ClassLabels:
    """Per class: its true fraction, its label, and whether it could be labelled at all.

    Attributes
    ----------
    true_fraction : np.ndarray, shape (K,)
        NaN for empty classes.
    good : np.ndarray, shape (K,), bool
    labelled : np.ndarray, shape (K,), bool
        The class has particles.
    """

    true_fraction: np.ndarray
    good: np.ndarray
    labelled: np.ndarray


def true_fraction_per_class(class_numbers: np.ndarray, is_true: np.ndarray, n_classes: int) -> np.ndarray:
    """The share of true particles in each class.

    Parameters
    ----------
    class_numbers : np.ndarray, shape (N,), int
        rlnClassNumber of each particle (1-based).
    is_true : np.ndarray, shape (N,), bool
        The particle is a true particle.
    n_classes : int

    Returns
    -------
    np.ndarray, shape (n_classes,)
        NaN for classes without particles.
    """
    k = np.asarray(class_numbers, dtype=np.int64) - 1
    truth = np.asarray(is_true, dtype=bool)
    if k.shape != truth.shape:
        raise BadInputError(f"{len(k)} class numbers but {len(truth)} truth flags")
    if len(k) and (k.min() < 0 or k.max() >= n_classes):
        raise BadInputError(f"class numbers must lie in 1..{n_classes} (got {k.min() + 1}..{k.max() + 1})")
    total = np.bincount(k, minlength=n_classes).astype(np.float64)
    true = np.bincount(k, weights=truth.astype(np.float64), minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, true / total, np.nan)


def particles_are_true(micrographs: np.ndarray, xy_px: np.ndarray, truth_xy_by_mic: dict[str, np.ndarray],
                       radius_px: float) -> np.ndarray:
    """Which particles sit on a true particle: within ``radius_px`` of one, each true particle claimed once.

    Parameters
    ----------
    micrographs : np.ndarray, shape (N,), str
    xy_px : np.ndarray, shape (N, 2)
        Picked positions (x, y) in micrograph pixels.
    truth_xy_by_mic : dict[str, np.ndarray (n, 2)]

    Returns
    -------
    np.ndarray, shape (N,), bool
    """
    mics = np.asarray(micrographs).astype(str)
    xy = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
    out = np.zeros(len(mics), dtype=bool)
    for mic in np.unique(mics):
        rows = np.flatnonzero(mics == mic)
        truth = truth_xy_by_mic.get(str(mic), np.zeros((0, 2)))
        out[rows] = match_picks(truth, xy[rows], np.zeros(len(rows)), radius_px) >= 0
    return out


def label_classes(true_fraction: np.ndarray, ncc: np.ndarray, rule: LabelRule = LabelRule()) -> ClassLabels:
    """Label classes good or not (see the module docstring).

    Parameters
    ----------
    true_fraction, ncc : np.ndarray, shape (K,)
        NaN for empty classes.
    """
    fraction = np.asarray(true_fraction, dtype=np.float64)
    ncc = np.asarray(ncc, dtype=np.float64)
    if fraction.shape != ncc.shape:
        raise BadInputError(f"{fraction.shape} true fractions but {ncc.shape} NCC values")
    labelled = np.isfinite(fraction) & np.isfinite(ncc)
    good = labelled & (np.nan_to_num(fraction) >= rule.min_true_fraction) & (np.nan_to_num(ncc, nan=-1.0) >= rule.min_ncc)
    return ClassLabels(fraction, good, labelled)
