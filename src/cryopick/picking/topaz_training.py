"""Training a Topaz network on labelled particles, with topaz's own objective, in memory.

The model, its pretrained initialisation and the objective are topaz's: ``resnet8`` with 32
units initialised from the pretrained network (``topaz train``'s defaults), trained with the
GE-binomial positive-unlabelled objective (``topaz.methods.GE_binomial``, slack 1) and Adam.
The class prior π comes from the expected number of particles per micrograph as in topaz:
``π = (pixels in a disc of the training radius) · n · (training micrographs) / (training pixels)``,
minus the fraction of pixels already labelled.

What differs from ``topaz train`` is around it: micrographs stay in memory (no image and target
lists), minibatches come from one seeded generator (:mod:`cryopick.picking.topaz_sampler`),
and every epoch yields its figures, in the columns of topaz's ``model_training.txt``, for the
caller to save with the model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from cryopick.errors import BadInputError
from cryopick.picking.topaz_sampler import CropSampler, positive_mask

#: The training figures' names (means over an epoch's updates).
TRAIN_FIGURES = ("loss", "ge_penalty", "precision", "adjusted_precision", "tpr", "fpr")
#: topaz train's defaults.
MINIBATCH_BALANCE = 1.0 / 16
SLACK = 1.0


@dataclass(frozen=True)
class TrainingSettings:
    """How long and how fast to train.

    Attributes
    ----------
    nr_epochs : int
    epoch_size : int
        Parameter updates per epoch.
    minibatch_size : int
        Crops per update.
    learning_rate : float
        Adam's step size.
    expected_particles_per_micrograph : int
        Sets the class prior π.
    radius_px : int
        Pixels within this radius (binned px) of a training particle are positives.
    seed : int
    """

    nr_epochs: int = 10
    epoch_size: int = 1000
    minibatch_size: int = 256
    learning_rate: float = 2e-4
    expected_particles_per_micrograph: int = 200
    radius_px: int = 3
    seed: int = 1


@dataclass(frozen=True)
class LabelledMicrograph:
    """A binned, normalised micrograph and its particle centres in binned pixels.

    Attributes
    ----------
    image : np.ndarray, shape (H, W), float32
    xy : np.ndarray, shape (n, 2), int64
        (x = column, y = row).
    """

    image: np.ndarray
    xy: np.ndarray


@dataclass(frozen=True)
class EpochFigures:
    """One epoch: the training figures (means over its updates) and the held-out figures.

    Attributes
    ----------
    epoch : int
        1-based; 0 is the starting network, before any update.
    updates : int
        Parameter updates so far.
    train : dict[str, float]
        ``loss``, ``ge_penalty``, ``precision``, ``adjusted_precision``, ``tpr``, ``fpr``.
    test : dict[str, float]
        ``loss``, ``precision``, ``adjusted_precision``, ``tpr``, ``fpr``, ``auprc`` on the test micrographs.
    model : torch.nn.Module
        The network after this epoch (the live object: save or copy it before the next epoch).
    """

    epoch: int
    updates: int
    train: dict[str, float]
    test: dict[str, float]
    model: Any = field(repr=False)


def class_prior(n_expected: int, radius_px: int, n_micrographs: int, total_pixels: int) -> float:
    """topaz's π for ``n_expected`` particles per micrograph (``topaz.stats.calculate_pi``).

    As in topaz, a particle counts as (2r + 1) times the pixels of its radius-r disc (topaz's
    ``pixels_given_radius`` sums its 2D disc over a third grid axis); the value is kept so that
    training here and with ``topaz train`` optimise the same objective.
    """
    from topaz.stats import calculate_pi

    return float(calculate_pi(n_expected * n_micrographs, radius_px, total_pixels))


def class_prior_terms(masks: Sequence[np.ndarray], settings: TrainingSettings) -> tuple[float, float]:
    """π and the labelled fraction of the training pixels (``masks``: the training micrographs'
    positive masks), checked as topaz checks them.

    Raises
    ------
    BadInputError
        π ≥ 1, or π not above the labelled fraction (the expected number of particles per
        micrograph is too high or too low for the labels).
    """
    r = settings.radius_px
    total = sum(m.size for m in masks)
    p_observed = sum(int(m.sum()) for m in masks) / total
    pi = class_prior(settings.expected_particles_per_micrograph, r, len(masks), total)
    if pi >= 1.0:
        raise BadInputError(f"{settings.expected_particles_per_micrograph} expected particles per micrograph of "
                            f"{r} px radius cover more than the micrographs (π = {pi:.3g} >= 1); lower the number "
                            "of particles per micrograph")
    if pi <= p_observed:
        raise BadInputError(f"the expected {settings.expected_particles_per_micrograph} particles per micrograph are "
                            f"fewer than the labelled ones (π = {pi:.4g} <= labelled fraction {p_observed:.4g}); "
                            "raise the number of particles per micrograph")
    return pi, p_observed


#: The held-out figures' names, as topaz's ``model_training.txt`` names them.
TEST_FIGURES = ("loss", "precision", "adjusted_precision", "tpr", "fpr", "auprc")


@dataclass(frozen=True)
class HeldOut:
    """The held-out (test) micrographs and their positive masks: what topaz's test figures need.

    Attributes
    ----------
    micrographs : sequence of LabelledMicrograph
    labels : np.ndarray, shape (total test pixels,), float32
        The test micrographs' positive masks (pixels within the training radius of a particle),
        flattened in order.
    est_max_precision : float
        Labelled fraction / π: the precision a perfect network would show against the labels.
    """

    micrographs: Sequence[LabelledMicrograph]
    labels: np.ndarray
    est_max_precision: float

    @classmethod
    def build(cls, training: Sequence[LabelledMicrograph], test: Sequence[LabelledMicrograph],
              settings: TrainingSettings) -> "HeldOut":
        masks = [positive_mask(m.image.shape, m.xy, settings.radius_px) for m in training]
        pi, p_observed = class_prior_terms(masks, settings)
        return cls.with_prior(test, settings.radius_px, p_observed / pi)

    @classmethod
    def with_prior(cls, test: Sequence[LabelledMicrograph], radius_px: int, est_max_precision: float) -> "HeldOut":
        labels = np.concatenate([positive_mask(m.image.shape, m.xy, radius_px).ravel() for m in test]) \
            if test else np.zeros(0)
        return cls(list(test), labels.astype(np.float32), est_max_precision)

    def figures(self, model: Any, device: str = "cpu") -> dict[str, float]:
        """topaz's test figures of ``model`` (unfilled; left so, in eval mode), in float32: every pixel
        of every test micrograph scored. NaN when there are no test micrographs."""
        import torch
        from topaz.metrics import average_precision

        if not self.micrographs:
            return dict.fromkeys(TEST_FIGURES, float("nan"))
        model.eval()
        net = copy.deepcopy(model)  # filled (and channels-last on CPU) for scoring; the model itself is untouched
        net.fill()
        memory_format = torch.channels_last if device == "cpu" else torch.contiguous_format
        net.to(memory_format=memory_format)  # same arithmetic, faster CPU convolutions
        scores = []
        with torch.no_grad():
            for m in self.micrographs:
                x = torch.from_numpy(np.ascontiguousarray(m.image, np.float32))[None, None].to(device)
                scores.append(net(x.contiguous(memory_format=memory_format))[0, 0].float().cpu().numpy().ravel())
        s, y = np.concatenate(scores), self.labels
        loss = float(torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(s), torch.from_numpy(y)))
        p = 1.0 / (1.0 + np.exp(-s.astype(np.float64)))
        precision = float(p[y == 1].sum() / p.sum())
        return {"loss": loss, "precision": precision, "adjusted_precision": precision / self.est_max_precision,
                "tpr": float(p[y == 1].mean()), "fpr": float(p[y == 0].mean()), "auprc": float(average_precision(y, s))}


def train(model: Any, training: Sequence[LabelledMicrograph], test: Sequence[LabelledMicrograph],
          settings: TrainingSettings, device: str = "cpu") -> Iterator[EpochFigures]:
    """Train ``model`` in place, yielding each epoch's figures.

    Parameters
    ----------
    model : topaz LinearClassifier
        The starting network (e.g. the pretrained resnet8_u32), unfilled, on ``device``.
    training, test : sequences of LabelledMicrograph
        Test may be empty (then the test figures are NaN).
    settings : TrainingSettings
    device : str
        Where ``model`` is (``cpu`` or ``cuda``); batches are moved there.

    Yields
    ------
    EpochFigures
        First epoch 0: the starting network's held-out figures, before any update (its
        training figures NaN); then one per epoch.
    """
    import torch
    from topaz.methods import GE_binomial

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    masks = [positive_mask(m.image.shape, m.xy, settings.radius_px) for m in training]
    pi, p_observed = class_prior_terms(masks, settings)
    held_out = HeldOut.with_prior(test, settings.radius_px, p_observed / pi)
    yield EpochFigures(0, 0, dict.fromkeys(TRAIN_FIGURES, float("nan")), held_out.figures(model, device), model)
    sampler = CropSampler([m.image for m in training], masks, model.width, MINIBATCH_BALANCE, rng)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    trainer = GE_binomial(model, optimiser, torch.nn.BCEWithLogitsLoss(), pi - p_observed, slack=SLACK)
    updates = 0
    for epoch in range(1, settings.nr_epochs + 1):
        model.train()
        sums = np.zeros(5)
        for _ in range(settings.epoch_size):
            x, y = sampler.batch(settings.minibatch_size)
            sums += np.asarray(trainer.step(x.to(device), y.to(device)), dtype=np.float64)
            updates += 1
        loss, ge, precision, tpr, fpr = sums / settings.epoch_size
        figures = {"loss": loss, "ge_penalty": ge, "precision": precision,
                   "adjusted_precision": precision / held_out.est_max_precision, "tpr": tpr, "fpr": fpr}
        test_figures = held_out.figures(model, device)
        model.train()
        yield EpochFigures(epoch, updates, {k: float(v) for k, v in figures.items()}, test_figures, model)
