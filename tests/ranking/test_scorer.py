"""The class scorer network: shapes, scores in [0, 1], a seed fixes it, and it can learn a simple rule."""

import numpy as np

from cryopick.ranking.scorer import build_scorer, score, standardise_images


def test_scores_are_probabilities_and_the_seed_fixes_the_network():
    rng = np.random.default_rng(0)
    images, features = rng.normal(size=(5, 64, 64)), rng.normal(size=(5, 24))
    a, b, c = (score(build_scorer(seed=s), images, features) for s in (1, 1, 2))
    assert a.shape == (5,) and ((a > 0) & (a < 1)).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_images_are_standardised_per_class():
    x = standardise_images(np.stack([np.full((64, 64), 7.0), np.arange(64 * 64, dtype=float).reshape(64, 64) * 3 + 2]))
    assert x.shape == (2, 1, 64, 64) and x.dtype == np.float32
    assert np.all(x[0] == 0) and abs(x[1].mean()) < 1e-5 and abs(x[1].std() - 1) < 1e-5


def test_a_few_steps_learn_to_prefer_a_centred_disc_over_noise():
    import torch

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :64]
    disc = ((xx - 32) ** 2 + (yy - 32) ** 2 < 15 ** 2).astype(float)
    good = disc[None] + 0.3 * rng.normal(size=(16, 64, 64))
    bad = 0.3 * rng.normal(size=(16, 64, 64))
    images = np.concatenate([good, bad])
    labels = torch.tensor([1.0] * 16 + [0.0] * 16)
    features = np.zeros((32, 24), np.float32)
    model = build_scorer(seed=0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, f = torch.from_numpy(standardise_images(images)), torch.from_numpy(features)
    for _ in range(30):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, f), labels)
        loss.backward()
        optimiser.step()
    test_good = disc[None] + 0.3 * rng.normal(size=(4, 64, 64))
    test_bad = 0.3 * rng.normal(size=(4, 64, 64))
    s = score(model, np.concatenate([test_good, test_bad]), np.zeros((8, 24)))
    assert s[:4].min() > s[4:].max()
