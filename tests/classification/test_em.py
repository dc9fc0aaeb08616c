"""2D classification end to end on simulated particles with known classes, angles and shifts.

300 particles of 4 known classes, 32 px, CTF-affected, rotated, shifted and noisy; 5 EM
iterations from random initial references. The classes, the particles' classes and their
in-plane angles must come back.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cryopick.classification.em import classify
from cryopick.classification.grid import FourierGrid
from cryopick.classification.initialise import initialise
from cryopick.classification.model import ParticleData, Settings
from cryopick.classification.state import ParticleState
from cryopick.sim.particles2d import known_classes, rotate_and_shift, simulate_particles

N, BOX, K, PIXEL = 300, 32, 4, 4.0


def particle_data(sim) -> ParticleData:
    n = len(sim.classes)
    return ParticleData(
        images=sim.images, pixel_size_angstrom=PIXEL, defocus_u=sim.defocus_u_angstrom, defocus_v=sim.defocus_v_angstrom,
        defocus_angle=sim.defocus_angle_deg, phase_shift=np.zeros(n), bfactor=np.zeros(n), ctf_scale=np.ones(n),
        voltage_kv=np.full(n, 300.0), cs_mm=np.full(n, 2.7), amplitude_contrast=np.full(n, 0.1),
        optics_group=np.zeros(n, dtype=np.int64), group=np.arange(n) // 50, group_names=[f"m{i}" for i in range(6)])


@pytest.fixture(scope="module")
def run():
    truth = known_classes(BOX, K)
    sim = simulate_particles(truth, N, PIXEL, np.random.default_rng(11), noise_sigma=0.1, max_shift_px=2.0)
    data = particle_data(sim)
    settings = Settings(n_classes=K, n_iterations=5, mask_diameter_angstrom=100.0, offset_range_px=4.0, seed=1)
    grid = FourierGrid(BOX)
    state = ParticleState.initial(N)
    model = initialise(data, state, settings, grid)
    model, state = classify(data, settings, model, state, 1, grid)
    return truth, sim, model, state


def lowpass(images: np.ndarray, shell: int) -> np.ndarray:
    ft = np.fft.fft2(images)
    f = np.fft.fftfreq(images.shape[-1]) * images.shape[-1]
    keep = np.hypot(f[:, None], f[None, :]) <= shell
    return np.real(np.fft.ifft2(ft * keep))


def best_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Highest normalised cross-correlation of b against a over rotations (2°) and cyclic shifts."""
    fa = np.conj(np.fft.fft2((a - a.mean()) / a.std()))
    best = -1.0
    for angle in np.arange(0.0, 360.0, 2.0):
        r = rotate_and_shift(b, angle, (0.0, 0.0))
        r = (r - r.mean()) / r.std()
        best = max(best, float(np.real(np.fft.ifft2(fa * np.fft.fft2(r))).max() / a.size))
    return best


def test_known_class_averages_are_recovered(run):
    truth, _, model, _ = run
    refs = lowpass(model.references.numpy().astype(np.float64), 7)
    want = lowpass(truth, 7)
    for k in range(K):
        cc = max(best_correlation(want[k], refs[j]) for j in range(K))
        assert cc > 0.9, f"true class {k + 1}: best correlation {cc:.2f}"


def test_particles_get_the_right_class_and_angle(run):
    _, sim, _model, state = run
    confusion = np.zeros((K, K), dtype=int)
    np.add.at(confusion, (sim.classes, state.klass), 1)
    match = confusion.argmax(axis=1)                         # each true class's class
    assert sorted(match.tolist()) == list(range(K)), confusion
    correct = state.klass == match[sim.classes]
    assert correct.mean() > 0.95, confusion
    for k in range(K):
        sel = correct & (sim.classes == k)
        # a class average may sit at any rotation: the angle differences are constant within a class
        d = np.deg2rad(state.psi_deg[sel] - sim.psi_deg[sel])
        mean = np.angle(np.mean(np.exp(1j * d)))
        spread = np.rad2deg(np.abs(np.angle(np.exp(1j * (d - mean)))))
        assert np.median(spread) < 6.0, f"class {k + 1}: median angular error {np.median(spread):.1f} deg"


def test_model_statistics_are_sane(run):
    _, _, model, state = run
    assert torch.isclose(model.class_prior.sum(), torch.tensor(1.0))
    assert model.average_pmax > 0.3 and np.all(state.pmax > 0) and np.all(state.pmax <= 1)
    assert model.resolution_shell >= 6 and model.current_size <= BOX
    assert np.all(state.n_significant >= 1)
    assert np.all(model.accuracy_rotations_deg < 30) and np.all(model.accuracy_translations_angstrom < 40)
