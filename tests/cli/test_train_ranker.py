"""The ranker's training data: reproducible projects, labelled classes from a real classification, ROC AUC."""

import numpy as np
import pytest

from cryopick.cli.train_ranker import (CROWDED_CONTRAST, CROWDED_COVERAGE, classify_project, is_crowded, project_examples,
                                      project_params, roc_auc)


def test_projects_vary_and_repeat_with_the_seed():
    a, b, c = project_params(0, 1), project_params(0, 1), project_params(1, 1)
    assert a == b and a != c
    assert project_params(10, 1) != project_params(10, 1, crowded=True)  # training projects are never crowded
    diameters = {project_params(k, 1)[1] for k in range(12)}
    assert len(diameters) > 1 and diameters <= {130.0, 170.0, 210.0}


def test_the_benchmark_makes_one_block_of_five_in_three_crowded_at_low_contrast():
    crowded = [k for k in range(90) if is_crowded(k)]
    assert len(crowded) == 30 and {k % 5 for k in crowded} == set(range(5))  # every training shape
    for k in range(15):
        params, diameter = project_params(k, 1, crowded=is_crowded(k))
        area = params.mic_size_px[0] * params.mic_size_px[1] * params.pixel_size_angstrom ** 2
        coverage = params.particles_per_mic * np.pi * (diameter / 2) ** 2 / area
        if is_crowded(k):
            assert CROWDED_COVERAGE[0] - 0.02 <= coverage <= CROWDED_COVERAGE[1] + 0.02
            assert CROWDED_CONTRAST[0] <= params.particle_contrast <= CROWDED_CONTRAST[1]
            assert params.min_separation_diameters == 0.9
        else:
            assert params.particle_contrast >= 0.12 and params.min_separation_diameters == 1.0


def test_roc_auc_counts_ordered_pairs():
    assert roc_auc(np.array([1, 1, 0, 0], bool), np.array([0.9, 0.8, 0.1, 0.2])) == 1.0
    assert roc_auc(np.array([1, 0], bool), np.array([0.1, 0.9])) == 0.0
    assert roc_auc(np.array([1, 0], bool), np.array([0.5, 0.5])) == 0.5
    assert np.isnan(roc_auc(np.array([1, 1], bool), np.array([0.5, 0.6])))


@pytest.mark.slow
def test_one_simulated_project_gives_labelled_examples(tmp_path):
    params, diameter = project_params(0, 1)
    optimiser = classify_project(tmp_path / "p", params, diameter)
    ex = project_examples(tmp_path / "p", optimiser, params)
    n = len(ex["good"])
    assert n >= 2 and ex["features"].shape == (n, 24) and ex["images"].shape == (n, 64, 64)
    assert np.isfinite(ex["features"]).all() and np.isfinite(ex["images"]).all()
    assert ((ex["true_fraction"] >= 0) & (ex["true_fraction"] <= 1)).all()
    # the label is the documented rule, on both ends of the data
    assert np.array_equal(ex["good"], (ex["true_fraction"] >= 0.8) & (ex["ncc"] >= 0.85))
    assert ex["good"].any() and not ex["good"].all()


def test_off_centre_copies_move_the_particle_by_30_to_45_percent_of_the_window():
    from cryopick.cli.train_ranker import off_centre_copies

    y, x = np.mgrid[:64, :64]
    disc = ((x - 32) ** 2 + (y - 32) ** 2 <= 4).astype(np.float32)  # small: stays inside the window
    copies = off_centre_copies(np.stack([disc] * 20), np.random.default_rng(0))
    for c in copies:
        cy, cx = (c * y).sum() / c.sum(), (c * x).sum() / c.sum()
        assert 0.3 * 64 - 1 <= np.hypot(cy - 32, cx - 32) <= 0.45 * 64 + 1
        assert c.sum() == disc.sum()  # moved, not scaled
