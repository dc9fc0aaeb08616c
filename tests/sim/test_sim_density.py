"""Pseudo-atomic particle models, RELION Euler convention and exact projections."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.sim.density import PseudoAtomModel, euler_matrix, make_particle_models, project, random_orientations


def _rz(a):  # passive rotation about z (RELION/Xmipp convention)
    c, s = np.cos(np.deg2rad(a)), np.sin(np.deg2rad(a))
    return np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])


def _ry(a):
    c, s = np.cos(np.deg2rad(a)), np.sin(np.deg2rad(a))
    return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])


@pytest.mark.parametrize("angles", [(0, 0, 0), (90, 0, 0), (12.5, 40, -70), (-150, 170, 33)])
def test_euler_matrix_is_zyz_composition_and_orthonormal(angles):
    rot, tilt, psi = angles
    a = euler_matrix(rot, tilt, psi)
    np.testing.assert_allclose(a, _rz(psi) @ _ry(tilt) @ _rz(rot), atol=1e-12)
    np.testing.assert_allclose(a @ a.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(a) == pytest.approx(1.0)


def test_projection_places_atom_at_a_r():
    """An atom at r lands at image position (A r)[:2] (x = column, y = row)."""
    model = PseudoAtomModel(np.array([[10.0, 0.0, 0.0]]), np.array([3.0]), np.array([1.0]))
    pix = 2.0
    for angles, expected in [((0, 0, 0), (5.0, 0.0)), ((90, 0, 0), (0.0, -5.0)), ((0, 90, 0), (0.0, 0.0))]:
        img = project(model, angles, pix, 41, centre_px=(20.0, 20.0))
        yy, xx = np.mgrid[0:41, 0:41]
        total = img.sum()
        assert total == pytest.approx(1.0, abs=1e-4)
        cx, cy = (img * xx).sum() / total - 20.0, (img * yy).sum() / total - 20.0
        assert (cx, cy) == pytest.approx(expected, abs=1e-3), angles


def test_subpixel_centre_moves_the_centroid():
    model = make_particle_models(100.0, seed=3)[0]
    a = project(model, (10, 20, 30), 2.0, 96, centre_px=(48.0, 48.0))
    b = project(model, (10, 20, 30), 2.0, 96, centre_px=(48.3, 47.6))
    yy, xx = np.mgrid[0:96, 0:96]
    shift = ((b * xx).sum() - (a * xx).sum(), (b * yy).sum() - (a * yy).sum())
    assert shift == pytest.approx((0.3, -0.4), abs=1e-3)


def test_models_fit_diameter_are_deterministic_and_asymmetric():
    m1 = make_particle_models(170.0, n_models=2, seed=7)
    m2 = make_particle_models(170.0, n_models=2, seed=7)
    np.testing.assert_array_equal(m1[0].positions_angstrom, m2[0].positions_angstrom)
    assert m1[0].radius_angstrom == pytest.approx(85.0)
    assert m1[1].radius_angstrom == pytest.approx(85.0)
    # second conformation differs clearly
    rms = np.sqrt(np.mean(np.sum((m1[0].positions_angstrom - m1[1].positions_angstrom) ** 2, axis=1)))
    assert rms > 5.0
    # not symmetric: principal moments distinct
    p = m1[0].positions_angstrom - m1[0].positions_angstrom.mean(0)
    ev = np.sort(np.linalg.eigvalsh(p.T @ p / len(p)))
    assert np.min(np.diff(ev)) / ev[-1] > 0.05
    # a different seed gives a different particle
    other = make_particle_models(170.0, seed=8)[0]
    assert not np.allclose(other.positions_angstrom, m1[0].positions_angstrom)


def test_projections_differ_between_views():
    m = make_particle_models(170.0)[0]
    a = project(m, (0, 0, 0), 3.54, 64)
    b = project(m, (0, 90, 0), 3.54, 64)
    c = project(m, (0, 0, 180), 3.54, 64)  # in-plane rotation by 180 deg of a
    np.testing.assert_allclose(c[1:, 1:], a[1:, 1:][::-1, ::-1], atol=1e-6)
    corr = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert corr < 0.9


def test_random_orientations_are_uniform_on_the_sphere():
    ang = random_orientations(np.random.default_rng(0), 20000)
    assert ang.shape == (20000, 3)
    ct = np.cos(np.deg2rad(ang[:, 1]))
    assert abs(ct.mean()) < 0.02 and np.var(ct) == pytest.approx(1 / 3, abs=0.01)
    assert ang[:, 0].min() >= -180 and ang[:, 0].max() < 180
    assert ang[:, 1].min() >= 0 and ang[:, 1].max() <= 180
