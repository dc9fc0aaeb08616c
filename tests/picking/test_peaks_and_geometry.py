"""Peak search and working-size arithmetic of the LoG picker."""

import numpy as np
import pytest

from cryopick.picking.log import diameter_ladder, good_fourier_size, relion_round, working_size
from cryopick.picking.peaks import greedy_peaks


def brute_force_peaks(score, radius, upper=np.inf):
    """RELION's loop, literally: global max, emit, zero a disk, repeat."""
    s = score.copy()
    h, w = s.shape
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    while s.max() > 0:
        p = int(np.argmax(s))
        i, j = divmod(p, w)
        if s[i, j] < upper:
            out.append((i, j))
        r = radius[i, j]
        s[(yy - i) ** 2 + (xx - j) ** 2 < r * r] = 0
    return np.array(out).reshape(-1, 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_peaks_equals_literal_loop(seed):
    rng = np.random.default_rng(seed)
    score = np.maximum(rng.normal(size=(60, 70)), 0).astype(np.float32)
    score[10, 10] = score[10, 12] = 5.0  # a tie: the first in row-major order wins
    radius = rng.integers(1, 6, size=score.shape)
    upper = 2.5 if seed == 2 else np.inf
    assert np.array_equal(greedy_peaks(score, radius, upper), brute_force_peaks(score, radius, upper))


def test_rounding_and_ladder():
    assert relion_round(2.5) == 3 and relion_round(-2.5) == -3 and relion_round(2.49) == 2
    assert diameter_ladder(150, 180, 5) == [30, 38, 50, 75, 150, 165, 180, 360, 540, 720, 900]


def test_good_fourier_sizes_have_small_primes():
    for r in range(100, 600, 2):
        w = good_fourier_size(r, 2000)
        assert w % 2 == 0 or w == r
        for f in (w, w // 2 + 1):
            n, p = f, 2
            while p * p <= n:
                while n % p == 0:
                    n //= p
                p += 1
            assert max(n, 1) <= 43 or n == 1
    assert working_size(1920, 1.77, 20.0) == 340
    assert working_size(512, 1.0, -1) == good_fourier_size(512, 512)
