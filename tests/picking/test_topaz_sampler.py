"""Topaz training crops: labels, centring, rotation, and one seeded generator."""

import numpy as np

from cryopick.picking.topaz_sampler import CropSampler, positive_mask


def test_positive_mask_is_a_disc_around_each_centre_clipped_at_edges():
    m = positive_mask((20, 30), np.array([[5, 4], [0, 19]]), 2)
    assert m.sum() == 13 + 6  # a full radius-2 disc, and a quarter-ish disc at the corner (6 pixels inside)
    assert m[4, 5] and m[4, 7] and not m[4, 8] and m[19, 0]


def sampler(seed, balance=0.5):
    rng = np.random.default_rng(123)
    images = [rng.normal(size=(60, 80)).astype(np.float32) for _ in range(2)]
    centres = [np.array([[20, 30], [60, 15]]), np.array([[40, 40]])]
    for im, c in zip(images, centres):
        for x, y in c:
            im[y, x] = 100.0  # a marker at each particle centre
    masks = [positive_mask(im.shape, c, 0) for im, c in zip(images, centres)]
    return CropSampler(images, masks, 21, balance, np.random.default_rng(seed))


def test_positive_crops_are_centred_on_particles_and_unlabelled_ones_are_not():
    crops, labels = sampler(0).batch(200)
    centre = crops[:, 10, 10].numpy()
    assert 60 < labels.sum() < 140
    assert (centre[labels.numpy() == 1] == 100).all()
    assert (centre[labels.numpy() == 0] != 100).all()


def test_rotations_and_flips_move_what_is_around_the_centre():
    crops, labels = sampler(1, balance=1.0).batch(50)
    assert labels.min() == 1
    offsets = {tuple(np.argwhere(c.numpy() == 100)[0]) for c in crops}
    assert (10, 10) in offsets
    assert len({tuple(c.numpy()[9:12, 9:12].ravel().round(3)) for c in crops}) > 10


def test_same_seed_same_batches():
    a, la = sampler(7).batch(64)
    b, lb = sampler(7).batch(64)
    c, _ = sampler(8).batch(64)
    assert np.array_equal(a.numpy(), b.numpy()) and np.array_equal(la.numpy(), lb.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
