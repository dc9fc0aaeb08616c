"""The shipped scorer orders constructed class averages as a microscopist would.

A clean average of a particle (three views of two different molecules) must score above pure
noise, a carbon edge and an off-centre blob, all given identical class-level values (size,
resolution, accuracies), so only the image decides.
"""

import numpy as np
import pytest

from cryopick.ranking.image_features import lowpass_filter as lowpass
from cryopick.io.ranker_model import load_scorer
from cryopick.ranking.class_features import ModelClass, class_model_features
from cryopick.ranking.image_features import class_image_features
from cryopick.ranking.network_input import ClassFeatures, cnn_image, feature_vector
from cryopick.ranking.scorer import score
from cryopick.sim.density import make_particle_models, project

PIXEL, BOX, MASK = 3.54, 64, 200.0


def smooth_noise(rng, sigma=1.0):
    return lowpass(rng.normal(0, sigma, (BOX, BOX)), PIXEL, 20.0)


def clean(shape, angles, rng):
    model = make_particle_models(170.0, 1, 5, shape=shape)[0]
    image = project(model, angles, PIXEL, BOX)
    return lowpass(image / image.std(), PIXEL, 15.0) + 0.05 * smooth_noise(rng)


def scores_of(images):
    model_class = ModelClass(0.1, 30.0, 5.0, 8.0)
    features = [ClassFeatures(class_model_features(model_class, 1000, BOX, PIXEL),
                              class_image_features(im, PIXEL, MASK)) for im in images]
    net, _ = load_scorer()
    return score(net, np.stack([cnn_image(im, PIXEL, MASK) for im in images]), feature_vector(features))


@pytest.fixture(scope="module")
def averages():
    rng = np.random.default_rng(4)
    good = [clean("asymmetric", (10, 40, 0), rng), clean("asymmetric", (100, 80, 30), rng),
            clean("globular", (0, 20, 0), rng)]
    y, x = np.mgrid[:BOX, :BOX]
    carbon = np.where(x + 0.3 * y > 38, -1.5, 0.5) + 0.3 * smooth_noise(rng)
    blob = np.roll(clean("globular", (0, 0, 0), rng), (0, 22), axis=(0, 1))
    noise = smooth_noise(rng)
    return good, {"noise": noise, "carbon edge": carbon, "off-centre blob": blob}


def test_clean_averages_score_above_noise_carbon_and_an_off_centre_blob(averages):
    good, bad = averages
    s = scores_of(good + list(bad.values()))
    good_scores, bad_scores = s[:len(good)], dict(zip(bad, s[len(good):]))
    assert good_scores.min() > max(bad_scores.values()), (good_scores, bad_scores)
    assert good_scores.min() >= 0.5 and max(bad_scores.values()) < 0.5, (good_scores, bad_scores)
