"""The held-out test set of Topaz training, chosen as RELION's wrapper chooses it (relion_spec.md §6.4).

RELION shuffles the training micrographs (``MetaDataTable::randomiseOrder``: libstdc++'s
``std::random_shuffle`` drawing from glibc's ``rand()``, seeded with ``--random_seed``), then
walks them in that order: even positions go to the training set and odd ones to the test set
until the test set holds more than ``test_ratio`` of all picks; every later micrograph trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cryopick.errors import BadInputError
from cryopick.picking.relion_random import glibc_rand


def relion_shuffle(n: int, seed: int) -> np.ndarray:
    """The permutation ``std::random_shuffle`` applies to ``n`` items after ``srand(seed)``.

    Returns
    -------
    np.ndarray, shape (n,), int64
        ``order[k]`` = original index of the item at position ``k``.
    """
    order = np.arange(n, dtype=np.int64)
    if n < 2:
        return order
    draws = glibc_rand(seed, n - 1)
    for i in range(1, n):
        j = int(draws[i - 1]) % (i + 1)
        if i != j:
            order[i], order[j] = order[j], order[i]
    return order


@dataclass(frozen=True)
class TrainTestSplit:
    """Indices (into the input order) of the training and the held-out micrographs."""

    train: tuple[int, ...]
    test: tuple[int, ...]


def split_micrographs(picks_per_micrograph: Sequence[int], test_ratio: float, seed: int) -> TrainTestSplit:
    """RELION's train/test split of micrographs holding ``picks_per_micrograph`` picks each.

    Raises
    ------
    BadInputError
        Either set would hold no picks (too few micrographs, or a zero ratio).
    """
    counts = np.asarray(picks_per_micrograph, dtype=np.int64)
    total = int(counts.sum())
    train, test = [], []
    n_test = 0
    for position, index in enumerate(relion_shuffle(len(counts), seed)):
        if position % 2 == 1 and n_test <= test_ratio * total:
            test.append(int(index))
            n_test += int(counts[index])
        else:
            train.append(int(index))
    n_train = total - n_test
    if n_train == 0 or n_test == 0:
        raise BadInputError(f"cannot hold out a test set: {len(counts)} micrographs with {total} picks give "
                            f"{n_train} training and {n_test} test picks (test ratio {test_ratio:g}); "
                            "train on more micrographs")
    return TrainTestSplit(tuple(train), tuple(test))
