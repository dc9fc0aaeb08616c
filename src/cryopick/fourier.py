"""Fourier-space windowing with RELION's conventions.

RELION normalises forward FFTs by 1/(number of pixels) and leaves inverse FFTs
un-normalised, so cropping or padding a transform preserves real-space grey values.
Its ``windowFourierTransform`` keeps, for an even output size S, the half-complex
columns kx = 0..S/2 and rows ky = -(S/2-1)..S/2 (the +Nyquist row is kept, the
-Nyquist row dropped), copied from the same frequency indices of the input.
"""

from __future__ import annotations

import numpy as np


def row_frequencies(n: int) -> np.ndarray:
    """Logical row frequency of each row of an ``n``-row half-complex transform.

    Row ``n/2`` is taken as +Nyquist (RELION's convention), rows above it negative.

    Returns
    -------
    ndarray, shape (n,), int
    """
    i = np.arange(n)
    return np.where(i <= n // 2, i, i - n)


def window_rfft2(ft: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """Crop or zero-pad a half-complex 2D transform from ``n_in`` to ``n_out`` (both even).

    Parameters
    ----------
    ft : ndarray, shape (..., n_in, n_in//2 + 1), complex
        ``numpy.fft.rfft2`` layout; leading axes are batch axes.
    n_in, n_out : int
        Real-space sizes.

    Returns
    -------
    ndarray, shape (..., n_out, n_out//2 + 1), complex
    """
    if n_out == n_in:
        return ft
    out = np.zeros(ft.shape[:-2] + (n_out, n_out // 2 + 1), dtype=ft.dtype)
    ky = row_frequencies(n_in)
    keep = (ky >= -(n_out // 2 - 1)) & (ky <= n_out // 2)
    rows_in = np.nonzero(keep)[0]
    rows_out = ky[keep] % n_out
    ncol = min(n_in, n_out) // 2 + 1
    out[..., rows_out, :ncol] = ft[..., rows_in, :ncol]
    return out


def resize_real(images: np.ndarray, n_out: int) -> np.ndarray:
    """Fourier-rescale square images to ``n_out`` × ``n_out`` as RELION's ``resizeMap``.

    Parameters
    ----------
    images : ndarray, shape (..., n, n), real
    n_out : int
        Even output size.

    Returns
    -------
    ndarray, shape (..., n_out, n_out), float64
    """
    n_in = images.shape[-1]
    if n_out == n_in:
        return np.asarray(images, dtype=np.float64)
    ft = np.fft.rfft2(images) / (n_in * n_in)
    win = window_rfft2(ft, n_in, n_out)
    return np.fft.irfft2(win, s=(n_out, n_out)) * (n_out * n_out)
