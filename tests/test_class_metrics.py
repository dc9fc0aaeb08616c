"""Scoring class averages against a model: a known projection is found, refined and resolved to Nyquist."""

from __future__ import annotations

import numpy as np

from cryopick.class_metrics import (
    fibonacci_directions,
    frc,
    frc_resolution,
    match_classes,
    refine_fit,
)
from cryopick.sim.density import euler_matrix, make_particle_models, project

PIXEL, BOX, MASK_PX = 3.54, 64, 28.0


def test_a_rotated_shifted_projection_is_matched_and_a_noise_image_is_not():
    model = make_particle_models(170.0, 1, 2024)[0]
    dirs = fibonacci_directions(300)
    library = np.stack([project(model, (r, t, 0.0), PIXEL, BOX) for r, t in dirs])
    truth = project(model, (33.0, 71.0, 22.0), PIXEL, BOX, centre_px=(33.3, 30.6))
    noise = np.random.default_rng(0).normal(size=(BOX, BOX)).astype(np.float32)
    coarse = match_classes(np.stack([truth, noise]), library, PIXEL, MASK_PX)
    assert coarse.ncc[0] > 0.9 and coarse.ncc[1] < 0.4
    r, t = dirs[coarse.projection[0]]
    fit = refine_fit(truth, model, euler_matrix(r, t, -coarse.psi_deg[0]), PIXEL, MASK_PX)
    assert fit.ncc > 0.995
    np.testing.assert_allclose(fit.centre_px, (33.3, 30.6), atol=0.2)
    assert frc_resolution(frc(truth, fit.projection), PIXEL) == 2 * PIXEL


def test_frc_resolution_is_the_shell_before_the_curve_drops():
    curve = np.array([1.0, 0.9, 0.8, 0.6, 0.4, 0.7, 0.2, 0.1, 0.0])   # box 16: shells 0..8
    assert frc_resolution(curve, 2.0) == 16 * 2.0 / 3
    assert frc_resolution(np.ones(9), 2.0) == 4.0
