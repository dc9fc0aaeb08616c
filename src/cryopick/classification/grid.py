"""The Fourier grid of a square image box, in RELION's conventions, as torch tensors.

Images of side B (even) are transformed with the origin at the box centre (pixel B/2, B/2)
and RELION's normalisation (forward transform divided by B²), onto the half-complex
``rfft2`` layout of shape (B, B/2+1): column kx = 0..B/2, row ky = 0..B/2 then −(B/2−1)..−1
(the +Nyquist row kept, as RELION). A coefficient's *shell* is round(|k|).

The E- and M-steps work on the flattened coefficients of the current image size S
(:meth:`FourierGrid.select`): RELION's disc, shell ≤ S/2 inside the S-window
(ky > −S/2), each Hermitian pair once (the kx = 0 column only for ky ≥ 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Coefficients:
    """A subset of a box's half-plane Fourier coefficients, flattened.

    Attributes
    ----------
    index : torch.Tensor, shape (F,), int64
        Positions in the flattened (B·(B/2+1)) half-plane.
    kx, ky : torch.Tensor, shape (F,), float
        Signed frequencies in Fourier pixels of the box.
    shell : torch.Tensor, shape (F,), int64
        round(|k|).
    size : int
        The image size S they belong to.
    """

    index: torch.Tensor
    kx: torch.Tensor
    ky: torch.Tensor
    shell: torch.Tensor
    size: int

    def __len__(self) -> int:
        return int(self.index.numel())


class FourierGrid:
    """Frequencies, shells and transforms of a B×B box.

    Parameters
    ----------
    box_px : int
        Even image side B.
    device : torch.device
    dtype : torch.dtype
        Real dtype of the computations (float32); complex tensors use the matching complex type.
    """

    def __init__(self, box_px: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        if box_px % 2:
            raise ValueError(f"box size {box_px} must be even")
        self.box = int(box_px)
        self.device = torch.device(device)
        self.dtype = dtype
        self.cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        b = self.box
        rows = torch.arange(b, device=self.device)
        self.ky_full = torch.where(rows <= b // 2, rows, rows - b).to(dtype)[:, None].expand(b, b // 2 + 1)
        self.kx_full = torch.arange(b // 2 + 1, device=self.device, dtype=dtype)[None, :].expand(b, b // 2 + 1)
        self.shell_full = torch.round(torch.sqrt(self.kx_full**2 + self.ky_full**2)).to(torch.int64)
        self.n_shells = b // 2 + 1

    @property
    def half_shape(self) -> tuple[int, int]:
        return (self.box, self.box // 2 + 1)

    def select(self, size_px: int) -> Coefficients:
        """The coefficients of image size ``size_px`` (see the module docstring), origin included."""
        half = size_px // 2
        inside = (self.shell_full <= half) & (self.ky_full > -half) & ~((self.kx_full == 0) & (self.ky_full < 0))
        flat = inside.reshape(-1)
        index = torch.nonzero(flat).squeeze(1)
        return Coefficients(
            index=index,
            kx=self.kx_full.reshape(-1)[index],
            ky=self.ky_full.reshape(-1)[index],
            shell=self.shell_full.reshape(-1)[index],
            size=int(size_px),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Centred, RELION-normalised half-plane transforms.

        Parameters
        ----------
        images : torch.Tensor, shape (..., B, B), real

        Returns
        -------
        torch.Tensor, shape (..., B, B/2+1), complex
        """
        b = self.box
        centred = torch.roll(images, shifts=(-(b // 2), -(b // 2)), dims=(-2, -1))
        return torch.fft.rfft2(centred) / (b * b)

    def inverse(self, transforms: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`forward`: (..., B, B/2+1) complex -> (..., B, B) real."""
        b = self.box
        images = torch.fft.irfft2(transforms * (b * b), s=(b, b))
        return torch.roll(images, shifts=(b // 2, b // 2), dims=(-2, -1))

    def phase_ramps(self, coeffs: Coefficients, shifts_px: torch.Tensor) -> torch.Tensor:
        """exp(−2πi k·t/B) for translations t: multiplying a transform by it shifts the image by +t.

        Parameters
        ----------
        shifts_px : torch.Tensor, shape (T, 2)
            (x, y) in pixels.

        Returns
        -------
        torch.Tensor, shape (T, F), complex
        """
        phase = -2.0 * math.pi / self.box * (shifts_px[:, :1].to(self.dtype) * coeffs.kx[None, :]
                                            + shifts_px[:, 1:2].to(self.dtype) * coeffs.ky[None, :])
        return torch.polar(torch.ones_like(phase), phase)

    def shell_sum(self, values: torch.Tensor, coeffs: Coefficients) -> torch.Tensor:
        """Sum ``values`` (..., F) over the coefficients of each shell -> (..., n_shells)."""
        out = torch.zeros(values.shape[:-1] + (self.n_shells,), dtype=values.dtype, device=values.device)
        return out.index_add_(-1, coeffs.shell, values)

    def shell_counts(self, coeffs: Coefficients) -> torch.Tensor:
        """Number of coefficients per shell, shape (n_shells,)."""
        return self.shell_sum(torch.ones(len(coeffs), dtype=self.dtype, device=self.device), coeffs)

    def pixels_per_shell(self) -> torch.Tensor:
        """Half-plane pixels per shell over the whole box (each Hermitian pair once, origin included), (n_shells,)."""
        unique = ~((self.kx_full == 0) & (self.ky_full < 0))
        counts = torch.zeros(self.n_shells, dtype=self.dtype, device=self.device)
        shells = self.shell_full[unique]
        keep = shells < self.n_shells
        return counts.index_add_(0, shells[keep], torch.ones_like(shells[keep], dtype=self.dtype))
