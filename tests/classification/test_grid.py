"""The Fourier grid: RELION's normalisation and origin, the coefficient disc, shifts by phase ramps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cryopick.classification.grid import FourierGrid


def test_forward_is_centred_and_normalised_by_the_pixel_count_and_inverts():
    grid = FourierGrid(16, dtype=torch.float64)
    rng = np.random.default_rng(0)
    img = torch.as_tensor(rng.normal(size=(2, 16, 16)))
    ft = grid.forward(img)
    assert torch.allclose(ft[:, 0, 0].real, img.mean(dim=(1, 2)))
    assert torch.allclose(grid.inverse(ft), img)
    # a delta at the centre pixel (8, 8) has a flat, real transform: the phase origin is the box centre
    delta = torch.zeros(1, 16, 16, dtype=torch.float64)
    delta[0, 8, 8] = 256.0
    assert torch.allclose(grid.forward(delta), torch.ones(1, 16, 9, dtype=torch.complex128))


@pytest.mark.parametrize("size", [8, 12, 16])
def test_select_is_relions_disc_with_each_hermitian_pair_once(size):
    grid = FourierGrid(16)
    c = grid.select(size)
    kx, ky = c.kx.numpy(), c.ky.numpy()
    expected = [(x, y) for y in range(-8, 9) for x in range(9)
                if round(np.hypot(x, y)) <= size // 2 and y > -size // 2 and not (x == 0 and y < 0)]
    assert sorted(zip(kx.tolist(), ky.tolist(), strict=True)) == sorted((float(x), float(y)) for x, y in expected)
    assert np.array_equal(c.shell.numpy(), np.round(np.hypot(kx, ky)).astype(int))


def test_phase_ramp_shifts_the_image_by_plus_t():
    grid = FourierGrid(16, dtype=torch.float64)
    img = torch.as_tensor(np.random.default_rng(1).normal(size=(1, 16, 16)))
    c = grid.select(16)
    shifted = torch.roll(img, shifts=(2, 3), dims=(-2, -1))          # +3 px in x, +2 px in y
    ramp = grid.phase_ramps(c, torch.tensor([[3.0, 2.0]], dtype=torch.float64))
    lhs = grid.forward(shifted).reshape(1, -1)[:, c.index]
    rhs = grid.forward(img).reshape(1, -1)[:, c.index] * ramp
    assert torch.allclose(lhs, rhs)


def test_pixels_per_shell_counts_the_half_plane_once():
    grid = FourierGrid(32)
    counts = grid.pixels_per_shell().numpy()
    expected = np.zeros(17)
    for y in range(-15, 17):             # the rows of a 32-px half-plane transform
        for x in range(17):
            if not (x == 0 and y < 0) and round(np.hypot(x, y)) <= 16:
                expected[round(np.hypot(x, y))] += 1
    assert np.array_equal(counts, expected) and counts[0] == 1
