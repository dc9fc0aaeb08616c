"""The class ranker's view of a real Class2D job, and the network inputs computed from it."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.paths import ProjectPaths
from cryopick.ranking.class_features import class_model_features, is_ranked, particle_count
from cryopick.ranking.image_features import class_image_features
from cryopick.ranking.network_input import ClassFeatures, cnn_image, feature_vector
from cryopick.stages.rank_inputs import read_rank_inputs


def test_reads_the_classification_and_gives_the_networks_inputs(classified):
    inputs = read_rank_inputs(ProjectPaths(classified), "Class2D/job006/run_it002_optimiser.star")
    assert inputs.model_star == "Class2D/job006/run_it002_model.star" and inputs.diameter_angstrom == 200
    assert inputs.averages.shape == (3, 64, 64) and inputs.pixel_size_angstrom == pytest.approx(3.54)
    assert inputs.ctf_corrected and not inputs.ignore_ctf_until_first_peak
    assert sum(c.class_distribution for c in inputs.classes) == pytest.approx(1.0, abs=1e-3)
    counts = np.bincount(inputs.particle_classes, minlength=4)[1:]
    estimated = [particle_count(c.class_distribution, inputs.n_particles) for c in inputs.classes]
    # RELION estimates class sizes from the (soft) class distribution, not from the hard assignments
    assert sum(estimated) == pytest.approx(inputs.n_particles, rel=1e-3) and counts.sum() == inputs.n_particles
    ranked = [k for k, n in enumerate(estimated) if is_ranked(n)]
    assert ranked
    features = [ClassFeatures(class_model_features(inputs.classes[k], inputs.n_particles, 64, inputs.pixel_size_angstrom),
                              class_image_features(inputs.averages[k], inputs.pixel_size_angstrom, inputs.diameter_angstrom))
                for k in ranked]
    vectors = feature_vector(features)
    assert vectors.shape == (len(ranked), 24) and np.isfinite(vectors).all()
    image = cnn_image(inputs.averages[ranked[0]], inputs.pixel_size_angstrom, inputs.diameter_angstrom)
    assert image.shape == (64, 64) and np.isfinite(image).all() and image.std() > 0


def test_a_file_that_is_not_an_optimiser_file_is_refused(classified):
    with pytest.raises(BadInputError, match="optimiser_general"):
        read_rank_inputs(ProjectPaths(classified), "Class2D/job006/run_it002_model.star")
