"""Starting point without references (RELION's iteration 0 for reference-free 2D classification).

From the first max(1000 per optics group, 5·K) particles in a seeded random order:

* the noise spectrum: σ²(ν) = ⟨|X(ν)|²⟩/2 − |average image's transform(ν)|²/2 per optics
  group, from the masked images (a non-positive value takes its neighbour's);
* the references: particle j goes to class (j mod K) at a random in-plane angle; each class is
  the CTF-weighted average of its particles at the initial size (shell ROUND(0.07·B), as
  RELION's ini_high), low-passed there and soft-masked to the particle diameter.

The offset prior starts at ``sigma_offset_angstrom``, the norm and scale corrections at 1.
"""

from __future__ import annotations

import numpy as np
import torch

from cryopick.classification.grid import FourierGrid
from cryopick.classification.masks import soft_mask
from cryopick.classification.model import Model, ParticleData, Settings
from cryopick.classification.prepare import prepare_batch, unique_half_plane
from cryopick.classification.projector import BackProjector
from cryopick.classification.reconstruct import plain_average
from cryopick.classification.state import ParticleState


def initial_shell(box: int) -> int:
    """RELION's initial resolution shell, ROUND(0.07·B)."""
    return max(1, round(0.07 * box))


def lowpass(grid: FourierGrid, images: torch.Tensor, shell: float, edge: float = 2.0) -> torch.Tensor:
    """Raised-cosine low-pass: 1 below ``shell − edge/2``, 0 above ``shell + edge/2``."""
    radius = shell - edge / 2
    r = torch.sqrt(grid.kx_full**2 + grid.ky_full**2)
    f = torch.where(r < radius, torch.ones_like(r),
                    torch.where(r > radius + edge, torch.zeros_like(r), 0.5 - 0.5 * torch.cos(torch.pi * (radius + edge - r) / edge)))
    return grid.inverse(grid.forward(images) * f)


def fill_nonpositive(values: torch.Tensor) -> torch.Tensor:
    """Each value <= 0 replaced by the previous positive one (the next one at the start)."""
    out = values.clone()
    positive = torch.nonzero(out > 0).squeeze(1)
    if positive.numel() == 0:
        return out
    for i in range(out.numel()):
        if out[i] <= 0:
            before = positive[positive < i]
            out[i] = out[before[-1]] if before.numel() else out[positive[0]]
    return out


