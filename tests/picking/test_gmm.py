"""topaz preprocess's mixture fit on a histogram: the same mean and standard deviation as topaz's own fit."""

import numpy as np
import pytest

from cryopick.picking.gmm import fit_dominant_gaussian


def samples():
    rng = np.random.default_rng(3)
    plain = rng.normal(0.2, 1.5, 20000)
    carbon = np.concatenate([rng.normal(3.0, 2.0, 17000), rng.normal(-12.0, 2.0, 3000)])  # a dark carbon strip
    ice = np.concatenate([rng.normal(0.0, 1.0, 18000), rng.normal(6.0, 1.0, 2000)])  # bright ice blobs
    return {"plain": plain, "carbon": carbon, "ice": ice}


@pytest.mark.parametrize("name", ["plain", "carbon", "ice"])
def test_same_fit_as_topaz_norm_fit(name):
    from topaz.stats import norm_fit

    x = samples()[name].astype(np.float32)
    mu_t, std_t = norm_fit(x, alpha=900, beta=1, scale=10.0, num_iters=100)[:2]
    mu, std = fit_dominant_gaussian(x, alpha=900, beta=1, scale=10.0, iterations=100)
    assert abs(mu - mu_t) < 1e-4 * std_t and abs(std - std_t) < 1e-4 * std_t, (mu, std, mu_t, std_t)


def test_the_dominant_component_not_the_outliers_sets_the_scale():
    s = samples()
    mu, std = fit_dominant_gaussian(s["carbon"].astype(np.float32), scale=10.0)
    assert abs(mu - 3.0) < 0.1 and abs(std - 2.0) < 0.1  # not pulled towards the carbon at -12
    assert fit_dominant_gaussian(np.full(100, 2.0)) == (2.0, 0.0)  # constant: no spread to fit
