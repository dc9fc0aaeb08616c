"""The M-step: class averages and every other parameter from one iteration's weighted sums.

RELION's ``maximization`` and ``maximizationOtherParameters`` (EM): the MAP reconstruction of
each non-empty class; the class distribution; the per-class prior offsets (RELION divides their
sums by the total weight, not the class's, and so does this); the offset prior's variance
(sum / 2·total weight); the noise spectrum per optics group (sum / (2·weight·pixels per
shell), a vanishing value replaced by the previous shell's); the average norm correction; the
scale correction per group (XA/AA, clipped to [median/5, 5·median], renormalised to a
particle-weighted mean of 1). Then the classes are centred (centre of mass of the positive
pixels, at most the offset range away) and flattened outside the mask, and the next
iteration's image size follows the resolution where any class's SSNR drops below 1.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from cryopick.classification.expectation import IterationSetup, WeightedSums
from cryopick.classification.grid import FourierGrid
from cryopick.classification.masks import soft_mask
from cryopick.classification.model import Model, Settings
from cryopick.classification.projector import BackProjector, symmetrise
from cryopick.classification.reconstruct import Reconstruction, reconstruct


def scale_corrections(xa: torch.Tensor, aa: torch.Tensor, particles_per_group: np.ndarray) -> torch.Tensor:
    """Per-group intensity scale: XA/AA (1 without data), clipped around the median, mean 1 per particle."""
    s = torch.where(aa > 0, xa / aa.clamp_min(1e-300), torch.ones_like(xa)).cpu().numpy()
    median = np.sort(s)[len(s) // 2]
    s = np.clip(s, median / 5.0, median * 5.0)
    w = np.asarray(particles_per_group, dtype=np.float64)
    s = s / (np.sum(w * s) / np.sum(w)) if np.sum(w) > 0 else s
    return torch.as_tensor(s, dtype=xa.dtype, device=xa.device)


def noise_spectrum(sums: WeightedSums, pixels_per_shell: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """σ² per optics group and shell from the iteration's sums, shape (G, n_shells)."""
    out = previous.clone()
    for g in range(sums.sigma2.shape[0]):
        w = float(sums.sumw_optics[g])
        if w <= 0 or float(sums.sigma2[g].sum()) <= 0:
            continue
        s2 = sums.sigma2[g] / (2.0 * w * pixels_per_shell.clamp_min(1))
        for i in range(1, s2.numel()):
            if s2[i] < 1e-14:
                s2[i] = s2[i - 1]
        out[g] = s2
    return out


def shift_images(images: torch.Tensor, shifts_px: torch.Tensor) -> torch.Tensor:
    """Translate images by (x, y) pixels with bilinear interpolation, zero outside. (K, B, B)."""
    _k, b, _ = images.shape
    idx = torch.arange(b, device=images.device, dtype=images.dtype)
    y, x = torch.meshgrid(idx, idx, indexing="ij")
    gx = (x[None] - shifts_px[:, 0, None, None]) / (b - 1) * 2 - 1
    gy = (y[None] - shifts_px[:, 1, None, None]) / (b - 1) * 2 - 1
    grid = torch.stack([gx, gy], dim=-1)
    return torch.nn.functional.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros",
                                           align_corners=True)[:, 0]


def centre_classes(images: torch.Tensor, max_shift_px: float) -> torch.Tensor:
    """Move each class's centre of mass (positive pixels only) to the box centre, by at most ``max_shift_px``."""
    b = images.shape[-1]
    pos = images.clamp_min(0)
    idx = torch.arange(b, device=images.device, dtype=images.dtype) - b // 2
    mass = pos.sum(dim=(-2, -1))
    safe = mass.clamp_min(1e-30)
    com = torch.stack([(pos * idx[None, None, :]).sum(dim=(-2, -1)) / safe,
                       (pos * idx[None, :, None]).sum(dim=(-2, -1)) / safe], dim=1)
    com = torch.where((mass > 0)[:, None], com, torch.zeros_like(com))
    length = torch.linalg.norm(com, dim=1, keepdim=True)
    com = torch.where(length > max_shift_px, com * (max_shift_px / length.clamp_min(1e-30)), com)
    return shift_images(images, -com)


