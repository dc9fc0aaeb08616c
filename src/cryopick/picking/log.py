"""Laplacian-of-Gaussian blob picking, as RELION's ``relion_autopick --LoG``.

The arithmetic follows relion_spec.md §1 step by step so that picks, coordinates and
figures of merit equal RELION's on the same micrograph:

1. normalise the micrograph (outliers beyond 8 σ set to the mean), flip dark particles;
2. embed a non-square micrograph in an N×N square padded with RELION's own Gaussian
   noise stream (see :mod:`cryopick.picking.relion_random`);
3. Fourier-crop to the working size W set by the maximum resolution;
4. filter with LoG kernels for a ladder of diameters, keep the best response per pixel;
5. zero the edges, threshold at mean + k·σ of the "right-size" responses;
6. greedy peak search with a suppression radius from the detected diameter.

Only the frequencies that survive the crop are carried beyond the row FFT (a
cache-blocked row FFT, then a column FFT of the kept columns only), which is where
most of the speed comes from; numpy's FFT is used (scipy.fft would be faster per
micrograph but its import costs more than it saves on a typical job).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError
from cryopick.fourier import row_frequencies
from cryopick.picking.peaks import greedy_peaks
from cryopick.picking.relion_random import prepare as prepare_random
from cryopick.picking.relion_random import relion_gaussians

UPPER_THRESHOLD_OFF = 999.0
_ROW_BLOCK = 64  # rows per FFT block: ~0.5 MB of output, cache-resident (2x faster than one big call)


def relion_round(x: float) -> int:
    """RELION's ROUND: half away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


@dataclass(frozen=True)
class LoGParams:
    """Parameters of LoG picking (RELION GUI "Laplacian" tab plus expert options).

    Attributes
    ----------
    diameter_min_angstrom, diameter_max_angstrom : float
        Smallest and largest particle diameter.
    pixel_size_angstrom : float
        Micrograph pixel size.
    particles_white : bool
        Particles brighter than the background ("Are the particles white?").
    max_resolution_angstrom : float
        Micrographs are downscaled to this resolution; <= 0 keeps the full size.
    threshold_stddev : float
        "Adjust default threshold": mean + this many σ of the right-size responses.
    upper_threshold_stddev : float
        Peaks above mean + this many σ are not picked; >= 999 disables it (as the GUI).
    neighbour_percent : float
        Suppression distance as a percentage of (detected + minimum diameter) / 2.
    max_search : float
        Diameter ladder spans dmin/max_search .. max_search·dmax.
    skip_side_px : int
        Extra edge margin (original pixels) beyond half the minimum diameter.
    outlier_zscore : float
        Pixels further than this many σ from the mean are set to the mean.
    """

    diameter_min_angstrom: float
    diameter_max_angstrom: float
    pixel_size_angstrom: float
    particles_white: bool = False
    max_resolution_angstrom: float = 20.0
    threshold_stddev: float = 0.0
    upper_threshold_stddev: float = UPPER_THRESHOLD_OFF
    neighbour_percent: float = 100.0
    max_search: float = 5.0
    skip_side_px: int = 0
    outlier_zscore: float = 8.0

    def validate(self) -> None:
        """Raise :class:`BadInputError` for inconsistent values."""
        if self.diameter_min_angstrom <= 0 or self.diameter_max_angstrom <= 0:
            raise BadInputError("LoG picking: diameters must be positive")
        if self.diameter_min_angstrom > self.diameter_max_angstrom:
            raise BadInputError(
                f"LoG picking: minimum diameter {self.diameter_min_angstrom:g} Å is larger than "
                f"the maximum diameter {self.diameter_max_angstrom:g} Å"
            )
        if self.pixel_size_angstrom <= 0:
            raise BadInputError(f"LoG picking: pixel size must be positive, got {self.pixel_size_angstrom:g}")
        if self.max_search < 2:
            raise BadInputError("LoG picking: max_search must be at least 2")
        if self.neighbour_percent <= 0:
            raise BadInputError("LoG picking: neighbour percentage must be positive")


@dataclass(frozen=True)
class Picks:
    """Picks of one micrograph, in the order RELION emits them (decreasing FOM).

    Attributes
    ----------
    x_px, y_px : ndarray, shape (n,)
        0-based coordinates in original pixels (x = column, y = row).
    fom : ndarray, shape (n,)
        LoG figure of merit.
    diameter_angstrom : ndarray, shape (n,)
        Diameter of the best LoG response at each pick.
    """

    x_px: np.ndarray
    y_px: np.ndarray
    fom: np.ndarray
    diameter_angstrom: np.ndarray

    def __len__(self) -> int:
        return len(self.x_px)


