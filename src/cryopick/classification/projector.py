"""Rotating references in Fourier space and inserting data back: RELION's 2D projector and back-projector.

References are Fourier transformed on a grid padded twice (``pad`` = 2) after a gridding
pre-correction; a reference rotated by ψ is sampled at the rotated coefficient positions by
bilinear interpolation of the complex values (RELION's linear interpolator). RELION's rotation
convention: the projection at ψ has ``P_ψ(k) = A(M_ψ k)`` with ``M_ψ = [[cos ψ, sin ψ],
[−sin ψ, cos ψ]]`` acting on (kx, ky); a position with negative x uses the Hermitian mate.

The back-projector is the transpose: data and weights accumulated per (class, rotation) in the
rotated frame are splatted, with the same bilinear weights, onto each class's padded grid, where
the MAP reconstruction divides them (:mod:`cryopick.classification.reconstruct`).
"""

from __future__ import annotations

import math

import torch

from cryopick.classification.grid import Coefficients, FourierGrid


def _rotated_positions(coeffs: Coefficients, angles_deg: torch.Tensor, pad: int) -> tuple[torch.Tensor, ...]:
    """Padded-grid positions of each coefficient under each rotation, folded into the half plane.

    Returns
    -------
    x, y : torch.Tensor, shape (R, F)
        Positions (x >= 0) in padded Fourier pixels.
    flip : torch.Tensor, shape (R, F), bool
        Where the Hermitian mate was taken (the value is conjugated).
    """
    a = torch.deg2rad(angles_deg.to(coeffs.kx.dtype))[:, None]
    c, s = torch.cos(a), torch.sin(a)
    x = pad * (c * coeffs.kx[None, :] + s * coeffs.ky[None, :])
    y = pad * (-s * coeffs.kx[None, :] + c * coeffs.ky[None, :])
    flip = x < 0
    return torch.where(flip, -x, x), torch.where(flip, -y, y), flip


