"""Checks and rounding shared by the class ranker's feature modules."""

from __future__ import annotations

import math

import numpy as np

from cryopick.errors import BadInputError


def square_image(image: np.ndarray) -> np.ndarray:
    """``image`` as float64, or BadInputError if it is not a non-empty square 2D array."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise BadInputError(f"a class average must be a square 2D image, got an array of shape {a.shape}")
    return a


def require_positive(name: str, value: float) -> None:
    """BadInputError unless ``value`` is a finite positive number."""
    if not (math.isfinite(value) and value > 0):
        raise BadInputError(f"{name} must be a positive number, got {value}")
