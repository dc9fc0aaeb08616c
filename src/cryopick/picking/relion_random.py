"""RELION's random numbers, reproduced exactly and vectorised.

RELION seeds C's ``srand`` and draws Gaussian values with the Marsaglia polar
method on top of ``rand()`` (``rnd_gaus`` in RELION's ``funcs.cpp``). LoG picking
fills the padding of non-square micrographs with such values, so matching RELION's
picks on non-square micrographs needs the same stream. glibc's ``rand()`` is an
additive lagged-Fibonacci generator, ``r[i] = r[i-3] + r[i-31] (mod 2**32)``,
output ``r[i] >> 1``; being linear, a whole block of outputs is a fixed integer
matrix times the last 31 state words, which numpy evaluates exactly in float64
by splitting words into 16-bit halves.
"""

from __future__ import annotations

import functools

import numpy as np

RAND_MAX = 2147483647
_DEG = 31
_SEP = 3
_DISCARD = 310
_BLOCK = 4096
_MASK32 = np.uint64(0xFFFFFFFF)


@functools.lru_cache(maxsize=1)
def _block_matrix() -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) 16-bit halves of the (BLOCK, 31) matrix mapping state to the next block."""
    coef = np.zeros((_BLOCK + _DEG + _SEP, _DEG), dtype=np.uint64)
    coef[:_DEG] = np.eye(_DEG, dtype=np.uint64)
    for k in range(_DEG, _BLOCK + _DEG, _SEP):  # rows k..k+2 depend only on rows before k
        coef[k : k + _SEP] = (coef[k - _SEP : k] + coef[k - _DEG : k - _DEG + _SEP]) & _MASK32
    m = coef[_DEG : _DEG + _BLOCK]
    return (m & np.uint64(0xFFFF)).astype(np.float64), (m >> np.uint64(16)).astype(np.float64)


def prepare() -> None:
    """Build the cached block matrix (a few ms) ahead of the first draw."""
    _block_matrix()


def _seed_state(seed: int) -> np.ndarray:
    """The last 31 words r[313..343] before the first output r[344] (glibc's 310 discarded)."""
    seed &= 0xFFFFFFFF
    if seed >= 1 << 31:
        seed -= 1 << 32
    r = [seed if seed != 0 else 1]
    for _ in range(1, _DEG):
        prev = r[-1]
        hi = int(prev / 127773)  # C division truncates toward zero
        lo = prev - hi * 127773
        word = 16807 * lo - 2836 * hi
        if word < 0:
            word += 2147483647
        r.append(word)
    r = [v & 0xFFFFFFFF for v in r]
    r.extend(r[:_SEP])  # r[31..33] = r[0..2]
    for i in range(_DEG + _SEP, _DEG + _DISCARD + _SEP):
        r.append((r[i - _DEG] + r[i - _SEP]) & 0xFFFFFFFF)
    return np.array(r[-_DEG:], dtype=np.uint64)


def glibc_rand(seed: int, count: int) -> np.ndarray:
    """The first ``count`` values of glibc ``rand()`` after ``srand(seed)``.

    Returns
    -------
    ndarray, shape (count,), int64
        Values in [0, RAND_MAX].
    """
    lo_m, hi_m = _block_matrix()
    state = _seed_state(seed)
    out = np.empty(count, dtype=np.int64)
    done = 0
    while done < count:
        s_lo = (state & np.uint64(0xFFFF)).astype(np.float64)
        s_hi = (state >> np.uint64(16)).astype(np.float64)
        low = (lo_m @ s_lo).astype(np.uint64)
        mid = ((lo_m @ s_hi + hi_m @ s_lo).astype(np.uint64) & np.uint64(0xFFFF)) << np.uint64(16)
        block = (low + mid) & _MASK32
        take = min(_BLOCK, count - done)
        out[done : done + take] = (block[:take] >> np.uint64(1)).astype(np.int64)
        done += take
        state = block[-_DEG:]
    return out


def relion_gaussians(seed: int, count: int) -> np.ndarray:
    """``count`` successive ``rnd_gaus(0, 1)`` values after ``init_random_generator(seed)``.

    Marsaglia's polar method in single precision, returning X1 then X2 of each
    accepted pair, as RELION does (its cached second value starts empty).

    Returns
    -------
    ndarray, shape (count,), float32
    """
    if count <= 0:
        return np.zeros(0, dtype=np.float32)
    n_pairs_needed = (count + 1) // 2
    n_uniform = 2 * int(n_pairs_needed / (np.pi / 4) * 1.05 + 64)
    while True:
        r = glibc_rand(seed, n_uniform)
        u = np.float32(-1) + (r.astype(np.float32) / np.float32(RAND_MAX)) * np.float32(2)
        u1, u2 = u[0::2], u[1::2]
        w = (u1.astype(np.float64) ** 2 + u2.astype(np.float64) ** 2).astype(np.float32)
        ok = (w < 1) & (w != 0)
        if np.count_nonzero(ok) >= n_pairs_needed:
            break
        n_uniform *= 2
    u1, u2, w = u1[ok][:n_pairs_needed], u2[ok][:n_pairs_needed], w[ok][:n_pairs_needed]
    mult = np.sqrt((np.float32(-2) * np.log(w)) / w).astype(np.float32)
    out = np.empty(2 * n_pairs_needed, dtype=np.float32)
    out[0::2] = u1 * mult
    out[1::2] = u2 * mult
    return out[:count]
