"""cryopick's non-maximum suppression gives topaz's picks: same pixels, same order, same scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from topaz.algorithms import non_maximum_suppression as topaz_nms

from cryopick.picking.nms import non_maximum_suppression


def _maps():
    rng = np.random.default_rng(4)
    noise = rng.normal(size=(97, 120)).astype(np.float32)
    yield "noise", noise
    yield "smooth", gaussian_filter(noise, 3.0)
    yield "ties", rng.integers(0, 5, size=(64, 80)).astype(np.float32)       # many equal scores
    edge = np.full((50, 60), -5.0, np.float32)
    edge[10, 59] = edge[30, 58] = 3.0                                         # discs crossing the right edge
    edge[11, 0] = edge[31, 0] = 2.0                                           # ... and column 0 just below them
    yield "right edge", edge


@pytest.mark.parametrize("radius", [1, 4, 9])
@pytest.mark.parametrize("threshold", [-np.inf, 0.0, -6.0])
def test_picks_equal_topaz(radius, threshold):
    for name, scores in _maps():
        want_scores, want_coords = topaz_nms(scores, radius, threshold=threshold)
        got_scores, got_coords = non_maximum_suppression(scores, radius, threshold=threshold)
        np.testing.assert_array_equal(got_coords, want_coords, err_msg=name)
        np.testing.assert_array_equal(got_scores, want_scores, err_msg=name)
        assert got_coords.dtype == np.int32 and got_scores.dtype == np.float32


def test_picks_are_at_least_a_radius_apart_and_above_threshold():
    scores = gaussian_filter(np.random.default_rng(1).normal(size=(200, 180)), 2.0)
    got_scores, coords = non_maximum_suppression(scores, 6, threshold=0.0)
    assert len(coords) > 20 and (got_scores > 0).all()
    d2 = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    assert d2[np.triu_indices(len(coords), 1)].min() > 36
