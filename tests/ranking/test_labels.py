"""How a class's label (good or not) is defined from the simulator's truth."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.ranking.labels import LabelRule, label_classes, true_fraction_per_class


def test_true_fraction_per_class_counts_each_classes_particles():
    classes = np.array([1, 1, 1, 1, 2, 2, 4])
    is_true = np.array([1, 1, 1, 0, 0, 0, 1], bool)
    f = true_fraction_per_class(classes, is_true, 4)
    np.testing.assert_allclose(f[[0, 1, 3]], [0.75, 0.0, 1.0])
    assert np.isnan(f[2])  # empty class
    with pytest.raises(BadInputError, match="1..4"):
        true_fraction_per_class(np.array([5]), np.array([True]), 4)
    with pytest.raises(BadInputError, match="truth flags"):
        true_fraction_per_class(classes, is_true[:3], 4)


def test_a_good_class_is_mostly_true_particles_and_looks_like_the_particle():
    fraction = np.array([0.95, 0.95, 0.5, 0.8, np.nan])
    ncc = np.array([0.9, 0.6, 0.95, 0.85, np.nan])  # a clean class, junk-shaped, junk-filled, both at the edge, empty
    labels = label_classes(fraction, ncc)
    assert labels.good.tolist() == [True, False, False, True, False]
    assert labels.labelled.tolist() == [True, True, True, True, False]
    strict = label_classes(fraction, ncc, LabelRule(min_true_fraction=0.9, min_ncc=0.88))
    assert strict.good.tolist() == [True, False, False, False, False]


def test_particles_on_a_true_particle_each_claim_it_once():
    from cryopick.ranking.labels import particles_are_true

    truth = {"a.mrc": np.array([[100.0, 100.0], [300.0, 300.0]]), "b.mrc": np.zeros((0, 2))}
    mics = np.array(["a.mrc", "a.mrc", "a.mrc", "b.mrc", "c.mrc"])
    xy = np.array([[105, 98], [102, 101], [200, 200], [100, 100], [1, 1]], float)
    flags = particles_are_true(mics, xy, truth, radius_px=10)
    assert flags.sum() == 1 and flags[:2].sum() == 1 and not flags[2:].any()  # one claim per true particle
