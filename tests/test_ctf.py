"""RELION's CTF model: wavelength, zeros, astigmatism orientation, layouts, options."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.ctf import CtfParams, ctf_image, electron_wavelength_angstrom
from cryopick.errors import BadInputError


def _zero_crossings(profile: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Linearly interpolated sign changes of a 1-D profile."""
    s = np.sign(profile)
    idx = np.nonzero(s[:-1] * s[1:] < 0)[0]
    f0, f1, p0, p1 = freqs[idx], freqs[idx + 1], profile[idx], profile[idx + 1]
    return f0 - p0 * (f1 - f0) / (p1 - p0)


def test_wavelength_matches_relativistic_values():
    assert electron_wavelength_angstrom(300) == pytest.approx(0.019687, abs=1e-6)
    assert electron_wavelength_angstrom(200) == pytest.approx(0.025079, abs=1e-6)
    with pytest.raises(BadInputError):
        electron_wavelength_angstrom(0)


@pytest.mark.parametrize("defocus", [8000.0, 15000.0, 25000.0])
def test_zeros_at_analytic_radii_without_cs_or_amplitude_contrast(defocus):
    n, pix = 1024, 1.0
    p = CtfParams(defocus, defocus, 0.0, voltage_kv=300, cs_mm=0.0, amplitude_contrast=0.0)
    c = ctf_image(n, n, pix, p, dtype=np.float64)
    freqs = np.fft.rfftfreq(n, d=pix)
    zeros = _zero_crossings(c[0, 1:], freqs[1:])  # along +x, skipping the zero at u = 0
    lam = electron_wavelength_angstrom(300)
    expected = np.sqrt(np.arange(1, len(zeros) + 1) / (lam * defocus))
    assert len(zeros) >= 5
    np.testing.assert_allclose(zeros, expected, atol=0.5 / (n * pix))


def test_zeros_with_amplitude_contrast_shift():
    n, pix, z, q0 = 1024, 1.0, 12000.0, 0.1
    p = CtfParams(z, z, 0.0, voltage_kv=300, cs_mm=0.0, amplitude_contrast=q0)
    c = ctf_image(n, n, pix, p, dtype=np.float64)
    freqs = np.fft.rfftfreq(n, d=pix)
    zeros = _zero_crossings(c[0], freqs)
    lam = electron_wavelength_angstrom(300)
    k3 = np.arctan(q0 / np.sqrt(1 - q0 * q0))
    k = np.arange(1, len(zeros) + 1)
    expected = np.sqrt((k * np.pi - k3) / (np.pi * lam * z))
    np.testing.assert_allclose(zeros, expected, atol=0.5 / (n * pix))


def test_spherical_aberration_moves_high_frequency_zeros():
    n, pix, z = 512, 1.0, 10000.0
    c0 = ctf_image(n, n, pix, CtfParams(z, z, 0.0, cs_mm=0.0, amplitude_contrast=0.0), dtype=np.float64)
    c27 = ctf_image(n, n, pix, CtfParams(z, z, 0.0, cs_mm=2.7, amplitude_contrast=0.0), dtype=np.float64)
    freqs = np.fft.rfftfreq(n, d=pix)
    z0, z27 = _zero_crossings(c0[0, 1:], freqs[1:]), _zero_crossings(c27[0, 1:], freqs[1:])
    # the Cs term adds +pi/2 Cs lambda^3 u^4 to gamma: the first zero barely moves, later ones move outwards
    assert abs(z27[0] - z0[0]) < 2.0 / n
    assert z27[10] > z0[10]


def test_value_at_origin_is_amplitude_contrast_and_positive_for_underfocus():
    p = CtfParams(15000, 14000, 20, amplitude_contrast=0.07)
    c = ctf_image(64, 64, 2.0, p, dtype=np.float64)
    assert c[0, 0] == pytest.approx(0.07, abs=1e-12)
    assert c[0, 1] > 0.07  # grows at low frequency for underfocus (white-protein convention)
    shifted = ctf_image(64, 64, 2.0, CtfParams(15000, 14000, 20, amplitude_contrast=0.07, phase_shift_deg=90), dtype=np.float64)
    assert shifted[0, 0] == pytest.approx(np.sqrt(1 - 0.07**2), abs=1e-12)


