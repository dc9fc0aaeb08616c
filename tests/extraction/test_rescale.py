import numpy as np
import pytest

from cryopick.extraction.rescale import downscale
from cryopick.fourier import resize_real


@pytest.mark.parametrize("n_in,n_out", [(256, 64), (96, 48), (100, 36), (64, 62), (32, 32), (32, 48)])
def test_downscale_equals_resize_real(n_in, n_out):
    x = np.random.default_rng(n_in + n_out).normal(40.0, 5.0, size=(5, n_in, n_in))
    np.testing.assert_allclose(downscale(x, n_out), resize_real(x, n_out), atol=1e-10, rtol=0)


def test_downscale_keeps_low_frequency_cosine():
    # a cosine below the new Nyquist survives unchanged (sampled on the coarser grid)
    n_in, n_out = 128, 32
    yy, xx = np.mgrid[0:n_in, 0:n_in]
    img = 3.0 + np.cos(2 * np.pi * 5 * xx / n_in) + 0.5 * np.sin(2 * np.pi * 3 * yy / n_in)
    out = downscale(img[None], n_out)[0]
    y2, x2 = np.mgrid[0:n_out, 0:n_out]
    expect = 3.0 + np.cos(2 * np.pi * 5 * x2 / n_out) + 0.5 * np.sin(2 * np.pi * 3 * y2 / n_out)
    np.testing.assert_allclose(out, expect, atol=1e-10)