def next_image_size(data_vs_prior: torch.Tensor, active: torch.Tensor, box: int, minres_map: int, incr_size: int
                    ) -> tuple[int, int]:
    """(resolution shell, next current size): the last shell before any class's SSNR drops below 1, plus incr_size."""
    best = minres_map
    half = box // 2
    for k in torch.nonzero(active).squeeze(1).tolist():
        below = torch.nonzero(data_vs_prior[k, 1:half] < 1).squeeze(1)
        ires = int(below[0]) + 1 if below.numel() else half
        best = max(best, ires - 1)
    best = max(best, minres_map)
    return best, int(min(2 * (best + incr_size), box))


def maximize(model: Model, setup: IterationSetup, sums: WeightedSums, settings: Settings, particles_per_group: np.ndarray,
             tau2: torch.Tensor) -> tuple[Model, Reconstruction]:
    """The new model (see the module docstring) and the reconstruction it came from.

    Parameters
    ----------
    tau2 : torch.Tensor, shape (K, n_shells)
        The power spectra of this iteration's references (the prior of their reconstruction).
    """
    grid: FourierGrid = setup.grid
    k, r2, ff = setup.refs_fine.shape
    bp = BackProjector(grid, k, settings.pad)
    bp.insert(setup.fine, setup.sampling.fine_psi_deg, sums.data.reshape(k, r2, ff), sums.weight.reshape(k, r2, ff))
    symmetrise(bp)
    sum_weight = float(sums.class_weight.sum())
    active = (model.class_prior > 0) & (sums.class_weight > 0) & (bp.weight.sum(dim=1) > 1e-12)
    rec = reconstruct(bp, tau2, settings.tau2_fudge, model.current_size, settings.minres_map, active)
    class_prior = sums.class_weight / max(sum_weight, 1e-30)
    class_prior = class_prior / class_prior.sum().clamp_min(1e-30)
    prior_offsets = torch.where((sums.class_weight > 0)[:, None], sums.offset_sum_angstrom / max(sum_weight, 1e-30),
                                torch.zeros_like(sums.offset_sum_angstrom))
    pixel = setup.pixel_size_angstrom
    images = rec.images
    if settings.center_classes:
        images = centre_classes(images, settings.offset_range_px)
    solvent = soft_mask(grid.box, settings.mask_diameter_angstrom / (2 * pixel), settings.width_mask_edge_px,
                        grid.device, grid.dtype)
    images = images * solvent
    resolution_shell, current_size = next_image_size(rec.data_vs_prior, active, grid.box, settings.minres_map,
                                                     settings.incr_size)
    new = replace(
        model,
        references=images,
        class_prior=class_prior,
        prior_offsets_angstrom=prior_offsets,
        sigma2_offset_angstrom2=sums.sigma2_offset / (2.0 * max(sum_weight, 1e-30)),
        sigma2_noise=noise_spectrum(sums, grid.pixels_per_shell(), model.sigma2_noise),
        tau2=tau2,
        data_vs_prior=rec.data_vs_prior,
        fourier_coverage=rec.coverage,
        sigma2_class=rec.sigma2_class,
        avg_norm=sums.norm_sum / max(sum_weight, 1e-30) if settings.norm_correction else model.avg_norm,
        scale=scale_corrections(sums.xa, sums.aa, particles_per_group).to(grid.dtype)
        if settings.scale_correction else model.scale,
        current_size=current_size,
        iteration_size=setup.fine.size,
        resolution_shell=resolution_shell,
        log_likelihood=sums.log_likelihood,
        average_pmax=sums.pmax_sum / max(sum_weight, 1e-30),
    )
    return new, rec
