"""The MAP update on the padded grid, against values computed by hand."""

from __future__ import annotations

import torch

from cryopick.classification.grid import FourierGrid
from cryopick.classification.projector import BackProjector
from cryopick.classification.reconstruct import map_division, reconstruct


def _voxel(bp: BackProjector, kx: int, ky: int) -> int:
    return (ky % bp.rows) * bp.cols + kx


def test_map_division_by_hand():
    """A(k) = D(k) / (W(k) + 1/(pad²·T·τ²(shell))) from shell minres_map on, D/W below it."""
    grid = FourierGrid(32, dtype=torch.float64)
    bp = BackProjector(grid, 1, pad=2)
    bp.weight[:] = 1.0                     # every voxel counts (no shell-average floor comes into play)
    cases = {(4, 0): (2.0 + 1.0j, 3.0), (0, 12): (1.0 - 2.0j, 0.5), (12, 10): (0.5j, 2.0)}   # padded (kx, ky)
    for (kx, ky), (d, w) in cases.items():
        bp.data[0, _voxel(bp, kx, ky)] = d
        bp.weight[0, _voxel(bp, kx, ky)] = w
    tau2 = torch.zeros(1, grid.n_shells, dtype=torch.float64)
    tau2[0, 2], tau2[0, 6], tau2[0, 8] = 5.0, 0.01, 0.02
    out = map_division(bp, tau2, tau2_fudge=2.0, current_size=32, minres_map=5)
    # shell round(|k|/pad): (4,0) -> 2 (below minres: no prior); (0,12) -> 6; (12,10) -> round(7.81) = 8
    assert torch.isclose(out[0, _voxel(bp, 4, 0)], torch.tensor(2.0 + 1.0j, dtype=torch.complex128) / 3.0)
    assert torch.isclose(out[0, _voxel(bp, 0, 12)], torch.tensor(1.0 - 2.0j, dtype=torch.complex128) / (0.5 + 1 / (4 * 2.0 * 0.01)))
    assert torch.isclose(out[0, _voxel(bp, 12, 10)], torch.tensor(0.5j, dtype=torch.complex128) / (2.0 + 1 / (4 * 2.0 * 0.02)))
    # beyond the current size: nothing
    small = map_division(bp, tau2, 2.0, current_size=8, minres_map=5)
    assert small[0, _voxel(bp, 0, 12)] == 0 and small[0, _voxel(bp, 4, 0)] != 0


def test_an_unregularised_reconstruction_from_projections_at_many_angles_returns_the_image():
    """Consistent data (the image's own projections at 72 angles, weight 1) average back to the image."""
    from cryopick.classification.masks import soft_mask
    from cryopick.classification.projector import Projector
    from cryopick.sim.particles2d import known_classes

    grid = FourierGrid(32, dtype=torch.float64)
    img = torch.as_tensor(known_classes(32, 2)[1:])
    c = grid.select(32)
    angles = torch.arange(72, dtype=torch.float64) * 5.0
    data = Projector(grid, img, pad=2).project(c, angles)
    bp = BackProjector(grid, 1, pad=2)
    bp.insert(c, angles, data, torch.ones(data.shape, dtype=torch.float64))
    rec = reconstruct(bp, torch.zeros(1, grid.n_shells, dtype=torch.float64), 1.0, 32, 0, torch.ones(1, dtype=torch.bool),
                      do_map=False)
    inside = soft_mask(32, 12, 1, dtype=torch.float64) > 0.999
    err = (rec.images[0] - img[0])[inside].abs().max() / img.abs().max()
    assert err < 0.05
