"""The simulator's particle shapes and broken particles: the ranker's training needs them to differ as described."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.sim.density import SHAPES, make_particle_models
from cryopick.sim.micrograph import BROKEN, half_model, simulate_micrograph
from cryopick.sim.params import SimParams


def extents(model):
    """Principal extents (Å): the sqrt of the eigenvalues of the atoms' covariance, largest first."""
    return np.sqrt(np.linalg.eigvalsh(np.cov(model.positions_angstrom.T)))[::-1]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_fits_the_diameter_and_is_reproducible(shape):
    a = make_particle_models(150.0, 2, 9, shape=shape)
    b = make_particle_models(150.0, 2, 9, shape=shape)
    assert all(m.radius_angstrom == pytest.approx(75.0) for m in a)
    assert np.array_equal(a[0].positions_angstrom, b[0].positions_angstrom)
    assert not np.allclose(a[0].positions_angstrom, a[1].positions_angstrom)  # a second conformation differs


def test_shapes_have_their_described_geometry():
    e = {s: extents(make_particle_models(170.0, 1, 3, shape=s)[0]) for s in SHAPES}
    assert e["elongated"][0] / e["elongated"][1] > 2.0  # a rod
    assert e["globular"][0] / e["globular"][2] < 1.3  # round
    assert e["ring"][2] / e["ring"][1] < 0.5 and e["ring"][0] / e["ring"][1] < 1.1  # a flat disc, round in plane
    ring = make_particle_models(170.0, 1, 3, shape="ring")[0].positions_angstrom
    angle = np.arctan2(ring[:, 1], ring[:, 0])
    per_sector = np.histogram(angle, bins=7, range=(-np.pi, np.pi))[0]
    assert per_sector.min() > 0.5 * per_sector.max()  # seven domains spread round the ring
    with pytest.raises(ValueError, match="unknown particle shape 'cube'"):
        make_particle_models(170.0, shape="cube")


def test_a_half_model_keeps_the_atoms_on_one_side_of_the_plane():
    model = make_particle_models(170.0, 1, 3)[0]
    half = half_model(model, np.array([0.0, 0.0, 1.0]))
    assert (half.positions_angstrom[:, 2] > 0).all()
    assert 0.3 * len(model.weights) < len(half.weights) < 0.7 * len(model.weights)


def test_broken_particles_are_junk_not_truth_and_bad_shapes_are_refused():
    params = SimParams(n_micrographs=1, seed=3, broken_per_um2=150.0).validate()
    models = make_particle_models(params.diameter_angstrom, 1, params.model_seed)
    sim = simulate_micrograph(params, models, 0, has_carbon=False)
    broken = [j for j in sim.junk if j.kind == BROKEN]
    assert len(broken) >= 1 and len(sim.xy_px) == params.particles_per_mic
    without = simulate_micrograph(params.replace(broken_per_um2=0.0), models, 0, has_carbon=False)
    assert not np.array_equal(sim.image, without.image)
    with pytest.raises(BadInputError, match="particle shape must be one of"):
        SimParams(particle_shape="cube").validate()