def diameter_ladder(dmin: float, dmax: float, max_search: float) -> list[float]:
    """Diameters searched: small decoys, dmin, (dmin+dmax)/2, dmax, large decoys (Å)."""
    s = int(max_search)
    low = [float(relion_round(dmin / k)) for k in range(s, 1, -1)]
    high = [float(relion_round(k * dmax)) for k in range(2, s + 1)]
    return low + [dmin, (dmin + dmax) / 2.0, dmax] + high


def _largest_prime_factor(n: int) -> int:
    n, best, f = int(n), 1, 2
    while f * f <= n:
        while n % f == 0:
            best, n = f, n // f
        f += 1
    return max(best, n) if n > 1 else best


def _fft_badness(r: int) -> int:
    return max(_largest_prime_factor(r), _largest_prime_factor(r // 2 + 1))


def good_fourier_size(requested: int, full: int) -> int:
    """RELION's ``getGoodFourierDims``: a nearby even size with small prime factors."""
    if _fft_badness(requested) <= 43:
        return requested
    up = requested
    while _fft_badness(up) >= 43 and up <= full + 2:
        up += 2
    down = requested
    while _fft_badness(down) >= 43 and down > 2:
        down -= 2
    if (requested - down) < (up - requested) or up > full:
        return down
    return up


def working_size(full: int, pixel_size: float, max_resolution: float) -> int:
    """Working (downscaled) box W for an N×N micrograph (``--shrink 0`` as the GUI)."""
    if max_resolution <= 0:
        requested = full
    else:
        requested = min(2 * relion_round(full * pixel_size / max_resolution), full)
    w = good_fourier_size(requested, full)
    return w - w % 2


@dataclass(frozen=True)
class _Geometry:
    ny: int
    nx: int
    n: int
    w: int
    scale: float
    diameters: tuple[float, ...]


class LoGPicker:
    """LoG picker for micrographs of one size; filters are built once and reused.

    Parameters
    ----------
    params : LoGParams
    shape : tuple[int, int]
        (ny, nx) of the micrographs.
    """

    def __init__(self, params: LoGParams, shape: tuple[int, int]):
        params.validate()
        self.params = params
        ny, nx = int(shape[0]), int(shape[1])
        n = max(ny, nx)
        w = working_size(n, params.pixel_size_angstrom, params.max_resolution_angstrom)
        scale = float(np.float32(w) / np.float32(n))
        self.geo = _Geometry(ny, nx, n, w, scale, tuple(diameter_ladder(params.diameter_min_angstrom, params.diameter_max_angstrom, params.max_search)))
        self._filters = _filter_bank(n, w, params.pixel_size_angstrom, self.geo.diameters)
        self._rows = _kept_rows(n, w)
        self._local = threading.local()
        if ny != nx:
            prepare_random()  # build the generator's tables now, not in every worker at once

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """A per-thread work array, reused across micrographs (no page faults per call)."""
        arr = getattr(self._local, name, None)
        if arr is None:
            arr = np.empty(shape, dtype=dtype)
            setattr(self._local, name, arr)
        return arr

    # -- the steps ---------------------------------------------------------------------

    def _centred_square(self, mic: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
        """Steps 1–2: the micrograph minus its mean in an N×N square, and the factor to finish.

        RELION normalises to (x - μ)/σ, flips dark particles and pads with N(0, 1) noise.
        The division by σ and the flip are left to the (much smaller) cropped transform:
        the square holds x - μ (outliers set to 0, i.e. to the mean) and the padding holds
        noise·σ·sign, so that square·(sign/σ) is RELION's normalised square.

        Returns
        -------
        square : ndarray, shape (N, N), float32
            A per-thread buffer.
        scale : float
            sign/σ, to be applied after the Fourier transform (linear).
        """
        g, p = self.geo, self.params
        x = np.asarray(mic, dtype=np.float32)
        out = self._scratch("square", (g.n, g.n), np.float32)  # every pixel is written below
        y0, x0 = g.n // 2 - g.ny // 2, g.n // 2 - g.nx // 2
        view = out[y0 : y0 + g.ny, x0 : x0 + g.nx]
        mu = float(x.sum(axis=1).sum(dtype=np.float64)) / x.size  # row sums in float32 are exact enough
        np.subtract(x, np.float32(mu), out=view)
        flat = view.reshape(-1) if view.flags.c_contiguous else view.ravel()
        sigma = math.sqrt(float(np.dot(flat, flat)) / flat.size)
        if not sigma > 0:
            raise BadInputError("micrograph has zero variance (all pixels equal)")
        lo, hi = float(x.min()), float(x.max())
        sign = 1.0 if p.particles_white else -1.0
        if (hi - mu) / sigma > p.outlier_zscore or (mu - lo) / sigma > p.outlier_zscore:
            view[np.abs(view) > np.float32(p.outlier_zscore * sigma)] = 0.0
        if (g.ny, g.nx) != (g.n, g.n):
            self._fill_padding(out, y0, x0, seed, np.float32(sigma * sign))
        return out, sign / sigma

    def _fill_padding(self, out: np.ndarray, y0: int, x0: int, seed: int, factor: np.float32) -> None:
        """Fill the square outside the micrograph with RELION's noise (times ``factor``), in its row-major order."""
        g = self.geo
        left, right = x0, g.n - x0 - g.nx
        bottom = g.n - y0 - g.ny
        count = y0 * g.n + g.ny * (left + right) + bottom * g.n
        noise = relion_gaussians(seed, count)
        noise *= factor
        k = y0 * g.n
        out[:y0] = noise[:k].reshape(y0, g.n)
        middle = noise[k : k + g.ny * (left + right)].reshape(g.ny, left + right)
        out[y0 : y0 + g.ny, :left] = middle[:, :left]
        out[y0 : y0 + g.ny, g.n - right :] = middle[:, left:]
        k += g.ny * (left + right)
        out[y0 + g.ny :] = noise[k:].reshape(bottom, g.n)

    def _cropped_transform(self, square: np.ndarray) -> np.ndarray:
        """Steps 3–4: the W×(W/2+1) low-frequency half transform (unnormalised).

        Rows are transformed in blocks that stay in cache, keeping only the W/2+1
        columns that survive the crop (stored transposed, so the second pass runs
        along contiguous memory); then only those columns are transformed along y.
        RELION's 1/N² forward normalisation is folded into the filter bank.
        """
        g = self.geo
        half = g.w // 2 + 1
        kept_t = self._scratch("kept_t", (half, g.n), np.complex64)
        for i in range(0, g.n, _ROW_BLOCK):
            kept_t[:, i : i + _ROW_BLOCK] = np.fft.rfft(square[i : i + _ROW_BLOCK], axis=1)[:, :half].T
        cols_ft = np.fft.fft(kept_t, axis=1)
        rows_in, rows_out = self._rows
        out = np.zeros((g.w, half), dtype=np.complex64)
        out[rows_out] = cols_ft[:, rows_in].T
        return out

    def response(self, mic: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Best LoG response and the index of the diameter giving it.

        Returns
        -------
        best_fom : ndarray, shape (W, W), float32
        best_index : ndarray, shape (W, W), int
            Index into ``self.geo.diameters``.
        """
        g = self.geo
        square, scale = self._centred_square(mic, seed)
        ft = self._cropped_transform(square)
        ft *= np.float32(scale)
        maps = np.fft.irfft2(ft[None, :, :] * self._filters, s=(g.w, g.w), axes=(-2, -1))
        best_fom = maps[0].copy()
        best_index = np.zeros(best_fom.shape, dtype=np.intp)
        for d in range(1, len(maps)):  # strict ">": the first diameter wins ties, as in RELION
            better = maps[d] > best_fom
            np.copyto(best_fom, maps[d], where=better)
            best_index[better] = d
        return best_fom, best_index

    def pick(self, mic: np.ndarray, seed: int = 1) -> Picks:
        """Pick one micrograph.

        Parameters
        ----------
        mic : ndarray, shape (ny, nx)
            The micrograph as stored (x = column).
        seed : int
            RELION's ``random_seed + micrograph index`` (only used for non-square padding).
        """
        g, p = self.geo, self.params
        if mic.shape != (g.ny, g.nx):
            raise BadInputError(f"micrograph is {mic.shape[1]}x{mic.shape[0]}, picker was built for {g.nx}x{g.ny}")
        best_fom, best_index = self.response(mic, seed)
        diam = np.asarray(g.diameters)
        best_size = diam[best_index]
        self._zero_edges(best_fom)
        dmin, dmax = p.diameter_min_angstrom, p.diameter_max_angstrom
        wrong = (best_size > dmax) | (best_size < dmin)
        best_fom[wrong] = 0.0
        ok_values = best_fom[~wrong]
        mean_ok = float(ok_values.mean()) if ok_values.size else 0.0
        var_ok = float((ok_values * ok_values).mean()) - mean_ok * mean_ok if ok_values.size else 0.0
        sd_ok = math.sqrt(max(var_ok, 0.0))
        thr = mean_ok + p.threshold_stddev * sd_ok
        upper = mean_ok + p.upper_threshold_stddev * sd_ok if p.upper_threshold_stddev < UPPER_THRESHOLD_OFF else np.inf
        best_fom[best_fom < thr] = 0.0
        fudge = p.neighbour_percent / 100.0
        radius_by_diam = np.array(
            [relion_round(g.scale * (d + dmin) * fudge / 2.0 / p.pixel_size_angstrom) for d in g.diameters]
        )
        peaks = greedy_peaks(best_fom, radius_by_diam[best_index], upper)
        if len(peaks) == 0:
            empty = np.zeros(0)
            return Picks(empty, empty, empty, empty)
        i, j = peaks[:, 0], peaks[:, 1]
        hs, ws = self._scaled_size()
        # logical index = physical - W/2; coordinate = (logical - FIRST(Ws)) / scale
        x = ((j - g.w // 2) + ws // 2) / g.scale
        y = ((i - g.w // 2) + hs // 2) / g.scale
        return Picks(x.astype(np.float64), y.astype(np.float64), best_fom[i, j].astype(np.float64), best_size[i, j].astype(np.float64))

    def _scaled_size(self) -> tuple[int, int]:
        """(Hs, Ws): the micrograph's extent on the working grid (single precision, as RELION)."""
        g = self.geo
        return int(np.float32(g.ny) * np.float32(g.scale)), int(np.float32(g.nx) * np.float32(g.scale))

    def _zero_edges(self, best_fom: np.ndarray) -> None:
        """Step 5: zero everything outside the micrograph shrunk by the edge margin."""
        g, p = self.geo, self.params
        skip = int(max(p.skip_side_px, 0.5 * p.diameter_min_angstrom / p.pixel_size_angstrom))
        skip_w = int(np.float32(skip) * np.float32(g.scale))
        if skip_w == 0:
            return
        hs, ws = self._scaled_size()
        top = g.w // 2 - hs // 2 + skip_w
        bottom = g.w // 2 - hs // 2 + hs - 1 - skip_w
        left = g.w // 2 - ws // 2 + skip_w
        right = g.w // 2 - ws // 2 + ws - 1 - skip_w
        keep = np.zeros_like(best_fom, dtype=bool)
        if bottom >= top and right >= left:
            keep[max(top, 0) : bottom + 1, max(left, 0) : right + 1] = True
        best_fom[~keep] = 0.0


def _kept_rows(n: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the N-point column FFT kept in the W crop, and where they go."""
    ky = row_frequencies(n)
    keep = (ky >= -(w // 2 - 1)) & (ky <= w // 2)
    return np.nonzero(keep)[0], ky[keep] % w


@functools.lru_cache(maxsize=8)
def _filter_bank(n: int, w: int, pixel_size: float, diameters: tuple[float, ...]) -> np.ndarray:
    """LoG kernels on the cropped half plane.

    Returns
    -------
    ndarray, shape (len(diameters), W, W//2+1), float32
        ``(k²/κ²)·exp(-k²/(2κ²))`` with κ = N·apix/(2d), k in Fourier pixels of the N box,
        times W²/N²: RELION's forward 1/N² and numpy's inverse 1/W² normalisations undone.
    """
    ky = row_frequencies(w).astype(np.float64)
    kx = np.arange(w // 2 + 1, dtype=np.float64)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2
    bank = np.empty((len(diameters), w, w // 2 + 1), dtype=np.float32)
    for idx, d in enumerate(diameters):
        kappa = 0.5 * n * pixel_size / d
        t = k2 / (kappa * kappa)
        bank[idx] = t * np.exp(-0.5 * t) * (float(w) * float(w) / (float(n) * float(n)))
    return bank
