"""Micrograph preparation for Topaz: Fourier binning, then one of two normalisations.

Binning crops the Fourier transform to ``(nx // x, ny // x)`` (RELION's wrapper and
``topaz preprocess`` both do this). Then:

``gmm`` (default)
    ``topaz preprocess``'s normalisation, which Topaz's pretrained networks expect: a
    two-component Gaussian mixture (with a Beta(900, 1) prior that makes one component hold
    almost every pixel) is fitted to a 1-in-10 sample of the pixels, and the image is
    standardised by the dominant component. Carbon, ice and empty areas then do not shift
    the scale of the particle area (the fit: :mod:`cryopick.picking.gmm`, topaz's EM on a fine
    histogram of the sample). topaz draws the sample from numpy's unseeded global
    generator, so two runs differ; here the sample comes from a generator seeded by the
    job's seed and the micrograph's name, so a micrograph is always normalised the same way.
``relion``
    RELION's wrapper (relion_spec.md §6.3): mean 0, standard deviation 1 over the whole image.
"""

from __future__ import annotations

import zlib

import numpy as np

from cryopick.picking.gmm import fit_dominant_gaussian


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


#: ``topaz preprocess`` defaults: pixel sampling factor, Beta prior on the mixing proportion, EM iterations.
GMM_SAMPLE, GMM_ALPHA, GMM_BETA, GMM_ITERATIONS = 10, 900.0, 1.0, 100


def gmm_normalise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``topaz preprocess``'s GMM normalisation, with its pixel sample drawn from ``rng``.

    Parameters
    ----------
    image : np.ndarray, shape (H, W)
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (H, W), float32
        (image − μ) / σ of the fitted dominant component.

    Raises
    ------
    ValueError
        The sample has no spread (a constant image) or is not finite.
    """
    x = np.asarray(image, dtype=np.float32)
    n = int(np.round(x.size / GMM_SAMPLE))
    sample = rng.choice(x.ravel(), size=n, replace=False)
    mu, std = fit_dominant_gaussian(sample, alpha=GMM_ALPHA, beta=GMM_BETA, scale=x.size / n, iterations=GMM_ITERATIONS)
    if not (np.isfinite(mu) and np.isfinite(std) and std > 0):
        raise ValueError(f"no intensity spread to normalise by (fitted mean {mu:g}, standard deviation {std:g})")
    return ((x - mu) / std).astype(np.float32)


def micrograph_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of micrograph ``name``'s normalisation: depends on the seed and the name only."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])


def prepare_micrograph(image: np.ndarray, downscale: int, normalisation: str = "gmm",
                       rng: np.random.Generator | None = None) -> np.ndarray:
    """Fourier-bin by ``downscale``, then normalise (``gmm`` with ``rng``, or ``relion``).

    Parameters
    ----------
    image : np.ndarray, shape (ny, nx)

    Returns
    -------
    np.ndarray, shape (ny // downscale, nx // downscale), float32
    """
    binned = fourier_bin(image, downscale)
    if normalisation == "relion":
        return normalise(binned)
    if normalisation != "gmm":
        raise ValueError(f"unknown normalisation {normalisation!r}")
    return gmm_normalise(binned, rng if rng is not None else np.random.default_rng(0))
