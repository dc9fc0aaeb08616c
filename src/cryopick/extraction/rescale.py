"""Fourier rescaling of a stack of boxes, RELION's convention, computed cheaply for downscaling.

:func:`cryopick.fourier.resize_real` crops the full half-complex transform. When
shrinking B → S only S/2+1 columns and S rows of the B×B transform survive, so
:func:`downscale` computes just those: a real FFT along x (keeping S/2+1
columns), an FFT along y of those columns only, keeping the S row frequencies
(``row_frequencies(S)``: 0..S/2 and −(S/2−1)..−1), then the S×S inverse. The
result equals ``resize_real`` to rounding (checked in the tests). No BLAS call is
involved, so micrograph-level threads do not fight a BLAS thread pool.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import numpy as np

from cryopick.fourier import resize_real, row_frequencies


@lru_cache(maxsize=8)
def _kept_rows(n_in: int, n_out: int) -> np.ndarray:
    """Rows of an n_in-point FFT holding the frequencies kept at size n_out, in n_out's order."""
    rows = row_frequencies(n_out) % n_in
    rows.setflags(write=False)
    return rows


def downscale_boxes(boxes: Iterable[np.ndarray], count: int, n_in: int, n_out: int) -> np.ndarray:
    """Fourier-rescale ``count`` boxes of size B to S < B, as RELION's ``resizeMap``.

    The x transform is taken box by box (boxes may be views into a micrograph, so no
    stack of full-size boxes is ever built); the rest is batched.

    Parameters
    ----------
    boxes : iterable of ndarray, each shape (B, B), float64
    count : int
        Number of boxes.
    n_in, n_out : int
        B and the even output size S (S < B).

    Returns
    -------
    ndarray, shape (count, S, S), float64
    """
    ncol = n_out // 2 + 1
    cols = np.empty((count, n_in, ncol), dtype=np.complex128)                       # (n, B, S/2+1)
    for k, box in enumerate(boxes):
        cols[k] = np.fft.rfft(box, axis=-1)[:, :ncol]
    kept = np.fft.fft(cols, axis=-2)[:, _kept_rows(n_in, n_out), :]                # (n, S, S/2+1)
    return np.fft.irfft2(kept, s=(n_out, n_out)) * (float(n_out * n_out) / float(n_in * n_in))


def downscale(images: np.ndarray, n_out: int) -> np.ndarray:
    """Fourier-rescale square images from B to ``n_out``, as RELION's ``resizeMap``.

    Parameters
    ----------
    images : ndarray, shape (n, B, B)
    n_out : int
        Even output size S (S > B falls back to :func:`cryopick.fourier.resize_real`).

    Returns
    -------
    ndarray, shape (n, S, S), float64
    """
    n_in = images.shape[-1]
    if n_out == n_in:
        return np.asarray(images, dtype=np.float64)
    if n_out > n_in:
        return resize_real(images, n_out)
    images = np.asarray(images, dtype=np.float64)
    return downscale_boxes(iter(images), len(images), n_in, n_out)
