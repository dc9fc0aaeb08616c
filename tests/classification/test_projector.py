"""Projector and back-projector: RELION's rotation convention, and the back-projector is the projector's transpose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cryopick.classification.grid import FourierGrid
from cryopick.classification.projector import (
    BackProjector,
    Projector,
    gridding_correction,
)
from cryopick.sim.particles2d import known_classes, rotate_and_shift


@pytest.fixture(scope="module")
def setup():
    grid = FourierGrid(32, dtype=torch.float64)
    refs = known_classes(32, 3)
    return grid, refs, Projector(grid, torch.as_tensor(refs), pad=2)


def test_projection_at_zero_is_the_transform_of_the_gridding_corrected_image(setup):
    """At ψ = 0 every sample falls on the padded grid: no interpolation, so the pre-correction by
    sinc² (RELION's, for linear interpolation) stays in, and the padding keeps the box's normalisation."""
    grid, refs, proj = setup
    c = grid.select(32)
    got = proj.project(c, torch.zeros(1, dtype=torch.float64))[:, 0]
    corrected = torch.as_tensor(refs) / gridding_correction(grid, 2)
    want = grid.forward(corrected).reshape(3, -1)[:, c.index]
    assert torch.allclose(got, want, atol=1e-10 * float(want.abs().max()))


@pytest.mark.parametrize("psi", [17.0, 90.0, 233.0])
def test_projection_at_psi_is_the_image_rotated_in_real_space_by_relions_matrix(setup, psi):
    """P_ψ(k) = A(M_ψ k) in Fourier space <=> p(r) = a(M_ψ r) in real space (RELION's convention)."""
    grid, refs, proj = setup
    c = grid.select(16)                          # low frequencies, where interpolation is accurate
    got = proj.project(c, torch.tensor([psi], dtype=torch.float64))[:, 0]
    rotated = np.stack([rotate_and_shift(r, psi, (0.0, 0.0)) for r in refs])
    want = grid.forward(torch.as_tensor(rotated)).reshape(3, -1)[:, c.index]
    err = (got - want).abs().pow(2).sum() / want.abs().pow(2).sum()
    assert err < 3e-3
    wrong = grid.forward(torch.as_tensor(np.stack([rotate_and_shift(r, -psi, (0.0, 0.0)) for r in refs])))
    assert (got - wrong.reshape(3, -1)[:, c.index]).abs().pow(2).sum() / want.abs().pow(2).sum() > 0.05


def test_back_projection_is_the_transpose_of_projection(setup):
    """<P a, d> = <a, Pᵀ d> for random padded grids a and data d: insert() splats with projection's weights."""
    grid, _, proj = setup
    rng = np.random.default_rng(2)
    c = grid.select(24)
    angles = torch.tensor([0.0, 33.0, 151.0, 300.0], dtype=torch.float64)
    data = torch.complex(torch.as_tensor(rng.normal(size=(3, 4, len(c)))), torch.as_tensor(rng.normal(size=(3, 4, len(c)))))
    bp = BackProjector(grid, 3, pad=2)
    bp.insert(c, angles, data, torch.zeros(3, 4, len(c), dtype=torch.float64))
    lhs = (torch.conj(proj.project(c, angles)) * data).real.sum()
    rhs = (torch.conj(proj.fpad) * bp.data).real.sum()
    assert torch.allclose(lhs, rhs, rtol=1e-10)
