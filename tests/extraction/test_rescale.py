import numpy as np
import pytest

from cryopick.extraction.rescale import downscale, downscale_box, downscale_operator
from cryopick.fourier import resize_real


@pytest.mark.parametrize("n_in,n_out", [(256, 64), (96, 48), (100, 36), (64, 62), (360, 96), (32, 32), (32, 48)])
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


def test_nyquist_row_kept_as_relion():
    # the +Nyquist row of the output (ky = S/2) carries the input's ky = +S/2 component, so a
    # pure ky = S/2 cosine along y survives; its sine (zero on the coarse grid) does not matter
    n_in, n_out = 64, 16
    yy, _ = np.mgrid[0:n_in, 0:n_in]
    img = np.cos(2 * np.pi * (n_out // 2) * yy / n_in + 0.3)
    out = downscale(img[None], n_out)[0]
    np.testing.assert_allclose(out, resize_real(img[None], n_out)[0], atol=1e-12)
    assert np.abs(out).max() > 0.1


def test_box_views_and_work_buffers_give_the_same_result():
    rng = np.random.default_rng(5)
    mic = rng.normal(size=(300, 320))
    op = downscale_operator(128, 48)
    view = mic[100:228, 150:278]
    assert not view.flags.c_contiguous
    out, work = np.empty((48, 48)), np.empty((128, 48))
    got = downscale_box(view, op, out=out, work=work)
    assert got is out
    np.testing.assert_allclose(got, resize_real(np.ascontiguousarray(view)[None], 48)[0], atol=1e-12)


@pytest.mark.parametrize("n_in,n_out", [(64, 64), (64, 80), (65, 32), (64, 31)])
def test_operator_refuses_sizes_it_cannot_do(n_in, n_out):
    with pytest.raises(ValueError):
        downscale_operator(n_in, n_out)
