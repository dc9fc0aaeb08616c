"""The per-particle hidden variables of 2D classification (numpy only: the file layer uses it without torch)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class ParticleState:
    """The per-particle hidden variables and statistics after an iteration.

    Attributes
    ----------
    offsets_px : np.ndarray, shape (N, 2)
        (x, y): shifting the image by +offset centres it (rlnOriginX/YAngst / pixel size).
    psi_deg, norm : np.ndarray, shape (N,)
    klass : np.ndarray, shape (N,), int
        0-based best class (−1 before the first iteration).
    pmax, log_likelihood : np.ndarray, shape (N,)
    n_significant : np.ndarray, shape (N,), int
    """

    offsets_px: np.ndarray
    psi_deg: np.ndarray
    norm: np.ndarray
    klass: np.ndarray
    pmax: np.ndarray
    log_likelihood: np.ndarray
    n_significant: np.ndarray

    @classmethod
    def initial(cls, n: int, offsets_px: np.ndarray | None = None, norm: np.ndarray | None = None) -> ParticleState:
        return cls(
            offsets_px=np.zeros((n, 2)) if offsets_px is None else np.asarray(offsets_px, dtype=np.float64).copy(),
            psi_deg=np.zeros(n),
            norm=np.ones(n) if norm is None else np.asarray(norm, dtype=np.float64).copy(),
            klass=np.full(n, -1, dtype=np.int64),
            pmax=np.zeros(n),
            log_likelihood=np.zeros(n),
            n_significant=np.zeros(n, dtype=np.int64),
        )

    def copy(self) -> ParticleState:
        """A copy with its own arrays."""
        return ParticleState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def update(self, index: np.ndarray, batch: ParticleState, norm: bool = True) -> None:
        """Write the state of a batch (its rows in ``index`` order) into rows ``index``; ``norm=False`` keeps the norms."""
        for f in fields(self):
            if f.name != "norm" or norm:
                getattr(self, f.name)[index] = getattr(batch, f.name)
