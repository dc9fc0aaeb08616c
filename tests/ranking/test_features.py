"""Class-ranker features (relion_spec.md §5.3–5.4) on synthetic class averages with known answers."""

import math

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.ranking import class_features as clf
from cryopick.ranking import image_features as imf
from cryopick.ranking import network_input as net

S = 64  # side of the test images, drawn directly at 4 Å/px (so the rescale is the identity)
APIX = 4.0
R = 24.0  # mask radius of a 192 Å particle at 4 Å/px
DIAMETER = 2 * R * APIX


def offsets(size=S):
    """(dy, dx) of every pixel from the centre pixel (size//2, size//2)."""
    d = np.arange(size) - size // 2
    return np.meshgrid(d, d, indexing="ij")


def radii(size=S):
    dy, dx = offsets(size)
    return np.sqrt(dy * dy + dx * dx)


def soft_disc(r_full, r_zero, size=S):
    """1 for r ≤ r_full, raised cosine to 0 at r_zero, 0 beyond."""
    r = radii(size)
    edge = 0.5 + 0.5 * np.cos(np.pi * (r - r_full) / (r_zero - r_full))
    return np.where(r <= r_full, 1.0, np.where(r >= r_zero, 0.0, edge))


# ---------------------------------------------------------------- ring moments


def test_ring_moments_of_a_constant_ring():
    m = imf.ring_moments(np.full((S, S), 0.7), R)
    assert m.mean == pytest.approx(0.7, abs=1e-12)
    assert m.stddev < 1e-12
    assert (m.skew, m.kurtosis) == (0.0, 0.0)


def test_ring_moments_of_a_two_valued_ring():
    # +1 right of the centre column, −1 left of it, 0 on it: mean and skew vanish by symmetry
    dy, dx = offsets()
    img = np.sign(dx).astype(float)
    r2 = dy * dy + dx * dx
    ring = (r2 >= (0.95 * R) ** 2) & (r2 <= R * R)
    n, n_zero = ring.sum(), (ring & (dx == 0)).sum()
    assert n_zero == 4  # dy = ±23, ±24
    m = imf.ring_moments(img, R)
    assert m.sum == 0.0 and m.mean == 0.0 and m.skew == 0.0
    assert m.stddev == pytest.approx(math.sqrt((n - n_zero) / n), rel=1e-12)
    assert m.kurtosis == pytest.approx(n / (n - n_zero), rel=1e-12)


