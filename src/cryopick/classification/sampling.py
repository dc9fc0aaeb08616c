"""In-plane rotations and translations searched by 2D classification (RELION's HealpixSampling, 2D).

The GUI's sampling values are the fine ones; RELION searches a coarse grid twice as coarse
(``--psi_step 2·ψ --offset_step 2·step --oversampling 1``) and then, around the significant
coarse samples, the fine grid: each coarse ψ becomes ψ ± Δψ/4 and each coarse translation
t becomes t + (±Δt/4, ±Δt/4). Every iteration the whole grid is shifted by a random fraction
of a coarse step (``--perturb``), so the sampled values differ from one iteration to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Sampling:
    """The coarse grid of one iteration and how it refines.

    Attributes
    ----------
    psi_deg : torch.Tensor, shape (R,)
        Coarse in-plane angles.
    shifts_px : torch.Tensor, shape (T, 2)
        Coarse translations (x, y), relative to each particle's current offset.
    psi_step_deg, offset_step_px : float
        Coarse steps (twice the fine ones).
    perturbation : float
        The grid's random shift this iteration, in fractions of a coarse step.
    """

    psi_deg: torch.Tensor
    shifts_px: torch.Tensor
    psi_step_deg: float
    offset_step_px: float
    perturbation: float = 0.0

    @property
    def fine_psi_deg(self) -> torch.Tensor:
        """Fine angles, shape (2R,): index 2r+j is coarse r's ψ + (j − ½)·Δψ/2."""
        quarter = self.psi_step_deg / 4.0
        return torch.stack([self.psi_deg - quarter, self.psi_deg + quarter], dim=1).reshape(-1)

    @property
    def fine_offsets_px(self) -> torch.Tensor:
        """The four fine offsets around a coarse translation, shape (4, 2)."""
        q = self.offset_step_px / 4.0
        return torch.tensor([[-q, -q], [q, -q], [-q, q], [q, q]], dtype=self.shifts_px.dtype, device=self.shifts_px.device)

    @property
    def fine_shifts_px(self) -> torch.Tensor:
        """Fine translations, shape (4T, 2): index 4t+j is coarse t + fine offset j."""
        return (self.shifts_px[:, None, :] + self.fine_offsets_px[None]).reshape(-1, 2)


def make_sampling(psi_step_fine_deg: float, offset_range_px: float, offset_step_fine_px: float,
                  perturbation: tuple[float, float] = (0.0, 0.0), device="cpu", dtype=torch.float32) -> Sampling:
    """The coarse grid for the GUI's (fine) steps.

    Parameters
    ----------
    psi_step_fine_deg : float
        GUI "In-plane angular sampling" (the coarse step is twice it).
    offset_range_px, offset_step_fine_px : float
        GUI "Offset search range" and "Offset search step" (coarse step twice it).
    perturbation : (float, float)
        Fractions of a coarse step by which the ψ and translation grids are shifted this
        iteration, each in [−0.5, 0.5].
    """
    psi_step = 2.0 * psi_step_fine_deg
    n_psi = max(1, round(360.0 / psi_step))
    psi_step = 360.0 / n_psi
    psi = torch.arange(n_psi, device=device, dtype=dtype) * psi_step + perturbation[0] * psi_step
    step = 2.0 * offset_step_fine_px
    n = math.floor(offset_range_px / step + 1e-6) if step > 0 else 0
    grid = torch.arange(-n, n + 1, device=device, dtype=dtype) * step
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    keep = xx**2 + yy**2 <= offset_range_px**2 + 0.001
    shifts = torch.stack([xx[keep], yy[keep]], dim=1) + perturbation[1] * step
    return Sampling(psi, shifts, psi_step, step, float(perturbation[0]))
