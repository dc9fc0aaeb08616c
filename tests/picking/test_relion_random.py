"""RELION's random stream: glibc rand() reproduced exactly, polar-method Gaussians."""

import ctypes
import ctypes.util

import numpy as np
import pytest

from cryopick.picking.relion_random import RAND_MAX, glibc_rand, relion_gaussians

libc_name = ctypes.util.find_library("c")


@pytest.mark.skipif(libc_name is None or "libc.so" not in str(libc_name), reason="needs glibc to compare against")
@pytest.mark.parametrize("seed", [0, 1, 2, 11, 123456, 2**31 - 2])
def test_glibc_rand_matches_libc(seed):
    libc = ctypes.CDLL(libc_name)
    libc.srand(ctypes.c_uint(seed))
    n = 9000  # crosses two internal blocks
    expected = np.array([libc.rand() for _ in range(n)])
    assert np.array_equal(glibc_rand(seed, n), expected)


@pytest.mark.skipif(libc_name is None or "libc.so" not in str(libc_name), reason="needs glibc to compare against")
def test_gaussians_follow_polar_method_on_libc_stream():
    libc = ctypes.CDLL(libc_name)
    libc.srand(5)
    expected = []
    while len(expected) < 200:
        u1 = np.float32(-1) + (np.float32(libc.rand()) / np.float32(RAND_MAX)) * np.float32(2)
        u2 = np.float32(-1) + (np.float32(libc.rand()) / np.float32(RAND_MAX)) * np.float32(2)
        w = np.float32(float(u1) ** 2 + float(u2) ** 2)
        if w >= 1 or w == 0:
            continue
        mult = np.sqrt((np.float32(-2) * np.log(w)) / w)
        expected += [u1 * mult, u2 * mult]
    np.testing.assert_array_equal(relion_gaussians(5, 200), np.array(expected[:200], dtype=np.float32))


def test_gaussian_statistics():
    g = relion_gaussians(3, 100001)
    assert g.shape == (100001,) and g.dtype == np.float32
    assert abs(g.mean()) < 0.02 and abs(g.std() - 1) < 0.02
