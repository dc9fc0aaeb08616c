"""Scoring 2D class averages against the true projections of a simulated particle.

For a simulated project the 3D model is known, so a class average can be judged by the
projection it resembles most:

* the **library**: the model projected along ``n`` directions spread evenly over the sphere
  (a Fibonacci lattice; in-plane angle 0), masked like the class averages;
* **alignment**: every class average is rotated in ``psi_step_deg`` steps; for each rotation and
  library image, the normalised cross-correlation (NCC) is computed for every translation at
  once (FFT), inside a circular mask and after both images are low-pass filtered to
  ``lowpass_angstrom``; the best (projection, ψ, shift) wins;
* the **Fourier ring correlation** (FRC) between the aligned class average and its best
  projection, and the resolution where it first drops below 0.5.

Arrays are numpy in and out; the search runs in torch (batched FFTs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from cryopick.classification.masks import radius_map
from cryopick.sim.density import project_matrix


@dataclass(frozen=True)
class ClassMatch:
    """Best true projection of each class average.

    Attributes
    ----------
    ncc : np.ndarray, shape (K,)
        Normalised cross-correlation after alignment (−1..1).
    projection : np.ndarray, shape (K,), int
        Index of the best library image.
    psi_deg : np.ndarray, shape (K,)
        Rotation applied to the class average.
    shift_px : np.ndarray, shape (K, 2)
        (x, y) translation applied to the rotated class average.
    """

    ncc: np.ndarray
    projection: np.ndarray
    psi_deg: np.ndarray
    shift_px: np.ndarray


def fibonacci_directions(n: int) -> np.ndarray:
    """``n`` projection directions spread evenly over the sphere, as (rot, tilt) in degrees, shape (n, 2)."""
    i = np.arange(n) + 0.5
    tilt = np.rad2deg(np.arccos(1.0 - 2.0 * i / n))
    rot = np.mod(np.rad2deg(np.pi * (1.0 + 5.0**0.5) * i), 360.0) - 180.0
    return np.stack([rot, tilt], axis=1)


def _lowpass(images: torch.Tensor, pixel_size_angstrom: float, lowpass_angstrom: float) -> torch.Tensor:
    b = images.shape[-1]
    fy = torch.fft.fftfreq(b, dtype=images.dtype)[:, None]
    fx = torch.fft.rfftfreq(b, dtype=images.dtype)[None, :]
    keep = (torch.sqrt(fx**2 + fy**2) <= pixel_size_angstrom / lowpass_angstrom).to(images.dtype)
    return torch.fft.irfft2(torch.fft.rfft2(images) * keep, s=(b, b))


def _rotate(images: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Each image (K, B, B) rotated by each angle (R,) about the box centre, bilinear: shape (K, R, B, B)."""
    k, b, _ = images.shape
    a = torch.deg2rad(angles_deg.to(images.dtype))
    c, s = torch.cos(a), torch.sin(a)
    # affine_grid maps output to input positions in [-1, 1] box units (pixel i at (2i + 1)/B − 1);
    # rotate about pixel B//2: input = R·(u − m) + m
    m = (2 * (b // 2) + 1) / b - 1.0
    theta = torch.stack([torch.stack([c, -s, m - (c - s) * m], 1), torch.stack([s, c, m - (s + c) * m], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, (len(a), 1, b, b), align_corners=False)
    src = images[:, None].expand(k, len(a), b, b).reshape(k * len(a), 1, b, b)
    out = torch.nn.functional.grid_sample(src, grid.repeat(k, 1, 1, 1), mode="bilinear", padding_mode="zeros",
                                          align_corners=False)
    return out.reshape(k, len(a), b, b)


def _normalise(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero mean and unit norm inside ``mask``; 0 outside."""
    n = mask.sum()
    mean = (images * mask).sum(dim=(-2, -1), keepdim=True) / n
    centred = (images - mean) * mask
    return centred / centred.pow(2).sum(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-12)


def match_classes(classes: np.ndarray, library: np.ndarray, pixel_size_angstrom: float, mask_radius_px: float,
                  lowpass_angstrom: float = 20.0, psi_step_deg: float = 5.0, max_shift_px: int = 6,
                  bin_factor: int = 2, chunk: int = 64) -> ClassMatch:
    """Align each class average to its best library image (see the module docstring).

    Parameters
    ----------
    classes : np.ndarray, shape (K, B, B)
    library : np.ndarray, shape (P, B, B)
        True projections (centred at the box centre).
    mask_radius_px : float
        Radius of the circular mask both are compared in.
    max_shift_px : int
        Largest translation searched along x and y.
    bin_factor : int
        The search runs on images low-pass filtered, then binned by this factor (a coarse
        search: :func:`refine_fit` refines its result on the full images).
    """
    dtype = torch.float32

    def smooth(x: np.ndarray) -> torch.Tensor:
        t = _lowpass(torch.as_tensor(x, dtype=dtype), pixel_size_angstrom, lowpass_angstrom)
        return torch.nn.functional.avg_pool2d(t[:, None], bin_factor)[:, 0] if bin_factor > 1 else t

    small = smooth(classes)
    k, b, _ = small.shape
    mask = (radius_map(b) <= mask_radius_px / bin_factor).to(dtype)
    lib_ft = torch.conj(torch.fft.rfft2(_normalise(smooth(library), mask)))                      # (P, b, b/2+1)
    psi = torch.arange(0.0, 360.0, psi_step_deg, dtype=dtype)
    shifts = torch.arange(-(max_shift_px // bin_factor), max_shift_px // bin_factor + 1)
    best = np.full(k, -np.inf)
    out_p, out_psi, out_shift = np.zeros(k, dtype=np.int64), np.zeros(k), np.zeros((k, 2))
    for j in range(k):
        rotated = _rotate(small[j:j + 1], psi)[0]                                             # (R, B, B)
        # NCC of a shifted image: the mask moves with the class average; normalise the rotated image in it
        cls = _normalise(rotated, mask)
        cls_ft = torch.fft.rfft2(cls)
        for start in range(0, len(lib_ft), chunk):
            cc = torch.fft.irfft2(cls_ft[:, None] * lib_ft[None, start:start + chunk], s=(b, b))  # (R, P, B, B)
            # cc[.., y, x] = Σ cls(r + t)·lib(r) with t = (x, y): lib shifted by −t matches; keep |t| ≤ max
            window = cc[..., shifts % b, :][..., shifts % b]
            flat = window.reshape(-1)
            i = int(torch.argmax(flat))
            if float(flat[i]) > best[j]:
                r, p, y, x = np.unravel_index(i, window.shape)
                best[j] = float(flat[i])
                out_p[j], out_psi[j] = start + p, float(psi[r])
                out_shift[j] = (-float(shifts[x]) * bin_factor, -float(shifts[y]) * bin_factor)
    return ClassMatch(best, out_p, out_psi, out_shift)


def _axis_rotation(axis: int, angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def _peak_offset(cc: np.ndarray, y: int, x: int) -> tuple[float, float]:
    """Sub-pixel (dx, dy) of a correlation peak at (y, x) by a parabola through its neighbours (periodic)."""
    b = cc.shape[0]

    def vertex(lo: float, mid: float, hi: float) -> float:
        d = lo - 2 * mid + hi
        return 0.0 if d >= 0 else float(np.clip(0.5 * (lo - hi) / d, -0.5, 0.5))

    return (vertex(cc[y, (x - 1) % b], cc[y, x], cc[y, (x + 1) % b]),
            vertex(cc[(y - 1) % b, x], cc[y, x], cc[(y + 1) % b, x]))


@dataclass(frozen=True)
class TruthFit:
    """A class average's best analytic projection of the model.

    Attributes
    ----------
    ncc : float
        Normalised cross-correlation inside the mask, both low-pass filtered.
    matrix : np.ndarray, shape (3, 3)
        Orientation of the projection (RELION's ``A``).
    centre_px : (float, float)
        Where the particle centre lies in the class average (x, y).
    projection : np.ndarray, shape (B, B)
        The projection at that orientation and centre (not filtered).
    """

    ncc: float
    matrix: np.ndarray
    centre_px: tuple[float, float]
    projection: np.ndarray


def refine_fit(image: np.ndarray, model, start: np.ndarray, pixel_size_angstrom: float, mask_radius_px: float,
               lowpass_angstrom: float = 20.0, tilt_range_deg: float = 6.0, tilt_step_deg: float = 2.0,
               psi_range_deg: float = 4.0, psi_step_deg: float = 1.0) -> TruthFit:
    """Refine an orientation ``start`` (3, 3) for one class average ``image`` (B, B) without interpolating it.

    The model is projected analytically (:func:`cryopick.sim.density.project_matrix`) at every
    orientation ``Rz(ψ)·Rx(α)·Ry(β)·start`` of the grid (α, β within ``tilt_range_deg``, ψ within
    ``psi_range_deg``); each projection's best translation comes from an FFT cross-correlation
    with a sub-pixel parabola; the best NCC wins.
    """
    b = image.shape[-1]
    mask = (radius_map(b) <= mask_radius_px).to(torch.float32)
    target = _normalise(_lowpass(torch.as_tensor(image[None], dtype=torch.float32), pixel_size_angstrom,
                                 lowpass_angstrom), mask)[0]
    target_ft = torch.fft.rfft2(target)
    tilts = np.arange(-tilt_range_deg, tilt_range_deg + 1e-9, tilt_step_deg)
    psis = np.arange(-psi_range_deg, psi_range_deg + 1e-9, psi_step_deg)
    matrices = [_axis_rotation(2, p) @ _axis_rotation(0, a) @ _axis_rotation(1, c) @ start
                for a in tilts for c in tilts for p in psis]
    proj = torch.as_tensor(np.stack([project_matrix(model, m, pixel_size_angstrom, b) for m in matrices]))
    cc = torch.fft.irfft2(target_ft[None] * torch.conj(torch.fft.rfft2(
        _normalise(_lowpass(proj, pixel_size_angstrom, lowpass_angstrom), mask))), s=(b, b))     # (M, B, B)
    i = int(torch.argmax(cc.reshape(-1)))
    m, y, x = np.unravel_index(i, cc.shape)
    dx, dy = _peak_offset(cc[m].numpy(), int(y), int(x))
    shift = (((x + b // 2) % b) - b // 2 + dx, ((y + b // 2) % b) - b // 2 + dy)
    centre = (b // 2 + shift[0], b // 2 + shift[1])
    best = project_matrix(model, matrices[m], pixel_size_angstrom, b, centre)
    fitted = _normalise(_lowpass(torch.as_tensor(best[None]), pixel_size_angstrom, lowpass_angstrom), mask)[0]
    return TruthFit(float((fitted * target).sum()), matrices[m], centre, best)


def frc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fourier ring correlation of two images (B, B), per shell 0..B/2, shape (B/2+1,)."""
    box = a.shape[-1]
    fa, fb = np.fft.rfft2(a), np.fft.rfft2(b)
    fy = np.fft.fftfreq(box)[:, None] * box
    fx = np.fft.rfftfreq(box)[None, :] * box
    shell = np.rint(np.sqrt(fx**2 + fy**2)).astype(np.int64).ravel()
    n = box // 2 + 1
    keep = shell < n
    num = np.bincount(shell[keep], (fa * np.conj(fb)).real.ravel()[keep], n)
    den = np.sqrt(np.bincount(shell[keep], (np.abs(fa) ** 2).ravel()[keep], n)
                  * np.bincount(shell[keep], (np.abs(fb) ** 2).ravel()[keep], n))
    return np.where(den > 0, num / np.maximum(den, 1e-30), 0.0)


def frc_resolution(curve: np.ndarray, pixel_size_angstrom: float, threshold: float = 0.5) -> float:
    """Resolution (Å) of the last shell before ``curve`` first drops below ``threshold`` (Nyquist if it never does)."""
    box = 2 * (len(curve) - 1)
    below = np.flatnonzero(curve[1:] < threshold)
    shell = int(below[0]) if below.size else len(curve) - 1      # the shell before the first one below
    return math.inf if shell == 0 else box * pixel_size_angstrom / shell
