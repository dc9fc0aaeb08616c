"""The class scorer: a small network over a class average's 64×64 image and its 24 features.

Its shape follows RELION 5's class ranker (relion_spec.md §5.5): three stages of 3×3
convolutions (16, 32, 64 channels; the last two downsample by 2) and a fourth (128 channels)
reduce the image to 128×8×8, a linear layer maps that to 48 values, which are joined with the
24 features and mapped through 48 hidden units to one score. The score is a logit here; its
sigmoid is the class score from 0 ("absolute rubbish") to 1 ("gorgeous").

The images are standardised per class (zero mean, unit standard deviation): our averages and
RELION's differ in scale. Weights are saved and loaded as a plain ``state_dict`` (tensors only,
``torch.load(weights_only=True)``), never as a pickled module.

torch is imported on first use only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cryopick.ranking.network_input import CNN_IMAGE_PX, N_FEATURES

#: Hidden sizes (RELION 5's).
IMAGE_EMBEDDING = 48
HIDDEN = 48


def build_scorer(seed: int = 0) -> Any:
    """A freshly initialised scorer (``torch.nn.Module``); ``forward(images (n,1,64,64), features (n,24)) -> (n,)`` logits."""
    import torch
    from torch import nn

    class Scorer(nn.Module):
        def __init__(self) -> None:
            super().__init__()

            def block(cin: int, cout: int, stride: int) -> nn.Sequential:
                return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True),
                                     nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))

            self.image = nn.Sequential(block(1, 16, 1), block(16, 32, 2), block(32, 64, 2), block(64, 128, 2),
                                       nn.Flatten(), nn.Linear(128 * (CNN_IMAGE_PX // 8) ** 2, IMAGE_EMBEDDING),
                                       nn.ReLU(inplace=True))
            self.head = nn.Sequential(nn.Linear(IMAGE_EMBEDDING + N_FEATURES, HIDDEN), nn.ReLU(inplace=True),
                                      nn.Linear(HIDDEN, 1))

        def forward(self, images: "torch.Tensor", features: "torch.Tensor") -> "torch.Tensor":
            return self.head(torch.cat([self.image(images), features], dim=1))[:, 0]

    torch.manual_seed(seed)
    return Scorer()


def standardise_images(images: np.ndarray) -> np.ndarray:
    """Each image to zero mean and unit standard deviation (constant images to zeros).

    Parameters
    ----------
    images : np.ndarray, shape (n, 64, 64)

    Returns
    -------
    np.ndarray, shape (n, 1, 64, 64), float32
    """
    x = np.asarray(images, dtype=np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    return ((x - mean) / np.where(std > 1e-12, std, 1.0)).astype(np.float32)[:, None]


def score(model: Any, images: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Class scores in [0, 1].

    Parameters
    ----------
    images : np.ndarray, shape (n, 64, 64)
        :func:`cryopick.ranking.network_input.cnn_image` of each class.
    features : np.ndarray, shape (n, 24)
        :func:`cryopick.ranking.network_input.feature_vector`.

    Returns
    -------
    np.ndarray, shape (n,), float64
    """
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(standardise_images(images)), torch.from_numpy(np.asarray(features, np.float32)))
    return torch.sigmoid(logits).double().numpy()
