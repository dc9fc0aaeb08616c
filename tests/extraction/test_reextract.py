import numpy as np

from cryopick.extraction.reextract import euler_matrices, reextraction_geometry, round_half_away


def test_round_half_away_from_zero():
    assert round_half_away(np.array([0.5, -0.5, 1.49, -2.5, 2.5])).tolist() == [1.0, -1.0, 1.0, -3.0, 3.0]


def test_euler_identity_and_psi_rotation():
    np.testing.assert_allclose(euler_matrices(np.zeros(1), np.zeros(1), np.zeros(1))[0], np.eye(3), atol=1e-15)
    m = euler_matrices(np.zeros(1), np.zeros(1), np.array([90.0]))[0]
    # RELION: A(0,1) = cg*cs + sg*ca = 1 for psi = 90
    np.testing.assert_allclose(m @ [1, 0, 0], [0, -1, 0], atol=1e-12)


def _centre(x, ox, apix):
    return x - ox / apix


def test_recenter_moves_coordinates_keeps_physical_centre():
    x = np.array([100.0, 200.0, 50.0])
    y = np.array([80.0, 90.0, 70.0])
    ox = np.array([3.3, -4.6, 0.75]) * 2.0   # Å, particle px 2.0 = micrograph px
    oy = np.array([-1.2, 2.5, -0.5]) * 2.0
    pa = np.full(3, 2.0)
    nx, ny, nox, noy = reextraction_geometry(x, y, ox, oy, pa, 2.0, recenter=True)
    np.testing.assert_allclose(nx, [97.0, 205.0, 49.0])
    np.testing.assert_allclose(ny, [81.0, 87.0, 71.0])
    np.testing.assert_allclose(_centre(nx, nox, 2.0), _centre(x, ox, 2.0), atol=1e-12)
    np.testing.assert_allclose(_centre(ny, noy, 2.0), _centre(y, oy, 2.0), atol=1e-12)
    assert np.all(np.abs(nox / 2.0) <= 0.5) and np.all(np.abs(noy / 2.0) <= 0.5)


def test_no_recenter_same_pixel_size_keeps_everything():
    x, y, ox, oy = np.array([10.0]), np.array([20.0]), np.array([1.7]), np.array([-2.2])
    out = reextraction_geometry(x, y, ox, oy, np.array([1.0]), 1.0)
    for a, b in zip(out, (x, y, ox, oy)):
        np.testing.assert_array_equal(a, b)


def test_binned_particles_origin_converted_physically_unchanged():
    # particles at 4 Å/px from 1 Å/px micrographs: the origin in Å is the same physical shift
    x, y, ox, oy = np.array([300.0]), np.array([400.0]), np.array([8.0]), np.array([-12.0])
    nx, ny, nox, noy = reextraction_geometry(x, y, ox, oy, np.array([4.0]), 1.0)
    np.testing.assert_allclose(_centre(nx, nox, 1.0), _centre(x, ox, 1.0))
    np.testing.assert_allclose(_centre(ny, noy, 1.0), _centre(y, oy, 1.0))


def test_reset_offsets():
    nx, ny, nox, noy = reextraction_geometry(np.array([5.0]), np.array([6.0]), np.array([3.0]), np.array([4.0]),
                                             np.array([1.0]), 1.0, recenter=True, reset_offsets=True)
    assert (nx[0], ny[0], nox[0], noy[0]) == (5.0, 6.0, 0.0, 0.0)


def test_recenter_on_reference_point_uses_projection():
    # psi = 0: reference point (4, 0, 0) projects to (4, 0); centre moves by +4 px in x
    x, y = np.array([100.0]), np.array([100.0])
    nx, ny, nox, noy = reextraction_geometry(
        x, y, np.zeros(1), np.zeros(1), np.ones(1), 1.0, recenter=True, recenter_px=(4.0, 0.0, 0.0),
        angles_deg=(np.zeros(1), np.zeros(1), np.zeros(1)))
    assert nx[0] == 104.0 and ny[0] == 100.0
