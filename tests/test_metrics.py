"""Pick scoring: matching rules and precision / recall / F1 / AP with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.coords import picks_columns
from cryopick.metrics import match_picks, score_picks

GRID = np.array([[100.0 + 80 * i, 100.0 + 80 * j] for i in range(4) for j in range(3)])  # 12 particles


def _picks(xy, fom=None):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    fom = np.linspace(1.0, 0.5, len(xy)) if fom is None else np.asarray(fom, dtype=float)
    return np.column_stack([xy, fom])


def test_perfect_picks_score_one():
    s = score_picks({"a": GRID, "b": GRID[:5]}, {"a": _picks(GRID), "b": _picks(GRID[:5])}, radius_px=10)
    assert (s.n_true, s.n_picks, s.n_matched) == (17, 17, 17)
    assert s.precision == s.recall == s.f1 == s.average_precision == 1.0
    assert s.per_micrograph["b"].f1 == 1.0


def test_shift_inside_and_outside_radius():
    inside = score_picks({"a": GRID}, {"a": _picks(GRID + [6.0, 8.0])}, radius_px=10.0)  # 10 px away: still in
    assert inside.f1 == 1.0
    outside = score_picks({"a": GRID}, {"a": _picks(GRID + [6.0, 8.1])}, radius_px=10.0)
    assert outside.n_matched == 0 and outside.precision == 0.0 and outside.recall == 0.0 and outside.f1 == 0.0
    assert outside.average_precision == 0.0


def test_missing_picks_give_exact_recall():
    s = score_picks({"a": GRID}, {"a": _picks(GRID[:9])}, radius_px=5)
    assert s.precision == 1.0
    assert s.recall == pytest.approx(9 / 12)
    assert s.f1 == pytest.approx(2 * 9 / (9 + 12))
    assert s.average_precision == pytest.approx(9 / 12)  # precision 1 up to recall 0.75, nothing after


def test_extra_picks_ranked_last_keep_ap_one():
    far = np.array([[1000.0, 1000.0], [1200.0, 50.0], [30.0, 900.0]])
    fom = np.r_[np.full(12, 0.9), np.full(3, 0.1)]
    s = score_picks({"a": GRID}, {"a": _picks(np.vstack([GRID, far]), fom)}, radius_px=5)
    assert s.precision == pytest.approx(12 / 15)
    assert s.recall == 1.0
    assert s.f1 == pytest.approx(24 / 27)
    assert s.average_precision == pytest.approx(1.0)


def test_average_precision_by_hand():
    truth = np.array([[0.0, 0.0], [100.0, 0.0]])
    # ranking: false (0.9), true (0.8), true (0.7): P = 0, 1/2, 2/3 at R = 0, 1/2, 1
    picks = _picks([[50.0, 50.0], [0.0, 1.0], [100.0, 1.0]], [0.9, 0.8, 0.7])
    s = score_picks({"m": truth}, {"m": picks}, radius_px=5)
    assert s.average_precision == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def test_tied_foms_enter_together():
    truth = np.array([[0.0, 0.0]])
    a = score_picks({"m": truth}, {"m": _picks([[0, 0], [40, 40]], [0.5, 0.5])}, radius_px=5)
    b = score_picks({"m": truth}, {"m": _picks([[40, 40], [0, 0]], [0.5, 0.5])}, radius_px=5)
    assert a.average_precision == b.average_precision == pytest.approx(0.5)


def test_duplicate_picks_on_one_particle_count_once():
    truth = np.array([[10.0, 10.0], [200.0, 200.0]])
    picks = _picks([[10.0, 10.0], [12.0, 9.0], [11.0, 11.0]], [0.9, 0.8, 0.7])
    s = score_picks({"m": truth}, {"m": picks}, radius_px=8)
    assert s.n_matched == 1
    assert s.precision == pytest.approx(1 / 3)
    assert s.recall == pytest.approx(1 / 2)


def test_higher_fom_pick_claims_particle_first_and_nearest_is_taken():
    truth = np.array([[0.0, 0.0], [10.0, 0.0]])
    # the best pick sits between both, nearer the second particle
    m = match_picks(truth, np.array([[-1.0, 0.0], [6.0, 0.0]]), np.array([0.1, 0.9]), radius_px=20)
    assert list(m) == [0, 1]
    # a lower-FOM pick closer to a particle does not steal it from a higher-FOM one
    m = match_picks(np.array([[0.0, 0.0]]), np.array([[5.0, 0.0], [1.0, 0.0]]), np.array([0.9, 0.1]), radius_px=8)
    assert list(m) == [0, -1]


def test_micrographs_are_separate_and_missing_sides():
    truth = {"a": np.array([[50.0, 50.0]]), "b": np.array([[50.0, 50.0]])}
    picks = {"a": _picks([[50.0, 50.0]]), "c": _picks([[50.0, 50.0]])}
    s = score_picks(truth, picks, radius_px=5)
    assert s.n_true == 2 and s.n_picks == 2 and s.n_matched == 1
    b, c = s.per_micrograph["b"], s.per_micrograph["c"]
    assert math.isnan(b.precision) and b.recall == 0.0 and b.f1 == 0.0 and b.average_precision == 0.0
    assert c.precision == 0.0 and math.isnan(c.recall) and math.isnan(c.average_precision)
    d = s.to_dict()
    assert d["per_micrograph"]["b"]["precision"] is None


def test_accepts_dataframes_and_two_column_arrays():
    df = picks_columns(GRID[:, 0], GRID[:, 1], np.ones(len(GRID)))
    assert score_picks({"a": GRID}, {"a": df}, 3).f1 == 1.0
    assert score_picks({"a": GRID}, {"a": GRID}, 3).f1 == 1.0
    with pytest.raises(BadInputError):
        score_picks({"a": GRID}, {"a": np.zeros((3, 4))}, 3)
    with pytest.raises(BadInputError):
        score_picks({"a": GRID}, {"a": GRID}, 0)
