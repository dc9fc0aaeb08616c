"""Real-space operations on image batches: the soft circular mask, integer shifts, centring.

Every function takes and returns torch tensors of shape (N, B, B) with the origin at the
centre pixel (B/2, B/2), x = column and y = row.
"""

from __future__ import annotations

import math

import torch


def radius_map(box_px: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Distance of each pixel from the centre pixel, shape (B, B)."""
    idx = torch.arange(box_px, device=device, dtype=dtype) - box_px // 2
    return torch.sqrt(idx[:, None] ** 2 + idx[None, :] ** 2)


def soft_mask(box_px: int, radius_px: float, edge_px: float = 5.0, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """1 inside ``radius_px``, a raised cosine down to 0 over ``edge_px``, 0 beyond (RELION's soft mask).

    Returns
    -------
    torch.Tensor, shape (B, B)
    """
    r = radius_map(box_px, device, dtype)
    edge = 0.5 + 0.5 * torch.cos(math.pi * (r - radius_px) / max(edge_px, 1e-6))
    return torch.where(r < radius_px, torch.ones_like(r), torch.where(r > radius_px + edge_px, torch.zeros_like(r), edge))


def mask_with_background(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Soft-mask images, filling the outside with each image's mean outside the mask.

    RELION's ``softMaskOutsideMap`` for ``--zero_mask``: the outside is set to the
    (1 − mask)-weighted mean of the outside, about 0 for normalised particles.
    """
    outside = 1.0 - mask
    mean_out = (images * outside).sum(dim=(-2, -1), keepdim=True) / outside.sum().clamp_min(1e-12)
    return images * mask + mean_out * outside


def shift_integer(images: torch.Tensor, shifts_px: torch.Tensor) -> torch.Tensor:
    """Shift each image by whole pixels (x, y), filling what comes in with zeros (no wrap).

    Parameters
    ----------
    images : torch.Tensor, shape (N, B, B)
    shifts_px : torch.Tensor, shape (N, 2), integer-valued
        New position = old position + shift.
    """
    _n, b, _ = images.shape
    out = torch.zeros_like(images)
    shifts = shifts_px.to(torch.int64).tolist()
    for i, (sx, sy) in enumerate(shifts):
        if abs(sx) >= b or abs(sy) >= b:
            continue
        ys, yd = (slice(0, b - sy), slice(sy, b)) if sy >= 0 else (slice(-sy, b), slice(0, b + sy))
        xs, xd = (slice(0, b - sx), slice(sx, b)) if sx >= 0 else (slice(-sx, b), slice(0, b + sx))
        out[i, yd, xd] = images[i, ys, xs]
    return out


def centre_of_mass(images: torch.Tensor) -> torch.Tensor:
    """Intensity-weighted centre of mass of each image relative to the centre pixel, shape (N, 2) (x, y).

    Plain intensities, as RELION's ``centerClasses`` (it assumes white particles); an image
    whose intensities sum to about zero has its centre at 0.
    """
    b = images.shape[-1]
    idx = torch.arange(b, device=images.device, dtype=images.dtype) - b // 2
    total = images.sum(dim=(-2, -1))
    safe = torch.where(total.abs() > 1e-12, total, torch.ones_like(total))
    cx = (images * idx[None, None, :]).sum(dim=(-2, -1)) / safe
    cy = (images * idx[None, :, None]).sum(dim=(-2, -1)) / safe
    com = torch.stack([cx, cy], dim=1)
    return torch.where((total.abs() > 1e-12)[:, None], com, torch.zeros_like(com))
