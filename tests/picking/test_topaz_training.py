"""Topaz training in memory: the loss falls on a tiny synthetic set, and a seed fixes everything."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.picking.topaz_training import LabelledMicrograph, TrainingSettings, train


def tiny_set(seed, n=3, shape=(96, 96), particles=8):
    """Dark discs (radius 4 px) at known centres in noise: binned micrographs with their labels."""
    rng = np.random.default_rng(seed)
    out = []
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for _ in range(n):
        image = rng.normal(size=shape)
        xy = np.column_stack([rng.integers(8, shape[1] - 8, particles), rng.integers(8, shape[0] - 8, particles)])
        for x, y in xy:
            image[(xx - x) ** 2 + (yy - y) ** 2 <= 16] -= 2.0
        out.append(LabelledMicrograph(((image - image.mean()) / image.std()).astype(np.float32), xy))
    return out


def run(seed=1, epochs=3, epoch_size=5):
    from cryopick.io.topaz_model import load_pretrained

    model = load_pretrained("resnet8_u32")
    settings = TrainingSettings(nr_epochs=epochs, epoch_size=epoch_size, minibatch_size=64, learning_rate=5e-4,
                                expected_particles_per_micrograph=10, radius_px=2, seed=seed)
    return list(train(model, tiny_set(0), tiny_set(1, n=1), settings))


def test_the_starting_network_is_evaluated_first():
    from cryopick.io.topaz_model import load_pretrained
    from cryopick.picking.topaz_training import HeldOut

    start, first = run(epochs=1)
    assert (start.epoch, start.updates) == (0, 0) and all(np.isnan(v) for v in start.train.values())
    settings = TrainingSettings(expected_particles_per_micrograph=10, radius_px=2)
    again = HeldOut.build(tiny_set(0), tiny_set(1, n=1), settings).figures(load_pretrained("resnet8_u32"))
    assert again == pytest.approx(start.test, rel=1e-5)  # the untouched pretrained network's figures
    assert first.test["auprc"] != start.test["auprc"]


def test_loss_decreases_and_held_out_figures_are_reported():
    rows = run()[1:]
    assert [r.epoch for r in rows] == [1, 2, 3] and rows[-1].updates == 15
    objective = [r.train["loss"] + r.train["ge_penalty"] for r in rows]  # what GE-binomial minimises
    assert objective[2] < objective[1] < objective[0] and objective[2] < 0.5 * objective[0]
    assert set(rows[0].test) == {"loss", "precision", "adjusted_precision", "tpr", "fpr", "auprc"}
    assert 0 < rows[-1].test["auprc"] <= 1


def test_same_seed_same_training():
    a, b, c = (run(seed=s, epochs=1, epoch_size=2)[1:] for s in (4, 4, 5))
    assert a[0].train == b[0].train and a[0].test == b[0].test
    assert a[0].train != c[0].train


def test_fewer_expected_than_labelled_particles_is_an_error():
    from cryopick.io.topaz_model import load_pretrained

    settings = TrainingSettings(nr_epochs=1, epoch_size=1, minibatch_size=8, expected_particles_per_micrograph=1,
                                radius_px=3)
    with pytest.raises(BadInputError, match="particles per micrograph"):
        next(train(load_pretrained("resnet8_u32"), tiny_set(0), [], settings))
    crowded = TrainingSettings(nr_epochs=1, epoch_size=1, minibatch_size=8, expected_particles_per_micrograph=5000,
                               radius_px=3)
    with pytest.raises(BadInputError, match="cover more than the micrographs"):
        next(train(load_pretrained("resnet8_u32"), tiny_set(0), [], crowded))