@pytest.mark.parametrize("column_offset, inside", [(18, False), (19, True), (20, True), (21, False)])
def test_ring_is_inclusive_at_both_radii(column_offset, inside):
    # R = 20: the ring is 19 ≤ r ≤ 20 on the integer grid
    img = np.zeros((S, S))
    img[S // 2, S // 2 + column_offset] = 1.0
    assert imf.ring_moments(img, 20.0).sum == (1.0 if inside else 0.0)


# ---------------------------------------------------------------- low-pass statistics


def test_lowpass_of_a_constant_image():
    stats = imf.lowpass_stats(imf.lowpass_filter(np.full((S, S), -2.5), APIX))
    assert stats.mean == pytest.approx(-2.5, abs=1e-12)
    assert stats.stddev < 1e-12
    assert stats.min == pytest.approx(-2.5, abs=1e-12) and stats.max == pytest.approx(-2.5, abs=1e-12)


def test_lowpass_removes_a_checkerboard():
    dy, dx = offsets()
    checker = np.where((dy + dx) % 2 == 0, 1.0, -1.0)
    assert checker.std() == 1.0
    assert imf.lowpass_stats(imf.lowpass_filter(checker, APIX)).stddev < 1e-12


def test_lowpass_keeps_shells_below_25_angstrom_and_removes_those_above():
    # 64 px at 4 Å: the 25 Å shell is ROUND(10.24) = 10, the edge runs from shell 9 to 11
    x = np.arange(S)[None, :] * np.ones((S, 1))
    kept, removed = np.cos(2 * np.pi * 8 * x / S), np.cos(2 * np.pi * 12 * x / S)
    np.testing.assert_allclose(imf.lowpass_filter(kept + removed, APIX), kept, atol=1e-12)
    half = imf.lowpass_filter(np.cos(2 * np.pi * 10 * x / S), APIX)  # on the shell: cos(π/2)·½ + ½
    np.testing.assert_allclose(half, 0.5 * np.cos(2 * np.pi * 10 * x / S), atol=1e-12)


# ---------------------------------------------------------------- rescaling


@pytest.mark.parametrize("box, apix, size", [(100, 1.3, 32), (64, 1.0, 16), (128, 2.0, 64), (90, 1.0, 22)])
def test_rescaled_size_rounds_then_drops_to_even(box, apix, size):
    # 100·1.3/4 = 32.5 → 33 → 32; 90/4 = 22.5 → 23 → 22
    assert imf.rescaled_size(box, apix) == size


def test_rescale_keeps_a_low_frequency_cosine():
    box, apix = 100, 1.3
    x = np.arange(box)[None, :] * np.ones((box, 1))
    out = imf.rescale_to_pixel_size(2.0 + np.cos(2 * np.pi * 3 * x / box), apix)
    assert out.shape == (32, 32)
    x2 = np.arange(32)[None, :] * np.ones((32, 1))
    np.testing.assert_allclose(out, 2.0 + np.cos(2 * np.pi * 3 * x2 / 32), atol=1e-12)


# ---------------------------------------------------------------- protein and solvent masks


def test_masks_grow_four_connected_islands_from_the_centre():
    dy, dx = offsets()
    r2 = dy * dy + dx * dx
    img = np.zeros((S, S))
    img[r2 <= 64] = 1.0  # protein: 8 px disc
    c = S // 2
    img[c - 1:c + 2, c + 11:c + 14] = 1.0  # 9 px island in the central disc (r ≤ 0.6R = 14.4): scattered
    img[c + 6, c + 7] = 1.0  # touches the disc only diagonally: a 1 px scattered island
    img[c - 1:c + 2, c + 19:c + 22] = 1.0  # outside the central disc, never reached: ignored
    masks = imf.solvent_masks(img, 0.5, R)
    np.testing.assert_array_equal(masks.protein, r2 <= 64)
    assert masks.scattered_px == 10
    assert masks.scattered_signal == pytest.approx(10 / (10 + (r2 <= 64).sum() + 1))
    np.testing.assert_array_equal(masks.solvent, (r2 <= R * R) & (r2 > 64))


def test_central_island_smaller_than_the_protein_minimum_is_scattered():
    # protein needs more than 0.1·3.14·0.36·R² = 65.1 px in the central disc
    dy, dx = offsets()
    for radius_sq, is_protein in ((16, False), (25, True)):  # 49 px and 81 px discs
        masks = imf.solvent_masks((dy * dy + dx * dx <= radius_sq).astype(float), 0.5, R)
        assert (masks.protein_area_px > 0) == is_protein
        assert (masks.scattered_px > 0) == (not is_protein)


def test_only_the_central_part_of_an_island_makes_it_protein():
    # a 5 × 19 px bar reaching out of the central disc: 95 px in all, but only 50 of them central
    dy, dx = offsets()
    bar = (np.abs(dy) <= 2) & (dx >= 5) & (dx <= 23)
    central = dy * dy + dx * dx <= 0.36 * R * R
    assert (bar & central).sum() == 50 and bar.sum() == 95
    masks = imf.solvent_masks(bar.astype(float), 0.5, R)
    assert masks.protein_area_px == 0 and masks.scattered_px == 95


def test_centred_disc_is_protein_on_clean_solvent():
    disc = soft_disc(10.0, 13.0)
    f = imf.class_image_features(disc, APIX, DIAMETER)
    r = radii()
    # the 25 Å low-pass blurs the edge by about half its wavelength (25/8 px)
    masks = imf.solvent_masks(imf.lowpass_filter(disc, APIX), 0.05 * f.lowpass.stddev, R)
    assert masks.protein[r <= 10].all()
    assert not masks.protein[r > 13 + 25 / 8].any()
    assert (r < 13).sum() <= f.protein_area_px <= (r <= 13 + 25 / 8).sum()
    assert f.protein_area_px == masks.protein_area_px
    assert f.solvent_area_px == (r <= R).sum() - f.protein_area_px
    assert f.has_protein and f.has_solvent
    assert f.scattered_signal == 0.0
    assert f.edge_signal == 0.0
    assert abs(f.solvent.mean) < 1e-3
    assert f.protein.sum == pytest.approx(disc.sum(), rel=1e-9)  # all the signal is under the protein mask
    assert f.relative_signal_intensity == pytest.approx(f.protein.sum - f.solvent.mean * f.protein_area_px)


def test_disc_reaching_the_mask_radius_has_edge_signal():
    f = imf.class_image_features(soft_disc(26.0, 29.0), APIX, DIAMETER)
    r = radii()
    edge = np.floor(r + 0.5) == round(R)
    # protein stops at r = R: the pixels of the edge ring inside R are protein, those beyond are not
    assert f.edge_signal == pytest.approx((edge & (r <= R)).sum() / edge.sum())
    assert f.edge_signal > 0.3


def test_scattered_blobs_are_not_protein():
    dy, dx = offsets()
    img = -np.ones((S, S))
    for cy, cx in [(-7, -7), (-7, 7), (7, -7), (7, 7)]:  # inside the central disc, well apart
        img += 2 * np.exp(-((dy - cy) ** 2 + (dx - cx) ** 2) / (2 * 2.0**2))
    f = imf.class_image_features(img, APIX, DIAMETER)
    assert f.protein_area_px == 0 and not f.has_protein
    assert f.scattered_signal > 0.9
    assert (f.protein.sum, f.protein.stddev) == (0.0, 0.0)
    assert f.solvent_area_px == (radii() <= R).sum()


# ---------------------------------------------------------------- granulometry


def _opened_sum_by_definition(img, n):
    """Erosion then dilation over the disc dx² + dy² ≤ n², clipped to the image (spec §5.3)."""
    size = img.shape[0]
    element = [(a, b) for a in range(-n, n + 1) for b in range(-n, n + 1) if a * a + b * b <= n * n]

    def sweep(src, pick):
        out = np.empty_like(src)
        for y in range(size):
            for x in range(size):
                out[y, x] = pick([src[y + a, x + b] for a, b in element if 0 <= y + a < size and 0 <= x + b < size])
        return out

    return sweep(sweep(img, min), max).sum()


def test_granulometry_follows_the_definition_at_the_borders():
    img = np.random.default_rng(3).normal(size=(16, 16))
    expected = [_opened_sum_by_definition(img, n) for n in range(1, 7)]
    np.testing.assert_allclose(imf.granulometry(img), expected, rtol=1e-12)


def test_granulometry_removes_a_single_pixel():
    img = np.zeros((S, S))
    img[20, 37] = 5.0
    np.testing.assert_array_equal(imf.granulometry(img), np.zeros(6))


def test_granulometry_removes_bars_thinner_than_the_disc():
    img = np.zeros((S, S))
    img[30:33, :] = 1.0  # 3 px wide: survives radius 1 (3 px tall), not radius 2 (5 px tall)
    np.testing.assert_array_equal(imf.granulometry(img), [3.0 * S, 0, 0, 0, 0, 0])


def test_granulometry_keeps_a_large_disc():
    disc = (radii() <= 20).astype(float)
    sums = imf.granulometry(disc)
    assert sums[0] == disc.sum()
    assert np.all(sums <= disc.sum()) and np.all(sums >= 0.95 * disc.sum())


def test_granulometry_needs_15_pixels():
    with pytest.raises(BadInputError, match="15"):
        imf.granulometry(np.zeros((14, 14)))


# ---------------------------------------------------------------- whole image features


def test_image_features_are_computed_at_4_angstrom():
    # a 128 px box at 2 Å/px becomes 64 px; a 300 Å particle gives R = min(32, 37.5)
    f = imf.class_image_features(np.zeros((128, 128)), 2.0, 300.0)
    assert (f.size_px, f.radius_px) == (64, 32.0)
    assert imf.class_image_features(np.zeros((128, 128)), 2.0, 100.0).radius_px == 12.5
    assert len(f.granulo) == 6


@pytest.mark.parametrize("image, apix, diameter", [
    (np.zeros((64, 60)), 4.0, 200.0),
    (np.zeros((4, 64, 64)), 4.0, 200.0),
    (np.zeros((64, 64)), 0.0, 200.0),
    (np.zeros((64, 64)), -1.0, 200.0),
    (np.zeros((64, 64)), 4.0, 0.0),
])
def test_impossible_inputs_are_refused(image, apix, diameter):
    with pytest.raises(BadInputError):
        imf.class_image_features(image, apix, diameter)
    with pytest.raises(BadInputError):
        net.cnn_image(image, apix, diameter)


# ---------------------------------------------------------------- class-level features


def test_class_model_features():
    cls = clf.ModelClass(class_distribution=0.25, estimated_resolution_angstrom=8.0, accuracy_rotation_deg=2.0,
                       accuracy_translation_angstrom=1.5)
    m = clf.class_model_features(cls, n_particles=400, box_px=64, pixel_size_angstrom=2.0)
    assert m.particle_nr == 100.0
    assert m.weighted_resolution == pytest.approx((1 / 64) / math.log(100))
    assert m.relative_resolution == pytest.approx(8.0 / 128.0)
    assert (m.accuracy_rotation_deg, m.accuracy_translation_angstrom) == (2.0, 1.5)


def test_small_classes_are_not_ranked():
    cls = clf.ModelClass(0.01, 8.0, 2.0, 1.5)
    assert not clf.is_ranked(clf.particle_count(0.01, 1000))  # exactly 10 particles
    with pytest.raises(BadInputError, match="not ranked"):
        clf.class_model_features(cls, 1000, 64, 2.0)
    assert clf.class_model_features(cls, 1050, 64, 2.0).particle_nr == pytest.approx(10.5)


def test_unknown_accuracies_of_small_classes_default_to_5_degrees_and_8_angstrom():
    cls = clf.ModelClass(0.1, 8.0, 999.0, 3.0)
    assert clf.class_accuracies(cls, particle_nr=100.0) == (5.0, 8.0)
    assert clf.class_accuracies(clf.ModelClass(0.1, 8.0, 3.0, 999.0), particle_nr=20.0) == (5.0, 8.0)
    assert clf.class_accuracies(clf.ModelClass(0.1, 8.0, 99.0, 99.0), particle_nr=500.0) == (99.0, 99.0)


def test_unknown_accuracies_of_large_classes_must_be_given():
    cls = clf.ModelClass(0.1, 8.0, 999.0, 999.0)
    with pytest.raises(NotImplementedError, match="re-estimates"):
        clf.class_accuracies(cls, particle_nr=101.0)
    assert clf.class_accuracies(cls, 101.0, reestimated=(4.5, 2.5)) == (4.5, 2.5)


def test_resolution_fallbacks():
    shells = np.array([999.0, 40.0, 20.0, 13.3, 10.0])
    cls = clf.ModelClass(0.1, 0.0, 1.0, 1.0, ssnr=np.array([0.5, 4.0, 2.0, 0.8, 0.3]), shell_resolution_angstrom=shells)
    assert clf.estimated_resolution(cls, 1.5) == 20.0  # the shell before the first (from 1) with SSNR < 1
    always_good = clf.ModelClass(0.1, -1.0, 1.0, 1.0, ssnr=np.full(5, 3.0), shell_resolution_angstrom=shells)
    assert clf.estimated_resolution(always_good, 1.5) == 3.0
    assert clf.estimated_resolution(clf.ModelClass(0.1, 0.0, 1.0, 1.0), 1.5) == 3.0
    assert clf.estimated_resolution(clf.ModelClass(0.1, 7.5, 1.0, 1.0), 1.5) == 7.5


# ---------------------------------------------------------------- feature vector


def _class_features(values):
    """ClassFeatures whose raw feature k is values[k]."""
    v = [float(x) for x in values]
    model = clf.ClassModelFeatures(particle_nr=50.0, estimated_resolution_angstrom=10.0, weighted_resolution=v[2],
                                 relative_resolution=v[3], accuracy_rotation_deg=v[0],
                                 accuracy_translation_angstrom=v[1])
    image = imf.ClassImageFeatures(
        size_px=64, radius_px=24.0,
        ring=imf.Moments(sum=-1.0, mean=v[4], stddev=v[5], skew=-1.0, kurtosis=-1.0),
        lowpass=imf.LowpassStats(mean=v[11], stddev=v[12], min=v[13], max=v[14]),
        protein=imf.Moments(sum=v[21], mean=-1.0, stddev=v[6], skew=-1.0, kurtosis=-1.0),
        solvent=imf.Moments(sum=v[22], mean=v[7], stddev=v[8], skew=-1.0, kurtosis=-1.0),
        protein_area_px=-1, solvent_area_px=-1, has_protein=True, has_solvent=True,
        scattered_signal=v[9], relative_signal_intensity=v[23], edge_signal=v[10], granulo=tuple(v[15:21]),
    )
    return net.ClassFeatures(model, image)


def test_raw_features_are_in_relion_order():
    np.testing.assert_array_equal(net.raw_features(_class_features(range(100, 124))), np.arange(100, 124))


def test_fixed_features_are_z_scored_with_relions_constants():
    at_mean = np.concatenate([net.FIXED_MEAN, [1.0, 2.0, 3.0]])
    one_up = np.concatenate([net.FIXED_MEAN + net.FIXED_STD, [1.0, 2.0, 3.0]])
    out = net.feature_vector([_class_features(at_mean), _class_features(one_up)])
    assert out.dtype == np.float32 and out.shape == (2, 24)
    np.testing.assert_allclose(out[0, :21], 0.0, atol=1e-6)
    np.testing.assert_allclose(out[1, :21], 1.0, atol=1e-5)
    assert net.FIXED_MEAN[4] == -0.199 and net.FIXED_STD[20] == 4709.751  # ring mean, granulo[5]


def test_job_features_are_z_scored_within_the_job():
    rng = np.random.default_rng(1)
    raw = np.tile(net.FIXED_MEAN, (5, 1))
    local = np.column_stack([rng.normal(1e4, 300.0, 5), rng.normal(-50.0, 4.0, 5), np.full(5, 7.0)])
    out = net.normalise_features(np.hstack([raw, local]))
    np.testing.assert_allclose(out[:, 21:23].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out[:, 21:23].std(axis=0), 1.0, atol=1e-6)  # population std
    np.testing.assert_allclose(out[:, 21], (local[:, 0] - local[:, 0].mean()) / local[:, 0].std(), rtol=1e-6)
    np.testing.assert_array_equal(out[:, 23], 0.0)  # constant within the job


def test_feature_vector_of_an_empty_job_and_wrong_shapes():
    assert net.feature_vector([]).shape == (0, 24)
    with pytest.raises(BadInputError):
        net.normalise_features(np.zeros((3, 23)))


# ---------------------------------------------------------------- CNN image


@pytest.mark.parametrize("apix, diameter, width", [(2.0, 100.0, 52), (2.0, 99.0, 52), (2.0, 98.0, 50),
                                                     (1.0, 62.5, 64), (1.0, 62.0, 64)])
def test_cnn_window_is_even(apix, diameter, width):
    # CEIL(D/apix) + 1, plus 1 if odd: 51 → 52, ceil(49.5) + 1 = 51 → 52, 50, 64, 63 → 64
    assert net.cnn_window_px(apix, diameter) == width


def test_cnn_image_of_a_64_px_window_is_the_centre_of_the_box():
    img = np.random.default_rng(2).normal(size=(80, 80))
    out = net.cnn_image(img, 1.0, 62.0)  # window 64 around pixel 40: rows and columns 8..71
    assert out.shape == (64, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out, img[8:72, 8:72], atol=1e-5)


def test_cnn_image_zero_pads_a_small_box():
    img = np.full((32, 32), 3.0)
    window = net.centre_window(img, net.cnn_window_px(2.0, 100.0))  # 52 > 32
    assert window.shape == (52, 52)
    np.testing.assert_array_equal(window[10:42, 10:42], img)
    assert window.sum() == img.sum()
    out = net.cnn_image(img, 2.0, 100.0)
    assert out.shape == (64, 64)
    assert out.mean() == pytest.approx(3.0 * 32**2 / 52**2, rel=1e-5)  # Fourier resizing keeps the mean


def test_cnn_image_is_not_normalised():
    img = 5.0 + soft_disc(20.0, 24.0)
    out = net.cnn_image(img, APIX, 4 * 63)  # window 64: the whole box
    np.testing.assert_allclose(out, img, atol=1e-5)


def test_an_unresolved_class_gets_a_finite_resolution():
    cls = clf.ModelClass(0.5, float("inf"), 3.0, 2.0)
    assert clf.estimated_resolution(cls, 2.0) == clf.UNRESOLVED_ANGSTROM
    shells = clf.ModelClass(0.5, -1.0, 3.0, 2.0, ssnr=np.array([5.0, 0.5, 0.2]),
                            shell_resolution_angstrom=np.array([np.inf, 100.0, 50.0]))
    assert clf.estimated_resolution(shells, 2.0) == clf.UNRESOLVED_ANGSTROM  # shell 0 is at infinite resolution
