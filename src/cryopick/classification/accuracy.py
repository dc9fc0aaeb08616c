"""How precisely the data can tell orientations and offsets apart (RELION's ``calculateExpectedAngularErrors``).

For a few particles (10, drawn at random) and each class holding at least 1 % of them: the
reference projected at the particle's current angle, times its CTF, is compared with the same
projection rotated further by ε degrees, or shifted by ε pixels along x or y. ε grows in
RELION's steps until the squared difference, weighted by the noise, ``Σ |F1 − F2|² / 2σ²``,
exceeds −ln 0.01 (a 1 % likelihood ratio); the class's accuracy is the mean ε over the
particles (capped at 30° and 10 pixels). Classes below 1 % report 999.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from cryopick.classification.grid import FourierGrid
from cryopick.classification.model import Model, ParticleData, Settings
from cryopick.classification.prepare import ctf_values
from cryopick.classification.projector import Projector
from cryopick.classification.state import ParticleState

#: The likelihood ratio of 1 %, in units of the log-likelihood.
THRESHOLD = -math.log(0.01)
#: Particles the estimate uses.
N_PARTICLES = 10
#: Steps of ε as (below this, step) pairs, and the caps.
ROTATION_STEPS_DEG = ((0.2, 0.05), (1.0, 0.1), (2.0, 0.2), (5.0, 0.5), (10.0, 1.0), (20.0, 2.0), (math.inf, 5.0))
TRANSLATION_STEPS_PX = ((1.0, 0.1), (2.0, 0.2), (5.0, 0.5), (10.0, 1.0), (math.inf, 2.0))
MAX_ROTATION_DEG = 30.0
MAX_TRANSLATION_PX = 10.0


def candidates(steps: tuple[tuple[float, float], ...], cap: float) -> np.ndarray:
    """The ε values tried in order, up to the first one at or beyond ``cap`` (clipped to it)."""
    out, e = [], 0.0
    while e < cap:
        step = next(s for limit, s in steps if e < limit - 1e-9)
        e = round(e + step, 6)
        out.append(min(e, cap))
    return np.asarray(out)


def _first_above(snr: torch.Tensor, values: np.ndarray) -> np.ndarray:
    """For each row of ``snr`` (..., E), the first ε whose value exceeds the threshold (the last ε if none)."""
    above = (snr > THRESHOLD).cpu().numpy()
    first = np.where(above.any(axis=-1), above.argmax(axis=-1), len(values) - 1)
    return values[first]


def expected_accuracies(grid: FourierGrid, data: ParticleData, model: Model, state: ParticleState, settings: Settings,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Expected accuracy of each class's rotations (degrees) and translations (Å), shapes (K,), (K,)."""
    k = model.n_classes
    rot = np.full(k, 999.0)
    trans = np.full(k, 999.0)
    active = np.nonzero(model.class_prior.cpu().numpy() >= 0.01)[0]
    if data.n == 0 or active.size == 0:
        return rot, trans
    picked = np.sort(rng.choice(data.n, size=min(N_PARTICLES, data.n), replace=False))
    coeffs = grid.select(model.current_size)
    projector = Projector(grid, model.references[torch.as_tensor(active, device=grid.device)], settings.pad)
    ctf = torch.as_tensor(ctf_values(data, picked, grid.box, settings.ctf_intact_first_peak), device=grid.device)
    ctf = ctf.reshape(len(picked), -1)[:, coeffs.index] if settings.ctf else torch.ones(len(picked), len(coeffs),
                                                                                        dtype=grid.dtype, device=grid.device)
    og = torch.as_tensor(data.optics_group[picked], device=grid.device)
    inv = 1.0 / model.sigma2_noise[og][:, coeffs.shell].clamp_min(1e-30) * (coeffs.shell > 0)       # (n, F)
    weight = (ctf**2 * inv / 2.0)[:, None, :]                                                    # (n, 1, F)
    eps_rot = candidates(ROTATION_STEPS_DEG, MAX_ROTATION_DEG)
    eps_sh = candidates(TRANSLATION_STEPS_PX, MAX_TRANSLATION_PX)
    axis = rng.integers(0, 2, size=len(picked))
    shift_vectors = torch.zeros(len(picked), len(eps_sh), 2, dtype=grid.dtype, device=grid.device)
    shift_vectors[torch.arange(len(picked)), :, torch.as_tensor(axis)] = torch.as_tensor(eps_sh, dtype=grid.dtype)
    ramps = torch.stack([grid.phase_ramps(coeffs, shift_vectors[i]) for i in range(len(picked))])  # (n, E, F)
    psi = torch.as_tensor(state.psi_deg[picked], dtype=grid.dtype, device=grid.device)
    eps = torch.as_tensor(eps_rot, dtype=grid.dtype, device=grid.device)
    for j, c in enumerate(active):
        f1 = projector.project(coeffs, psi, slice(j, j + 1))[0]                                     # (n, F)
        angles = (psi[:, None] + eps[None, :]).reshape(-1)
        f2 = projector.project(coeffs, angles, slice(j, j + 1))[0].reshape(len(picked), len(eps_rot), -1)
        snr_rot = ((f1[:, None, :] - f2).abs() ** 2 * weight).sum(dim=-1)
        snr_sh = ((f1[:, None, :] * (1.0 - ramps)).abs() ** 2 * weight).sum(dim=-1)
        rot[c] = float(np.mean(_first_above(snr_rot, eps_rot)))
        trans[c] = float(np.mean(_first_above(snr_sh, eps_sh))) * data.pixel_size_angstrom
    return rot, trans
