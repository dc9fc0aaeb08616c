"""Micrograph preparation for Topaz, as RELION's wrapper does it (relion_spec.md §6.3).

RELION does not call ``topaz preprocess``: it bins the micrograph by cropping its Fourier
transform to ``(nx // x, ny // x)`` and normalises the whole binned image to mean 0 and
standard deviation 1. Both steps are deterministic (no sampling, unlike topaz's GMM
normalisation), so the same micrograph always gives the same network input.
"""

from __future__ import annotations

import numpy as np


def fourier_bin(image: np.ndarray, factor: int) -> np.ndarray:
    """Bin ``image`` by ``factor`` by cropping its Fourier transform (no aliasing).

    Parameters
    ----------
    image : np.ndarray, shape (ny, nx)
    factor : int
        The output is ``(ny // factor, nx // factor)``.

    Returns
    -------
    np.ndarray, shape (ny // factor, nx // factor), float32
        Mean preserved; frequencies beyond the new Nyquist dropped.
    """
    ny, nx = image.shape
    my, mx = ny // factor, nx // factor
    if factor == 1:
        return np.asarray(image, dtype=np.float32).copy()
    f = np.fft.rfft2(np.asarray(image, dtype=np.float32))
    rows = np.r_[0 : (my + 1) // 2, ny - my // 2 : ny]  # frequencies -my//2 .. (my-1)//2
    cropped = f[rows, : mx // 2 + 1]
    out = np.fft.irfft2(cropped, s=(my, mx)) * (my * mx / (ny * nx))
    return out.astype(np.float32)


def normalise(image: np.ndarray) -> np.ndarray:
    """(image − mean) / std over the whole image (population std); returned as is when std < 1e-10 (as RELION).

    Parameters
    ----------
    image : np.ndarray, shape (H, W)

    Returns
    -------
    np.ndarray, shape (H, W), float32
    """
    x = np.asarray(image, dtype=np.float64)
    mean, std = x.mean(), x.std()
    if std < 1e-10:
        return x.astype(np.float32)
    return ((x - mean) / std).astype(np.float32)


def prepare_micrograph(image: np.ndarray, downscale: int) -> np.ndarray:
    """RELION's Topaz preprocessing: Fourier-bin by ``downscale``, then normalise.

    Parameters
    ----------
    image : np.ndarray, shape (ny, nx)

    Returns
    -------
    np.ndarray, shape (ny // downscale, nx // downscale), float32
    """
    return normalise(fourier_bin(image, downscale))
