"""Per-batch image preparation for the E-step: normalisation, centring, masking, transforms, CTFs.

As RELION's ``getFourierTransformsAndCtfs``: each image is multiplied by
avg_norm/norm_i, shifted by its rounded previous offset (no wrap), soft-masked (outside: the
background mean with ``zero_mask``, else coloured noise of the current σ²) and transformed;
the unmasked, shifted transform is kept for the back-projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cryopick.classification.grid import FourierGrid
from cryopick.classification.masks import mask_with_background, shift_integer, soft_mask
from cryopick.classification.model import ParticleData
from cryopick.ctf import CtfParams, ctf_image


@dataclass
class Batch:
    """A batch of particles ready for the E-step (transforms flattened over the half plane).

    Attributes
    ----------
    index : np.ndarray, shape (n,)
        Particle indices.
    masked, unmasked : torch.Tensor, shape (n, B·(B/2+1)), complex
    ctf : torch.Tensor, shape (n, B·(B/2+1))
        CTF (1 without CTF correction).
    power : torch.Tensor, shape (n, n_shells)
        Σ |masked|² per shell (each Hermitian pair once).
    rounded_offsets_px : torch.Tensor, shape (n, 2)
        The whole-pixel offsets applied.
    optics_group, group : torch.Tensor, shape (n,), int64
    """

    index: np.ndarray
    masked: torch.Tensor
    unmasked: torch.Tensor
    ctf: torch.Tensor
    power: torch.Tensor
    rounded_offsets_px: torch.Tensor
    optics_group: torch.Tensor
    group: torch.Tensor


def ctf_values(data: ParticleData, index: np.ndarray, box: int, intact_first_peak: bool) -> np.ndarray:
    """CTF of each particle on the centred half-plane grid, shape (n, B, B/2+1), float32."""
    out = np.empty((len(index), box, box // 2 + 1), dtype=np.float32)
    og = data.optics_group[index]
    for g in np.unique(og):
        sel = np.nonzero(og == g)[0]
        i = index[sel]
        params = CtfParams(data.defocus_u[i], data.defocus_v[i], data.defocus_angle[i],
                           voltage_kv=float(data.voltage_kv[i[0]]), cs_mm=float(data.cs_mm[i[0]]),
                           amplitude_contrast=float(data.amplitude_contrast[i[0]]), phase_shift_deg=data.phase_shift[i],
                           bfactor_angstrom2=data.bfactor[i], scale=data.ctf_scale[i])
        out[sel] = ctf_image(box, box, data.pixel_size_angstrom, params, intact_first_peak=intact_first_peak)
    return out


def unique_half_plane(grid: FourierGrid) -> torch.Tensor:
    """Flattened mask of the half-plane pixels counted once (the kx = 0 column only for ky >= 0)."""
    return (~((grid.kx_full == 0) & (grid.ky_full < 0))).reshape(-1)


def prepare_batch(grid: FourierGrid, data: ParticleData, index: np.ndarray, offsets_px: np.ndarray, norm: np.ndarray,
                  avg_norm: float, mask_radius_px: float, mask_edge_px: float, zero_mask: bool, ctf: bool,
                  intact_first_peak: bool, sigma2_noise: torch.Tensor, norm_correction: bool,
                  generator: torch.Generator | None = None) -> Batch:
    """Everything the E-step needs of particles ``index`` (see the module docstring)."""
    dev = grid.device
    images = torch.as_tensor(np.asarray(data.images[index])).to(dev, grid.dtype)
    if norm_correction:
        images = images * torch.as_tensor(avg_norm / norm[index], dtype=grid.dtype, device=dev)[:, None, None]
    rounded = torch.as_tensor(np.round(offsets_px[index]), dtype=grid.dtype, device=dev)
    images = shift_integer(images, rounded)
    mask = soft_mask(grid.box, mask_radius_px, mask_edge_px, dev, grid.dtype)
    og = torch.as_tensor(data.optics_group[index], dtype=torch.int64, device=dev)
    if zero_mask:
        masked = mask_with_background(images, mask)
    else:
        sigma = torch.sqrt(sigma2_noise[og][:, grid.shell_full.clamp(max=grid.n_shells - 1)].clamp_min(0))
        noise_ft = sigma * torch.complex(torch.randn(sigma.shape, generator=generator, device=dev, dtype=grid.dtype),
                                         torch.randn(sigma.shape, generator=generator, device=dev, dtype=grid.dtype))
        masked = images * mask + grid.inverse(noise_ft) * (1.0 - mask)
    fm = grid.forward(masked).reshape(len(index), -1)
    fu = grid.forward(images).reshape(len(index), -1)
    unique = unique_half_plane(grid)
    shells = grid.shell_full.reshape(-1)
    keep = unique & (shells < grid.n_shells)
    power = torch.zeros(len(index), grid.n_shells, dtype=grid.dtype, device=dev)
    power.index_add_(1, shells[keep], (fm[:, keep].abs() ** 2))
    if ctf:
        c = torch.as_tensor(ctf_values(data, index, grid.box, intact_first_peak), device=dev).reshape(len(index), -1)
    else:
        c = torch.ones(len(index), fm.shape[1], dtype=grid.dtype, device=dev)
    group = torch.as_tensor(data.group[index], dtype=torch.int64, device=dev)
    return Batch(index, fm, fu, c, power, rounded, og, group)