def _bilinear(x: torch.Tensor, y: torch.Tensor, rows: int, cols: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The four (flat index, weight) pairs of bilinear interpolation on a (rows, cols) half plane."""
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = x - x0, y - y0
    x0, y0 = x0.to(torch.int64), y0.to(torch.int64)
    out = []
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi = torch.clamp(x0 + dx, max=cols - 1)
            yi = torch.remainder(y0 + dy, rows)
            out.append((yi * cols + xi, wx * wy))
    return out


def gridding_correction(grid: FourierGrid, pad: int) -> torch.Tensor:
    """sinc²(r / (pad·B)) on the B×B box (r from the centre pixel): what linear interpolation multiplies by."""
    b = grid.box
    idx = torch.arange(b, device=grid.device, dtype=grid.dtype) - b // 2
    r = torch.sqrt(idx[:, None] ** 2 + idx[None, :] ** 2) / (pad * b)
    sinc = torch.where(r > 0, torch.sin(math.pi * r) / (math.pi * r).clamp_min(1e-12), torch.ones_like(r))
    return sinc * sinc


class Projector:
    """Padded transforms of K references and their rotated samples.

    Parameters
    ----------
    grid : FourierGrid
        The box of the references.
    references : torch.Tensor, shape (K, B, B), real
        Real-space references (origin at the box centre).
    pad : int
        Padding factor (RELION's ``--pad 2``).
    """

    def __init__(self, grid: FourierGrid, references: torch.Tensor, pad: int = 2):
        self.grid, self.pad = grid, pad
        b, p = grid.box, pad * grid.box
        self.rows, self.cols = p, p // 2 + 1
        corrected = references.to(grid.dtype) / gridding_correction(grid, pad)
        padded = torch.zeros(references.shape[0], p, p, dtype=grid.dtype, device=grid.device)
        lo = p // 2 - b // 2
        padded[:, lo:lo + b, lo:lo + b] = corrected
        centred = torch.roll(padded, shifts=(-(p // 2), -(p // 2)), dims=(-2, -1))
        # normalised by B² (not P²): the padded transform at pad·k equals the box's transform at k
        self.fpad = (torch.fft.rfft2(centred) / (b * b)).reshape(references.shape[0], -1)

    def project(self, coeffs: Coefficients, angles_deg: torch.Tensor, classes: slice = slice(None)) -> torch.Tensor:
        """The references (``classes`` of them) rotated by each angle, at ``coeffs``.

        Returns
        -------
        torch.Tensor, shape (K, R, F), complex
        """
        x, y, flip = _rotated_positions(coeffs, angles_deg, self.pad)
        fpad = self.fpad[classes]
        out = None
        for index, weight in _bilinear(x, y, self.rows, self.cols):
            term = fpad[:, index.reshape(-1)].reshape((-1,) + index.shape) * weight.to(self.grid.dtype)
            out = term if out is None else out + term
        return torch.where(flip[None], torch.conj(out), out)


class BackProjector:
    """Accumulators of data (complex) and weights (real) on K padded class grids.

    Parameters
    ----------
    grid : FourierGrid
    n_classes : int
    pad : int
    """

    def __init__(self, grid: FourierGrid, n_classes: int, pad: int = 2):
        self.grid, self.pad = grid, pad
        p = pad * grid.box
        self.rows, self.cols = p, p // 2 + 1
        self.data = torch.zeros(n_classes, p * (p // 2 + 1), dtype=grid.cdtype, device=grid.device)
        self.weight = torch.zeros(n_classes, p * (p // 2 + 1), dtype=grid.dtype, device=grid.device)

    def insert(self, coeffs: Coefficients, angles_deg: torch.Tensor, data: torch.Tensor, weight: torch.Tensor) -> None:
        """Splat rotated-frame sums into the class grids.

        Parameters
        ----------
        angles_deg : torch.Tensor, shape (R,)
        data : torch.Tensor, shape (K, R, F), complex
            Σ p · CTF · X / σ² per class and rotation, in the rotated frame.
        weight : torch.Tensor, shape (K, R, F), real
            Σ p · CTF² / σ² likewise.
        """
        x, y, flip = _rotated_positions(coeffs, angles_deg, self.pad)
        data = torch.where(flip[None], torch.conj(data), data)
        for index, w in _bilinear(x, y, self.rows, self.cols):
            flat = index.reshape(-1)
            w = w.to(self.grid.dtype)
            self.data.index_add_(1, flat, (data * w).reshape(data.shape[0], -1))
            self.weight.index_add_(1, flat, (weight * w).reshape(weight.shape[0], -1))

    def padded_shells(self) -> torch.Tensor:
        """round(|k| / pad) of every padded-grid element, flattened: the box's shell it belongs to."""
        p = self.rows
        rows = torch.arange(p, device=self.grid.device)
        ky = torch.where(rows <= p // 2, rows, rows - p).to(self.grid.dtype)[:, None]
        kx = torch.arange(p // 2 + 1, device=self.grid.device, dtype=self.grid.dtype)[None, :]
        return torch.round(torch.sqrt(kx**2 + ky**2) / self.pad).to(torch.int64).reshape(-1)

    def to_images(self, fpad: torch.Tensor) -> torch.Tensor:
        """Padded transforms (K, P·(P/2+1)) -> real-space B×B images, gridding-corrected."""
        b, p = self.grid.box, self.rows
        padded = torch.fft.irfft2(fpad.reshape(-1, p, p // 2 + 1) * (b * b), s=(p, p))
        padded = torch.roll(padded, shifts=(p // 2, p // 2), dims=(-2, -1))
        lo = p // 2 - b // 2
        return padded[:, lo:lo + b, lo:lo + b] / gridding_correction(self.grid, self.pad)


def symmetrise(bp: BackProjector) -> None:
    """RELION's ``enforceHermitianSymmetry``: on the kx = 0 column, sum each ky > 0 element with its −ky mate's conjugate.

    The mate then holds the conjugate of the sum (weights: the sum), so both halves agree.
    """
    p, cols = bp.rows, bp.cols
    ky = torch.arange(1, p // 2, device=bp.grid.device)
    pos, neg = ky * cols, (p - ky) * cols
    d = bp.data[:, pos] + torch.conj(bp.data[:, neg])
    w = bp.weight[:, pos] + bp.weight[:, neg]
    bp.data[:, pos], bp.data[:, neg] = d, torch.conj(d)
    bp.weight[:, pos], bp.weight[:, neg] = w, w
