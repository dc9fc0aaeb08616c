import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.extraction.normalise import background, normalise_stack, remove_dust


def _naive_normalise(img, radius, ramp=True):
    """Per-image reference: explicit loops over pixels and numpy.linalg.lstsq."""
    s = img.shape[0]
    c = s // 2
    pts, vals = [], []
    for i in range(s):
        for j in range(s):
            if (i - c) ** 2 + (j - c) ** 2 > radius * radius:
                pts.append((j - c, i - c, 1.0))
                vals.append(img[i, j])
    a = np.array(pts, dtype=float)
    v = np.array(vals)
    out = img.astype(float).copy()
    if ramp:
        coef, *_ = np.linalg.lstsq(a, v, rcond=None)
        yy, xx = np.mgrid[0:s, 0:s]
        out -= coef[0] * (xx - c) + coef[1] * (yy - c) + coef[2]
        v = v - a @ coef
    m = v.mean()
    sd = np.sqrt(((v - m) ** 2).mean())
    return (out - m) / sd


def test_background_is_strictly_outside_radius():
    bg = background(8, 3)
    c = 4
    expected = [i * 8 + j for i in range(8) for j in range(8) if (i - c) ** 2 + (j - c) ** 2 > 9]
    assert bg.index.tolist() == expected
    with pytest.raises(BadInputError):
        background(8, 20)


@pytest.mark.parametrize("ramp", [True, False])
def test_matches_naive_reference(ramp):
    rng = np.random.default_rng(3)
    s = 24
    yy, xx = np.mgrid[0:s, 0:s]
    stack = rng.normal(5.0, 2.0, size=(4, s, s)) + 0.3 * xx - 0.2 * yy
    got = normalise_stack(stack, 9, ramp=ramp)
    for k in range(4):
        np.testing.assert_allclose(got[k], _naive_normalise(stack[k], 9, ramp), atol=1e-10)


def test_background_mean_zero_std_one_and_plane_removed():
    rng = np.random.default_rng(4)
    s = 32
    yy, xx = np.mgrid[0:s, 0:s]
    img = 100 + 2.0 * xx - 3.0 * yy + rng.normal(0, 0.5, size=(s, s))
    out = normalise_stack(img[None], 12)[0]
    bg = background(s, 12)
    vals = out.ravel()[bg.index]
    assert abs(vals.mean()) < 1e-10
    assert abs(np.sqrt(np.mean(vals**2)) - 1.0) < 1e-10
    # the gradient is gone: residual correlation with x is ~0
    assert abs(np.corrcoef(out.ravel()[bg.index], (xx.ravel())[bg.index])[0, 1]) < 1e-8


def test_zero_std_image_left_unnormalised():
    s = 16
    yy, xx = np.mgrid[0:s, 0:s]
    plane = 1.0 + 0.5 * xx + 0.25 * yy
    out = normalise_stack(plane[None], 5)[0]
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() < 1e-8  # plane subtracted, then not divided by ~0


def test_dust_replaces_exactly_the_pixels_beyond_threshold():
    rng = np.random.default_rng(5)
    s = 32
    flat = rng.normal(0, 1, size=(3, s * s))
    flat[0, 10] = 40.0
    flat[1, 500] = -40.0
    flat[2, 7] = 25.0
    bg = background(s, 10)
    vals = flat[:, bg.index]
    m = vals.mean(1, keepdims=True)
    sd = vals.std(1, keepdims=True)
    expect_white = (flat - m) > 4.0 * sd
    expect_black = (flat - m) < -4.0 * sd
    before = flat.copy()
    white, black = remove_dust(flat, bg, 4.0, 4.0, np.random.default_rng(0))
    np.testing.assert_array_equal(white, expect_white)
    np.testing.assert_array_equal(black, expect_black & ~white)
    changed = flat != before
    np.testing.assert_array_equal(changed, expect_white | expect_black)
    assert white[0, 10] and black[1, 500] and white[2, 7]
    # replacements are drawn from N(m, sd): no longer outliers
    assert np.abs(flat[changed] - np.broadcast_to(m, flat.shape)[changed]).max() < 6 * sd.max()


def test_dust_off_changes_nothing_and_seed_is_reproducible():
    rng = np.random.default_rng(6)
    stack = rng.normal(size=(2, 20, 20))
    stack[0, 3, 3] = 50
    a = normalise_stack(stack, 7, 3.0, 3.0, rng=np.random.default_rng(11))
    b = normalise_stack(stack, 7, 3.0, 3.0, rng=np.random.default_rng(11))
    c = normalise_stack(stack, 7, 3.0, 3.0, rng=np.random.default_rng(12))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(normalise_stack(stack, 7, -1, -1), normalise_stack(stack, 7))


def test_each_image_independent_of_the_rest_of_the_stack():
    rng = np.random.default_rng(9)
    s = 40
    yy, xx = np.mgrid[0:s, 0:s]
    stack = rng.normal(3.0, 1.5, size=(7, s, s)) + 0.1 * xx
    stack[4] = 2.0  # constant image: sigma below the minimum, left as it is (after the ramp)
    together = normalise_stack(stack, 15)
    for k in range(7):
        np.testing.assert_array_equal(normalise_stack(stack[k : k + 1], 15)[0], together[k])
    np.testing.assert_allclose(together[4], 0.0, atol=1e-12)
