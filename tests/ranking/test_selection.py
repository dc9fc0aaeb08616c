"""RELION's rule for which ranked 2D classes pass."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.ranking.selection import SKIPPED_SCORE, select_classes

SCORES = np.array([0.9, 0.2, 0.55, 0.45, SKIPPED_SCORE, 0.5])
COUNTS = np.array([100, 300, 50, 80, 5, 40])


def test_threshold_is_inclusive_and_windowed():
    assert select_classes(SCORES, COUNTS, 0.5).tolist() == [True, False, True, False, False, True]
    assert select_classes(SCORES, COUNTS, 0.5, max_score=0.6).tolist() == [False, False, True, False, False, True]


def test_minimum_particles_adds_classes_by_decreasing_score():
    sel = select_classes(SCORES, COUNTS, 0.5, min_particles=250)  # 190 selected -> add 0.45 (80) -> 270
    assert sel.tolist() == [True, False, True, True, False, True]
    everything = select_classes(SCORES, COUNTS, 0.95, min_particles=10_000)
    assert everything.tolist() == [True, True, True, True, False, True]  # never the unscored class


def test_minimum_classes():
    assert select_classes(SCORES, COUNTS, 0.8, min_classes=3).tolist() == [True, False, True, False, False, True]
    assert select_classes(SCORES, COUNTS, 0.8, min_classes=1).tolist() == [True, False, False, False, False, False]


def test_bad_rules_are_refused():
    with pytest.raises(BadInputError, match="not both"):
        select_classes(SCORES, COUNTS, 0.5, min_particles=10, min_classes=2)
    with pytest.raises(BadInputError, match="above the maximum"):
        select_classes(SCORES, COUNTS, 0.7, max_score=0.6)
    with pytest.raises(BadInputError, match="differ in shape"):
        select_classes(SCORES, COUNTS[:3], 0.5)
