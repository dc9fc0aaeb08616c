"""The MAP reconstruction of each class and the statistics RELION derives from it.

``A(f) = Σ p·CTF·X/σ² / (Σ p·CTF²/σ² + 1/(pad²·T·τ²))`` on the padded grid (RELION's
``BackProjector::reconstruct`` with ``do_map``): the prior's precision 1/(T·τ²), scaled by
1/pad² as the bilinear splatting spreads each datum's weight over pad² padded pixels, is
added from shell ``minres_map`` on. Instead of iterative gridding (skipped by default in
RELION 4), each voxel is divided by max(weight, shell-mean weight / 1000). The real-space
image is windowed to the box, soft-masked at the box edge and gridding-corrected.

From the same weights: the data-versus-prior ratio per shell (rlnSsnrMap, which sets the
next resolution), the fraction of voxels where it exceeds 1 (rlnFourierCompleteness) and the
mean inverse weight (rlnReferenceSigma2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cryopick.classification.grid import FourierGrid
from cryopick.classification.masks import mask_with_background, soft_mask
from cryopick.classification.projector import (
    BackProjector,
    Projector,
    gridding_correction,
)


@dataclass
class Reconstruction:
    """Class averages and their per-shell statistics.

    Attributes
    ----------
    images : torch.Tensor, shape (K, B, B)
    data_vs_prior, coverage, sigma2_class : torch.Tensor, shape (K, n_shells)
    """

    images: torch.Tensor
    data_vs_prior: torch.Tensor
    coverage: torch.Tensor
    sigma2_class: torch.Tensor


def _padded_radius(bp: BackProjector) -> torch.Tensor:
    p = bp.rows
    rows = torch.arange(p, device=bp.grid.device)
    ky = torch.where(rows <= p // 2, rows, rows - p).to(bp.grid.dtype)[:, None]
    kx = torch.arange(p // 2 + 1, device=bp.grid.device, dtype=bp.grid.dtype)[None, :]
    return torch.sqrt(kx**2 + ky**2).reshape(-1)


def reference_power(projector: Projector, current_size: int) -> torch.Tensor:
    """τ²: each reference's power per shell, mean |F|²/2 over its padded transform (RELION's tau2_class).

    Returns
    -------
    torch.Tensor, shape (K, n_shells)
    """
    grid, pad = projector.grid, projector.pad
    p = projector.rows
    rows = torch.arange(p, device=grid.device)
    ky = torch.where(rows <= p // 2, rows, rows - p).to(grid.dtype)[:, None]
    kx = torch.arange(p // 2 + 1, device=grid.device, dtype=grid.dtype)[None, :]
    r = torch.sqrt(kx**2 + ky**2).reshape(-1)
    inside = r**2 <= round(current_size / 2 * pad) ** 2
    ires = torch.round(r / pad).to(torch.int64)
    keep = inside & (ires < grid.n_shells)
    power = (projector.fpad[:, keep].abs() ** 2) * 0.5
    total = torch.zeros(power.shape[0], grid.n_shells, dtype=grid.dtype, device=grid.device)
    total.index_add_(1, ires[keep], power)
    count = torch.zeros(grid.n_shells, dtype=grid.dtype, device=grid.device).index_add_(
        0, ires[keep], torch.ones_like(ires[keep], dtype=grid.dtype))
    return torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))


def reconstruct(bp: BackProjector, tau2: torch.Tensor, tau2_fudge: float, current_size: int, minres_map: int,
                active: torch.Tensor, do_map: bool = True) -> Reconstruction:
    """MAP class averages from the back-projected sums (see the module docstring).

    Parameters
    ----------
    tau2 : torch.Tensor, shape (K, n_shells)
    active : torch.Tensor, shape (K,), bool
        Classes to reconstruct; the others (empty classes) get zero images and statistics.
    do_map : bool
        False: no prior (the initial references are plain weighted averages).
    """
    grid, pad = bp.grid, bp.pad
    n = grid.n_shells
    r = _padded_radius(bp)
    r_max = current_size / 2
    inside = r**2 < round(r_max * pad) ** 2
    ires = torch.round(r / pad).to(torch.int64).clamp(max=n - 1)
    k = bp.weight.shape[0]
    weight = bp.weight
    t2 = tau2[:, ires]                                                            # (K, P)
    ratio = torch.where(t2 > 0, weight * (pad * pad * tau2_fudge) * t2, torch.zeros_like(weight))
    ratio = ratio * inside
    count = torch.zeros(n, dtype=grid.dtype, device=grid.device).index_add_(0, ires[inside], torch.ones_like(r[inside]))
    sums = torch.zeros(k, n, dtype=grid.dtype, device=grid.device)
    data_vs_prior = sums.clone().index_add_(1, ires[inside], ratio[:, inside]) / count.clamp_min(1)
    coverage = sums.clone().index_add_(1, ires[inside], (ratio[:, inside] >= 1).to(grid.dtype)) / count.clamp_min(1)
    inv_w = sums.clone().index_add_(1, ires[inside], pad * pad * weight[:, inside])
    sigma2_class = torch.where(inv_w > 0, count / inv_w.clamp_min(1e-30), torch.zeros_like(inv_w))
    shell_ok = torch.arange(n, device=grid.device) <= r_max
    data_vs_prior, coverage = data_vs_prior * shell_ok, coverage * shell_ok

    fconv = map_division(bp, tau2, tau2_fudge, current_size, minres_map, do_map)
    b, p = grid.box, bp.rows
    padded = torch.fft.irfft2(fconv.reshape(k, p, p // 2 + 1) * (b * b), s=(p, p))
    padded = torch.roll(padded, shifts=(p // 2, p // 2), dims=(-2, -1))
    lo = p // 2 - b // 2
    images = padded[:, lo:lo + b, lo:lo + b]
    images = mask_with_background(images, soft_mask(b, b / 2, 3.0, grid.device, grid.dtype))
    images = images / gridding_correction(grid, pad)
    images = images * active[:, None, None]
    zero = ~active[:, None]
    return Reconstruction(images, data_vs_prior.masked_fill(zero, 0), coverage.masked_fill(zero, 0),
                          sigma2_class.masked_fill(zero, 0))


def map_division(bp: BackProjector, tau2: torch.Tensor, tau2_fudge: float, current_size: int, minres_map: int,
                 do_map: bool = True) -> torch.Tensor:
    """The MAP estimate on the padded grid, data / (weight + prior), before the inverse transform.

    ``weight + 1/(pad²·T·τ²)`` from shell ``minres_map`` on (shells where τ² = 0 use
    1/(0.001·weight)); every voxel is divided by at least its shell's mean (regularised)
    weight / 1000 (RELION's skipped gridding); voxels beyond ``current_size``/2 are 0.

    Returns
    -------
    torch.Tensor, shape (K, P·(P/2+1)), complex
    """
    grid, pad = bp.grid, bp.pad
    n = grid.n_shells
    r = _padded_radius(bp)
    inside = r**2 < round(current_size / 2 * pad) ** 2
    ires = torch.round(r / pad).to(torch.int64).clamp(max=n - 1)
    ifloor = torch.floor(r / pad).to(torch.int64).clamp(max=n - 1)
    weight = bp.weight
    t2 = tau2[:, ires]
    fweight = weight.clone()
    if do_map:
        regular = torch.where(t2 > 0, 1.0 / (pad * pad * tau2_fudge * t2.clamp_min(1e-30)),
                              torch.where(weight > 1e-20, 1.0 / (0.001 * weight.clamp_min(1e-20)), torch.zeros_like(weight)))
        fweight = fweight + regular * (ires >= minres_map)
    radavg = torch.zeros(weight.shape[0], n, dtype=grid.dtype, device=grid.device).index_add_(1, ifloor[inside], fweight[:, inside])
    radcount = torch.zeros(n, dtype=grid.dtype, device=grid.device).index_add_(0, ifloor[inside], torch.ones_like(r[inside]))
    radavg = radavg / radcount.clamp_min(1)
    denom = torch.maximum(fweight, radavg[:, ifloor] / 1000.0)
    return torch.where(inside & (denom > 0), bp.data / denom.clamp_min(1e-30), torch.zeros_like(bp.data))


def plain_average(grid: FourierGrid, bp: BackProjector, current_size: int, active: torch.Tensor) -> torch.Tensor:
    """Σ data / Σ weight without a prior (RELION's ``reconstruct`` with ``do_map = false``), shape (K, B, B)."""
    zeros = torch.zeros(bp.weight.shape[0], grid.n_shells, dtype=grid.dtype, device=grid.device)
    return reconstruct(bp, zeros, 1.0, current_size, 0, active, do_map=False).images