@pytest.mark.parametrize("angle", [0.0, 45.0, 135.0, -45.0])
def test_astigmatism_orientation_defocus_u_along_the_angle(angle):
    """Along azimuth = rlnDefocusAngle (from +x = columns towards +y = rows) the CTF is the
    isotropic CTF with DefocusU; perpendicular to it, the one with DefocusV."""
    n, pix, u, v = 256, 1.5, 20000.0, 12000.0
    astig = ctf_image(n, n, pix, CtfParams(u, v, angle), half=False, dtype=np.float64)
    iso_u = ctf_image(n, n, pix, CtfParams(u, u, angle), half=False, dtype=np.float64)
    iso_v = ctf_image(n, n, pix, CtfParams(v, v, angle), half=False, dtype=np.float64)
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    az = np.rad2deg(np.arctan2(fy, fx))
    r = np.hypot(fx, fy)
    ring = (r > 0.05) & (r < 0.45)

    def along(direction):
        d = np.abs(((az - direction) + 90) % 180 - 90)  # angle to the line (both signs of u)
        return ring & (d < 1e-9)

    on_u, on_v = along(angle), along(angle + 90)
    assert on_u.sum() > 10 and on_v.sum() > 10
    np.testing.assert_allclose(astig[on_u], iso_u[on_u], atol=1e-10)
    np.testing.assert_allclose(astig[on_v], iso_v[on_v], atol=1e-10)
    assert not np.allclose(astig[on_u], iso_v[on_u], atol=1e-3)


def test_half_plane_is_left_part_of_full_plane_and_shapes():
    p = CtfParams(10000, 9000, 33)
    full = ctf_image(48, 40, 1.7, p, half=False)
    half = ctf_image(48, 40, 1.7, p, half=True)
    assert full.shape == (48, 40) and half.shape == (48, 21)
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, full[:, :21], atol=1e-6)
    assert ctf_image(48, 40, 1.7, p, dtype=np.float64).dtype == np.float64


def test_batched_defocus_equals_individual_images():
    du = np.array([9000.0, 15000.0, 22000.0])
    dv = du - np.array([100.0, 300.0, 0.0])
    ang = np.array([10.0, -45.0, 170.0])
    batch = ctf_image(32, 32, 2.0, CtfParams(du, dv, ang, bfactor_angstrom2=50.0), dtype=np.float64)
    assert batch.shape == (3, 32, 17)
    for k in range(3):
        single = ctf_image(32, 32, 2.0, CtfParams(du[k], dv[k], ang[k], bfactor_angstrom2=50.0), dtype=np.float64)
        np.testing.assert_allclose(batch[k], single, atol=1e-12)


def test_intact_until_first_peak():
    n, pix = 256, 1.0
    p = CtfParams(20000, 20000, 0.0)
    plain = ctf_image(n, n, pix, p, dtype=np.float64)
    intact = ctf_image(n, n, pix, p, intact_first_peak=True, dtype=np.float64)
    profile_plain, profile_intact = plain[0], intact[0]
    peak = int(np.argmax(profile_plain[: n // 8]))  # first maximum (|gamma| = pi/2)
    assert np.all(profile_intact[:peak] == 1.0)
    np.testing.assert_allclose(profile_intact[peak + 2 :], profile_plain[peak + 2 :])


def test_bfactor_and_scale_envelope():
    n, pix, b = 128, 1.0, 200.0
    base = ctf_image(n, n, pix, CtfParams(15000, 15000, 0), dtype=np.float64)
    damped = ctf_image(n, n, pix, CtfParams(15000, 15000, 0, bfactor_angstrom2=b, scale=0.5), dtype=np.float64)
    fy, fx = np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :]
    np.testing.assert_allclose(damped, 0.5 * base * np.exp(-b * (fx**2 + fy**2) / 4), atol=1e-12)


def test_bad_parameters_raise():
    with pytest.raises(BadInputError):
        ctf_image(16, 16, 1.0, CtfParams(1e4, 1e4, 0, amplitude_contrast=1.0))
    with pytest.raises(BadInputError):
        ctf_image(16, 16, 0.0, CtfParams(1e4, 1e4, 0))


def test_matches_relion_formula_pointwise_off_axis():
    """Pointwise check against RELION's getCTF written out with defocus_average/deviation."""
    ny, nx, pix = 40, 36, 1.3
    u, v, ang, q0, cs, kv, ps, b = 18000.0, 16500.0, 30.0, 0.1, 2.7, 300.0, 12.0, 40.0
    c = ctf_image(ny, nx, pix, CtfParams(u, v, ang, kv, cs, q0, ps, b, 0.9), dtype=np.float64)
    lam = 12.2643247 / np.sqrt(kv * 1e3 * (1 + 0.978466e-6 * kv * 1e3))
    k1, k2 = np.pi * lam, np.pi / 2 * cs * 1e7 * lam**3
    k3, k4, k5 = np.arctan(q0 / np.sqrt(1 - q0**2)), -b / 4, np.deg2rad(ps)
    for i, j in [(0, 1), (3, 5), (7, 2), (35, 11), (20, 18), (39, 17)]:
        ip = i if i <= ny // 2 else i - ny
        x, y = j / (nx * pix), ip / (ny * pix)
        deltaf = -((u + v) / 2 + (u - v) / 2 * np.cos(2 * (np.arctan2(y, x) - np.deg2rad(ang))))
        u2 = x * x + y * y
        arg = k1 * deltaf * u2 + k2 * u2 * u2 - k5 - k3
        expected = 0.9 * -np.sin(arg) * np.exp(k4 * u2)
        assert c[i, j] == pytest.approx(expected, abs=1e-12), (i, j)
