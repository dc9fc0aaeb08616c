"""Which 2D classes pass: RELION's selection rule for automatically ranked classes (relion_spec.md §5.6).

A class is selected when ``min_score <= score <= max_score``. If the selected classes then hold
fewer particles than ``min_particles`` (or number fewer than ``min_classes``), unselected classes
are added in order of decreasing score until the minimum is met. Particle counts are RELION's
estimates, class distribution × number of particles. Skipped classes (too few particles to
score; score −999) are never added.
"""

from __future__ import annotations

import numpy as np

from cryopick.errors import BadInputError

#: RELION's score for a class it did not score (10 particles or fewer).
SKIPPED_SCORE = -999.0


def select_classes(scores: np.ndarray, particle_counts: np.ndarray, min_score: float, max_score: float = 999.0,
                   min_particles: int = -1, min_classes: int = -1) -> np.ndarray:
    """The selected classes.

    Parameters
    ----------
    scores : np.ndarray, shape (K,)
        rlnClassScore per class (``SKIPPED_SCORE`` for classes not scored).
    particle_counts : np.ndarray, shape (K,)
        Estimated particles per class.
    min_score, max_score : float
        The score window.
    min_particles, min_classes : int
        Top up the selection to at least this many particles / classes (-1: no minimum); at most one may be set.

    Returns
    -------
    np.ndarray, shape (K,), bool
    """
    scores = np.asarray(scores, dtype=np.float64)
    counts = np.asarray(particle_counts, dtype=np.float64)
    if scores.shape != counts.shape or scores.ndim != 1:
        raise BadInputError(f"class scores {scores.shape} and particle counts {counts.shape} differ in shape")
    if min_particles > 0 and min_classes > 0:
        raise BadInputError("give a minimum number of particles or of classes, not both")
    if min_score > max_score:
        raise BadInputError(f"minimum score {min_score} is above the maximum score {max_score}")
    selected = (scores >= min_score) & (scores <= max_score)
    scored = scores != SKIPPED_SCORE
    for k in np.argsort(-scores, kind="stable"):
        short_of_particles = min_particles > 0 and counts[selected].sum() < min_particles
        short_of_classes = min_classes > 0 and selected.sum() < min_classes
        if not (short_of_particles or short_of_classes):
            break
        if scored[k] and not selected[k]:
            selected[k] = True
    return selected
