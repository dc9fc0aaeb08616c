"""One simulated micrograph: truth geometry, dark particles, junk, CTF actually applied."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cryopick.ctf import CtfParams, ctf_image
from cryopick.sim.density import make_particle_models, project
from cryopick.sim.micrograph import simulate_micrograph
from cryopick.sim.params import SimParams

PARAMS = SimParams()  # the default "small" preset


@pytest.fixture(scope="module")
def models():
    return make_particle_models(PARAMS.diameter_angstrom, 2, PARAMS.model_seed)


@pytest.fixture(scope="module")
def mics(models):
    p = PARAMS.replace(n_models=2)
    return [simulate_micrograph(p, models, i, has_carbon=(i == 1), keep_layers=True) for i in range(4)]


def test_geometry_of_truth(mics):
    nx, ny = PARAMS.mic_size_px
    r = 0.5 * PARAMS.diameter_angstrom / PARAMS.pixel_size_angstrom
    for m in mics:
        xy = m.xy_px
        assert 0 < len(xy) <= PARAMS.particles_per_mic
        assert m.image.shape == (ny, nx) and m.image.dtype == np.float32
        assert np.all(xy[:, 0] >= r) and np.all(xy[:, 0] <= nx - 1 - r)
        assert np.all(xy[:, 1] >= r) and np.all(xy[:, 1] <= ny - 1 - r)
        d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        d[np.diag_indices(len(xy))] = np.inf
        assert d.min() >= 2 * r - 1e-9
        for j in m.junk:
            if j.kind == "carbon":
                assert np.all(j.carbon_signed_distance(xy[:, 0], xy[:, 1]) <= -r)
            else:
                rj = j.radius_angstrom / PARAMS.pixel_size_angstrom
                assert np.all(np.hypot(xy[:, 0] - j.x_px, xy[:, 1] - j.y_px) >= rj + r - 1e-9)
        assert set(np.unique(m.class_number)) <= {1, 2}
        assert m.angles_deg.shape == (len(xy), 3)


def test_particles_are_darker_than_background_after_lowpass(mics):
    """Local mean of the low-passed micrograph at true centres < at random background points."""
    pix, d = PARAMS.pixel_size_angstrom, PARAMS.diameter_angstrom / PARAMS.pixel_size_angstrom
    rng = np.random.default_rng(0)
    for m in mics:
        lp = ndimage.gaussian_filter(m.image.astype(np.float64), 20.0 / pix)
        local = ndimage.uniform_filter(lp, size=int(0.4 * d))
        ny, nx = lp.shape
        at_particles = np.array([local[int(round(y)), int(round(x))] for x, y in m.xy_px])
        cand = rng.uniform([d, d], [nx - d, ny - d], size=(4000, 2))
        keep = np.ones(len(cand), bool)
        for x, y in m.xy_px:
            keep &= np.hypot(cand[:, 0] - x, cand[:, 1] - y) > d
        for j in m.junk:
            if j.kind == "carbon":
                keep &= j.carbon_signed_distance(cand[:, 0], cand[:, 1]) < -d
            else:
                keep &= np.hypot(cand[:, 0] - j.x_px, cand[:, 1] - j.y_px) > j.radius_angstrom / pix + d
        background = np.array([local[int(y), int(x)] for x, y in cand[keep][:300]])
        assert len(background) > 30
        assert np.median(at_particles) < np.median(background)
        # most particles individually darker than the typical background
        assert np.mean(at_particles < np.median(background)) > 0.7


def test_truth_angles_reproduce_the_rendered_projections(mics, models):
    pix = PARAMS.pixel_size_angstrom
    box = 64
    good = 0
    m = mics[0]
    proj = m.layers["projections"]
    ny, nx = proj.shape
    for (x, y), ang, k in zip(m.xy_px, m.angles_deg, m.class_number):
        xi, yi = int(np.floor(x)), int(np.floor(y))
        if not (box // 2 <= xi < nx - box // 2 and box // 2 <= yi < ny - box // 2):
            continue
        patch = proj[yi - box // 2 : yi + box // 2, xi - box // 2 : xi + box // 2]
        ref = project(models[k - 1], tuple(ang), pix, box, centre_px=(box // 2 + x - xi, box // 2 + y - yi))
        wrong = project(models[k - 1], (ang[0], ang[1], ang[2] + 90), pix, box,
                        centre_px=(box // 2 + x - xi, box // 2 + y - yi))
        c_ref = np.corrcoef(patch.ravel(), ref.ravel())[0, 1]
        c_wrong = np.corrcoef(patch.ravel(), wrong.ravel())[0, 1]
        if c_ref > 0.99 and c_wrong < c_ref - 0.05:
            good += 1
    assert good >= 5


def test_keep_layers_does_not_change_the_image(models):
    a = simulate_micrograph(PARAMS, models[:1], 2, has_carbon=False, keep_layers=False)
    b = simulate_micrograph(PARAMS, models[:1], 2, has_carbon=False, keep_layers=True)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.xy_px, b.xy_px)
    c = simulate_micrograph(PARAMS.replace(seed=1), models[:1], 2, has_carbon=False)
    assert not np.array_equal(a.image, c.image)


def test_junk_ice_is_very_dark_and_carbon_is_darker(models):
    p = PARAMS.replace(ice_blobs_per_um2=120.0, aggregates_per_um2=120.0)
    m = simulate_micrograph(p, models[:1], 0, has_carbon=True, keep_layers=True)
    kinds = [j.kind for j in m.junk]
    assert kinds.count("carbon") == 1 and "ice" in kinds and "aggregate" in kinds
    pix = p.pixel_size_angstrom
    ny, nx = m.image.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    lp = ndimage.gaussian_filter(m.image.astype(np.float64), 2.0)
    carbon = next(j for j in m.junk if j.kind == "carbon")
    sd = carbon.carbon_signed_distance(xx, yy)
    ice_side, carbon_side = lp[sd < -20], lp[sd > 5]
    assert carbon_side.size > 0 and np.median(carbon_side) < np.median(ice_side)
    for j in m.junk:
        if j.kind != "ice":
            continue
        core = np.hypot(xx - j.x_px, yy - j.y_px) < 0.5 * j.lobes[0][2]
        if core.sum() > 20:
            assert np.median(lp[core]) < np.median(ice_side) - 3.0 / pix
    for j in m.junk:
        if j.kind != "aggregate":
            continue
        near = np.hypot(xx - j.x_px, yy - j.y_px) < j.radius_angstrom / pix
        assert m.layers["projections"][near].sum() > 3.0 * p.particle_contrast * np.pi * (
            0.5 * p.diameter_angstrom / pix) ** 2  # at least ~3 particles' mass in the clump


def _tile_power(image: np.ndarray, tile: int = 128) -> np.ndarray:
    """Periodogram averaged over half-overlapping tiles, rfft layout (tile, tile//2+1)."""
    img = image.astype(np.float64)
    acc, n = np.zeros((tile, tile // 2 + 1)), 0
    for y in range(0, img.shape[0] - tile + 1, tile // 2):
        for x in range(0, img.shape[1] - tile + 1, tile // 2):
            t = img[y : y + tile, x : x + tile]
            acc += np.abs(np.fft.rfft2(t - t.mean())) ** 2
            n += 1
    return acc / n


def _ctf1d(freq: np.ndarray, defocus: float) -> np.ndarray:
    """RELION's isotropic CTF written out (independent of cryopick.ctf)."""
    lam = 12.2643247 / np.sqrt(300e3 * (1 + 0.978466e-6 * 300e3))
    q0 = PARAMS.amplitude_contrast
    gamma = -np.pi * lam * defocus * freq**2 + np.pi / 2 * 2.7e7 * lam**3 * freq**4 - np.arctan(q0 / np.sqrt(1 - q0**2))
    return -np.sin(gamma)


@pytest.mark.parametrize("index", [0, 3])
def test_thon_rings_give_back_the_mean_defocus(models, index):
    """Fit the mean defocus to the micrograph's power spectrum: it must match the CTF returned."""
    m = simulate_micrograph(PARAMS, models[:1], index, has_carbon=False)
    pix, tile = PARAMS.pixel_size_angstrom, 128
    power = _tile_power(m.image, tile)
    r = np.hypot(np.fft.fftfreq(tile, d=pix)[:, None], np.fft.rfftfreq(tile, d=pix)[None, :])
    k = np.rint(r * tile * pix).astype(int)  # radial bin = Fourier pixel ring
    nb = tile // 2
    ok = k < nb
    prof = np.bincount(k[ok], power[ok], nb) / np.maximum(np.bincount(k[ok], minlength=nb), 1)
    freq = np.arange(nb) / (tile * pix)
    band = (freq > 1 / 60.0) & (freq < 1 / 9.0)
    signal = (prof - ndimage.uniform_filter1d(prof, 7))[band]
    best, best_c = None, -np.inf
    for d in np.arange(5000.0, 30000.0, 20.0):
        mp = _ctf1d(freq, d) ** 2
        mp = (mp - ndimage.uniform_filter1d(mp, 7))[band]
        cc = np.corrcoef(signal, mp)[0, 1]
        if cc > best_c:
            best, best_c = d, cc
    true_mean = 0.5 * (m.ctf.defocus_u_angstrom + m.ctf.defocus_v_angstrom)
    assert best == pytest.approx(true_mean, rel=0.02)
    assert best_c > 0.5


def test_astigmatism_angle_matches_power_spectrum(models):
    p = PARAMS.replace(astigmatism_max_angstrom=6000.0, defocus_min_angstrom=15000.0, defocus_max_angstrom=16000.0)
    m = simulate_micrograph(p, models[:1], 5, has_carbon=False)
    pix, tile = p.pixel_size_angstrom, 128
    power = _tile_power(m.image, tile)
    power = power - ndimage.uniform_filter(power, 5)
    c = m.ctf
    assert abs(c.defocus_u_angstrom - c.defocus_v_angstrom) > 1000  # enough astigmatism to see
    r = np.hypot(np.fft.fftfreq(tile, d=pix)[:, None], np.fft.rfftfreq(tile, d=pix)[None, :])
    band = (r > 1 / 60) & (r < 1 / 10)

    def score(angle):
        ctf2 = ctf_image(tile, tile, pix, CtfParams(c.defocus_u_angstrom, c.defocus_v_angstrom, angle), dtype=np.float64) ** 2
        ctf2 = ctf2 - ndimage.uniform_filter(ctf2, 5)
        return np.corrcoef(power[band], ctf2[band])[0, 1]

    offsets = np.arange(-90.0, 90.0, 5.0)
    scores = np.array([score(c.defocus_angle_deg + o) for o in offsets])
    assert abs(offsets[np.argmax(scores)]) <= 10.0
    assert scores.max() > scores.min() + 0.1
