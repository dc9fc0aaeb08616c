"""2D classification by expectation–maximisation: the iteration loop.

Each iteration (RELION's ``iterate`` for EM): choose the coarse image size, perturb the
sampling grid, project the references at every coarse and fine angle, run the E-step over the
particles in batches (:mod:`cryopick.classification.expectation`), then the M-step
(:mod:`cryopick.classification.maximization`), and estimate the accuracies of the angular and
translational assignments.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from cryopick.classification.accuracy import expected_accuracies
from cryopick.classification.expectation import (
    IterationSetup,
    WeightedSums,
    expectation_batch,
    log_2pi_sigma2,
)
from cryopick.classification.grid import FourierGrid
from cryopick.classification.maximization import maximize
from cryopick.classification.model import Model, ParticleData, Settings
from cryopick.classification.prepare import prepare_batch
from cryopick.classification.projector import Projector
from cryopick.classification.reconstruct import reference_power
from cryopick.classification.sampling import make_sampling
from cryopick.classification.state import ParticleState

#: Called after each iteration with (iteration, model, state).
IterationCallback = Callable[[int, Model, ParticleState], None]
#: Called during an iteration with (iteration, particles done, particles in all).
BatchCallback = Callable[[int, int, int], None]


def coarse_size(settings: Settings, box: int, pixel_size_angstrom: float, current_size: int) -> int:
    """The coarse pass's image size (RELION's adaptive oversampling, or the E-step limit)."""
    if settings.highres_limit_angstrom > 0:
        return int(min(2 * round(box * pixel_size_angstrom / settings.highres_limit_angstrom), box))
    rotated = (2.0 * settings.psi_step_deg / 360.0) * math.pi * settings.mask_diameter_angstrom
    coarse_res = rotated / 1.5
    return int(min(2 * math.ceil(pixel_size_angstrom * box / coarse_res), current_size))


def _inverse_sigma2(sigma2: torch.Tensor, shells: torch.Tensor, with_origin: bool) -> torch.Tensor:
    inv = 1.0 / sigma2[:, shells].clamp_min(1e-30)
    if not with_origin:
        inv = inv * (shells > 0)
    return inv


def iteration_setup(grid: FourierGrid, model: Model, settings: Settings, pixel: float,
                    rng: np.random.Generator) -> tuple[IterationSetup, torch.Tensor]:
    """Everything fixed during one iteration, and the references' power spectra (τ²)."""
    current = model.current_size
    if settings.highres_limit_angstrom > 0:
        current = coarse_size(settings, grid.box, pixel, current)
    csize = min(coarse_size(settings, grid.box, pixel, current), current)
    shift = float(rng.uniform(-settings.perturb, settings.perturb))
    perturbation = (shift, shift)
    sampling = make_sampling(settings.psi_step_deg, settings.offset_range_px, settings.offset_step_px, perturbation,
                             grid.device, grid.dtype)
    projector = Projector(grid, model.references, settings.pad)
    tau2 = reference_power(projector, current)
    coarse, fine = grid.select(csize), grid.select(current)
    k = model.n_classes
    refs_coarse = projector.project(coarse, sampling.psi_deg).reshape(k * sampling.psi_deg.numel(), -1)
    refs_fine = projector.project(fine, sampling.fine_psi_deg)
    log_prior = torch.where(model.class_prior > 0, torch.log(model.class_prior.clamp_min(1e-300)),
                            torch.full_like(model.class_prior, -torch.inf))
    inv_f = _inverse_sigma2(model.sigma2_noise, fine.shell, with_origin=False)
    setup = IterationSetup(
        grid=grid, sampling=sampling, coarse=coarse, fine=fine,
        refs_coarse=refs_coarse, refs_fine=refs_fine,
        ramps_coarse=grid.phase_ramps(coarse, sampling.shifts_px),
        ramps_fine=grid.phase_ramps(fine, sampling.fine_shifts_px),
        inv_sigma2_coarse=_inverse_sigma2(model.sigma2_noise, coarse.shell, with_origin=False),
        inv_sigma2_fine=inv_f,
        inv_sigma2_sums=_inverse_sigma2(model.sigma2_noise, fine.shell, with_origin=True),
        log2pi_sigma2=log_2pi_sigma2(inv_f),
        log_class_prior=log_prior,
        prior_offsets_angstrom=model.prior_offsets_angstrom,
        sigma2_offset_angstrom2=max(model.sigma2_offset_angstrom2, 1e-6),
        pixel_size_angstrom=pixel,
        scale=model.scale if settings.scale_correction else torch.ones_like(model.scale),
        scale_shells=model.data_vs_prior > 3,
        fine_shells=torch.nn.functional.one_hot(fine.shell, model.sigma2_noise.shape[1]).to(grid.dtype),
        adaptive_fraction=settings.adaptive_fraction,
        max_significant=settings.max_significant,
    )
    return setup, tau2


def run_iteration(grid: FourierGrid, data: ParticleData, model: Model, state: ParticleState, settings: Settings,
                  iteration: int, on_batch: BatchCallback | None = None) -> tuple[Model, ParticleState]:
    """One EM iteration; returns the new model and particle state."""
    rng = np.random.default_rng([settings.seed, iteration])
    pixel = data.pixel_size_angstrom
    setup, tau2 = iteration_setup(grid, model, settings, pixel, rng)
    sums = WeightedSums(setup, max(data.n_optics_groups, 1), max(data.n_groups, 1))
    new_state = state.copy()
    generator = torch.Generator(device=grid.device).manual_seed(settings.seed * 1000 + iteration)
    mask_radius = settings.mask_diameter_angstrom / (2 * pixel)
    for start in range(0, data.n, settings.batch_size):
        idx = np.arange(start, min(start + settings.batch_size, data.n))
        batch = prepare_batch(grid, data, idx, state.offsets_px, state.norm, model.avg_norm, mask_radius,
                              settings.width_mask_edge_px, settings.zero_mask, settings.ctf, settings.ctf_intact_first_peak,
                              model.sigma2_noise, settings.norm_correction, generator)
        new_state.update(idx, expectation_batch(setup, batch, sums, state.norm, model.avg_norm),
                         norm=settings.norm_correction)
        if on_batch is not None:
            on_batch(iteration, int(idx[-1]) + 1, data.n)
    particles_per_group = np.bincount(data.group, minlength=max(data.n_groups, 1))
    new_model, _ = maximize(model, setup, sums, settings, particles_per_group, tau2)
    rot, trans = expected_accuracies(grid, data, new_model, new_state, settings, rng)
    new_model = replace(new_model, accuracy_rotations_deg=rot, accuracy_translations_angstrom=trans,
                        sampling_perturbation=setup.sampling.perturbation)
    return new_model, new_state


def classify(data: ParticleData, settings: Settings, model: Model, state: ParticleState, first_iteration: int,
             grid: FourierGrid, on_iteration: IterationCallback | None = None,
             on_batch: BatchCallback | None = None) -> tuple[Model, ParticleState]:
    """Iterations ``first_iteration`` … ``settings.n_iterations`` from ``model`` and ``state``."""
    for iteration in range(first_iteration, settings.n_iterations + 1):
        model, state = run_iteration(grid, data, model, state, settings, iteration, on_batch)
        if on_iteration is not None:
            on_iteration(iteration, model, state)
    return model, state
