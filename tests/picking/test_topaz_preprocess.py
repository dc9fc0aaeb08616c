"""Topaz's working scale and micrograph preparation: RELION's formulas, Fourier binning, seeded GMM."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.picking.topaz_geometry import TopazGeometry, relion_round
from cryopick.picking.topaz_preprocess import fourier_bin, gmm_normalise, micrograph_rng, normalise, prepare_micrograph


def test_geometry_follows_relions_wrapper():
    g = TopazGeometry.for_particle(180.0, 1.77)  # the tutorial: 101.7 px particles
    assert (g.downscale, g.train_radius_px, g.pick_radius_px) == (4, relion_round(101.69 / 32), relion_round(101.69 / 8))
    assert (g.train_radius_px, g.pick_radius_px) == (3, 13)
    fine = TopazGeometry.for_particle(180.0, 0.885)  # 203 px: 2*203/71 = 5.7 -> bin by 6
    assert fine.downscale == 6 and fine.pick_radius_px == relion_round(203.39 / 12)
    assert TopazGeometry.for_particle(180.0, 1.77, downscale=2, radius_px=7) == TopazGeometry(2, 7, 7)
    assert relion_round(2.5) == 3 and relion_round(-2.5) == -3
    with pytest.raises(BadInputError, match="diameter"):
        TopazGeometry.for_particle(0.0, 1.0)
    with pytest.raises(BadInputError, match="bin less"):
        TopazGeometry.for_particle(10.0, 5.0)


def test_fourier_binning_keeps_low_frequencies_and_drops_high_ones():
    y, x = np.mgrid[:128, :96]
    low = np.cos(2 * np.pi * 3 * x / 96) + 0.5 * np.sin(2 * np.pi * 2 * y / 128) + 7.0
    high = np.cos(2 * np.pi * 40 * x / 96)  # beyond the binned Nyquist (12 cycles)
    b = fourier_bin(low + high, 4)
    yb, xb = np.mgrid[:32, :24]
    expected = np.cos(2 * np.pi * 3 * xb / 24) + 0.5 * np.sin(2 * np.pi * 2 * yb / 32) + 7.0
    assert b.shape == (32, 24) and b.dtype == np.float32
    np.testing.assert_allclose(b, expected, atol=1e-4)


def test_relion_normalisation_and_seeded_gmm():
    rng = np.random.default_rng(0)
    image = rng.normal(3.0, 2.0, (400, 420)).astype(np.float32)
    image[:, :60] -= 15.0  # a dark strip (carbon): it shifts mean/std, not the GMM's dominant component
    r = normalise(image)
    assert abs(r.mean()) < 1e-5 and abs(r.std() - 1) < 1e-5
    g = gmm_normalise(image, micrograph_rng(1, "mic_001.mrc"))
    main = g[:, 60:]
    assert abs(main.mean()) < 0.05 and abs(main.std() - 1) < 0.05  # the ice area is standardised
    from topaz.stats import normalize

    np.random.seed(0)  # topaz samples pixels from numpy's global generator: fixed here, or 1 run in 25 differs by > 0.02
    topaz_x, _ = normalize(image, alpha=900, beta=1, num_iters=100, sample=10)  # topaz preprocess
    np.testing.assert_allclose(g, topaz_x, rtol=0.02, atol=0.02)
    again = gmm_normalise(image, micrograph_rng(1, "mic_001.mrc"))
    assert np.array_equal(g, again)  # same seed and name: identical (topaz's own sampling is unseeded)
    other = gmm_normalise(image, micrograph_rng(2, "mic_001.mrc"))
    assert not np.array_equal(g, other) and np.allclose(g, other, atol=0.05)
    assert np.array_equal(prepare_micrograph(image, 1, "relion"), r)
    with pytest.raises(ValueError, match="normalisation"):
        prepare_micrograph(image, 1, "zscore")
