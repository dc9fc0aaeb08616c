"""Scoring micrographs with a Topaz network and picking its peaks, in memory.

What ``topaz extract`` does for one preprocessed micrograph, without files or a process per
micrograph: the network (in evaluation mode, "filled" so that it classifies every pixel)
turns the binned, normalised micrograph into a map of log-likelihood ratios; greedy
non-maximum suppression (:mod:`cryopick.picking.nms`) keeps the best pixel within each
radius down to the threshold; coordinates are scaled back to micrograph pixels by the
binning factor and rounded as topaz rounds them.

torch is imported on first use only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cryopick.picking.nms import non_maximum_suppression


@dataclass(frozen=True)
class TopazPicks:
    """Picks of one micrograph.

    Attributes
    ----------
    x_px, y_px : np.ndarray, shape (N,), int64
        Centres in micrograph pixels (column, row).
    score : np.ndarray, shape (N,), float32
        Log-likelihood ratio at each pick (RELION's rlnAutopickFigureOfMerit), descending.
    """

    x_px: np.ndarray
    y_px: np.ndarray
    score: np.ndarray


def prepare_model(model: Any, device: str = "cpu", precision: str = "float32") -> Any:
    """Put a topaz classifier in scoring mode on ``device``: eval, filled, channels-last on CPU,
    its weights in ``precision`` (``float32`` or ``bfloat16``, see :mod:`cryopick.precision`).

    Returns the same module (modified in place).
    """
    import torch

    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"unknown precision {precision!r}")
    model.eval()
    model.fill()
    model.to(device=device, dtype=torch.float32)
    if precision == "bfloat16":
        # the convolutions in bfloat16; the last, linear layer in float32, so that the scores keep
        # float32's resolution (bfloat16 scores near 4 would step by 1/32, and tie)
        model.features.to(dtype=torch.bfloat16)
    if device == "cpu":
        model.to(memory_format=torch.channels_last)  # same arithmetic, ~1.7x faster convolutions on CPU
    return model


def score_map(model: Any, image: np.ndarray, device: str = "cpu") -> np.ndarray:
    """The network's log-likelihood-ratio map of a preprocessed micrograph.

    Parameters
    ----------
    model : topaz LinearClassifier
        Prepared with :func:`prepare_model`; the image is scored in the precision of its features.
    image : np.ndarray, shape (H, W)
        Binned and normalised micrograph.

    Returns
    -------
    np.ndarray, shape (H, W), float32
    """
    import torch

    dtype = next(model.features.parameters()).dtype
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None].to(device=device, dtype=dtype)
    if device == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():  # topaz's LinearClassifier.forward, with the features cast for the classifier
        features = model.features(x)
        y = model.classifier(features.to(next(model.classifier.parameters()).dtype))
    return y[0, 0].float().cpu().numpy()


def picks_from_scores(scores: np.ndarray, radius_px: int, threshold: float, downscale: int) -> TopazPicks:
    """Non-maximum suppression on a score map, coordinates scaled by ``downscale`` as topaz scales them.

    Parameters
    ----------
    scores : np.ndarray, shape (H, W)
    radius_px : int
        Suppression radius in binned pixels.
    threshold : float
        Only scores above it are picked.
    downscale : int
        Binned -> micrograph pixels: ``round(coord * downscale)``.
    """
    score, coords = non_maximum_suppression(scores, radius_px, threshold)
    xy = np.round(coords.astype(np.float64) * downscale).astype(np.int64) if downscale != 1 else coords.astype(np.int64)
    return TopazPicks(xy[:, 0], xy[:, 1], score.astype(np.float32))