def initialise(data: ParticleData, state: ParticleState, settings: Settings, grid: FourierGrid) -> Model:
    """Iteration 0: noise spectrum, references and priors (see the module docstring)."""
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(data.n)
    per_group = {g: order[data.optics_group[order] == g][:1000] for g in range(data.n_optics_groups)}
    chosen = np.concatenate(list(per_group.values()))
    if len(chosen) < min(5 * settings.n_classes, data.n):
        chosen = order[: min(5 * settings.n_classes, data.n)]
    chosen = np.sort(chosen)
    k = settings.n_classes
    pixel = data.pixel_size_angstrom
    mask_radius = settings.mask_diameter_angstrom / (2 * pixel)
    zeros_sigma = torch.zeros(max(data.n_optics_groups, 1), grid.n_shells, dtype=grid.dtype, device=grid.device)
    shell0 = initial_shell(grid.box)
    size0 = 2 * shell0
    coeffs = grid.select(size0)
    bp = BackProjector(grid, k, settings.pad)
    spectrum = torch.zeros_like(zeros_sigma)
    counts = torch.zeros(zeros_sigma.shape[0], dtype=grid.dtype, device=grid.device)
    average = torch.zeros(zeros_sigma.shape[0], grid.box * (grid.box // 2 + 1), dtype=grid.cdtype, device=grid.device)
    shells = grid.shell_full.reshape(-1)
    in_range = shells < grid.n_shells
    shell_pixels = torch.zeros(grid.n_shells, dtype=grid.dtype, device=grid.device).index_add_(
        0, shells[in_range], torch.ones_like(shells[in_range], dtype=grid.dtype))
    rank = {int(p): j for j, p in enumerate(order)}
    psi_all = rng.uniform(0.0, 360.0, data.n)
    for start in range(0, len(chosen), settings.batch_size):
        idx = chosen[start:start + settings.batch_size]
        b = prepare_batch(grid, data, idx, state.offsets_px, state.norm, 1.0, mask_radius, settings.width_mask_edge_px,
                          True, settings.ctf, settings.ctf_intact_first_peak, zeros_sigma, settings.norm_correction)
        power = torch.zeros(len(idx), grid.n_shells, dtype=grid.dtype, device=grid.device)
        power.index_add_(1, shells[in_range], b.masked[:, in_range].abs() ** 2)
        spectrum.index_add_(0, b.optics_group, power / shell_pixels.clamp_min(1))
        counts.index_add_(0, b.optics_group, torch.ones(len(idx), dtype=grid.dtype, device=grid.device))
        average.index_add_(0, b.optics_group, b.masked)
        klass = torch.as_tensor([rank[int(p)] % k for p in idx], device=grid.device)
        for c in torch.unique(klass).tolist():
            sel = torch.nonzero(klass == c).squeeze(1)
            x = b.masked[sel][:, coeffs.index]
            ctf = b.ctf[sel][:, coeffs.index]
            angles = torch.as_tensor(psi_all[idx[sel.cpu().numpy()]], dtype=grid.dtype, device=grid.device)
            one = BackProjector(grid, 1, settings.pad)
            one.insert(coeffs, angles, (ctf * x)[None], (ctf * ctf)[None])
            bp.data[c] += one.data[0]
            bp.weight[c] += one.weight[0]
    sigma2 = zeros_sigma.clone()
    for g in range(sigma2.shape[0]):
        if counts[g] <= 0:
            continue
        avg = average[g] / counts[g]
        ps_avg = torch.zeros(grid.n_shells, dtype=grid.dtype, device=grid.device).index_add_(
            0, shells[in_range], avg[in_range].abs() ** 2) / shell_pixels.clamp_min(1)
        sigma2[g] = fill_nonpositive(spectrum[g] / (2 * counts[g]) - ps_avg / 2)
    active = bp.weight.sum(dim=1) > 0
    refs = plain_average(grid, bp, size0, active)
    refs = lowpass(grid, refs, shell0)
    refs = refs * soft_mask(grid.box, mask_radius, settings.width_mask_edge_px, grid.device, grid.dtype)
    ps = torch.zeros(k, grid.n_shells, dtype=grid.dtype, device=grid.device)
    ft = grid.forward(refs).reshape(k, -1)
    uniq = unique_half_plane(grid) & in_range
    ps.index_add_(1, shells[uniq], ft[:, uniq].abs() ** 2)
    ps = ps / grid.pixels_per_shell().clamp_min(1)
    tau2 = settings.tau2_fudge * ps / 2
    avg_sigma2 = sigma2.mean(dim=0).clamp_min(1e-30)
    data_vs_prior = tau2 * data.n / k / avg_sigma2
    n_groups = max(data.n_groups, 1)
    return Model(
        references=refs,
        class_prior=torch.full((k,), 1.0 / k, dtype=grid.dtype, device=grid.device),
        prior_offsets_angstrom=torch.zeros(k, 2, dtype=grid.dtype, device=grid.device),
        sigma2_offset_angstrom2=settings.sigma_offset_angstrom**2,
        sigma2_noise=sigma2,
        tau2=tau2,
        data_vs_prior=data_vs_prior,
        fourier_coverage=torch.zeros_like(tau2),
        sigma2_class=torch.zeros_like(tau2),
        avg_norm=1.0,
        scale=torch.ones(n_groups, dtype=grid.dtype, device=grid.device),
        current_size=int(min(2 * (shell0 + settings.incr_size), grid.box)),
        resolution_shell=shell0,
        accuracy_rotations_deg=np.full(k, 999.0),
        accuracy_translations_angstrom=np.full(k, 999.0),
    )
