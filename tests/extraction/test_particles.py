import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.extraction.particles import (
    ExtractionSettings,
    background_radius_px,
    extract_particles,
    filter_by_fom,
    validate_settings,
)


def test_background_radius_in_rescaled_pixels():
    assert background_radius_px(256, -1, None) == 96
    assert background_radius_px(256, 200, 64) == 25
    assert background_radius_px(100, 75, None) == 37
    assert background_radius_px(256, -1, 64) == 24


@pytest.mark.parametrize(
    "settings",
    [
        ExtractionSettings(63, None, False),
        ExtractionSettings(64, 31, False),
        ExtractionSettings(64, 128, False),
        ExtractionSettings(64, None, True, bg_radius_px=40),
        ExtractionSettings(64, None, True, bg_radius_px=0),
    ],
)
def test_bad_settings_refused(settings):
    with pytest.raises(BadInputError):
        validate_settings(settings)


def test_fom_filter_is_strict_and_names_file():
    cols = {"rlnCoordinateX": np.array([1.0, 2.0, 3.0]), "rlnCoordinateY": np.array([4.0, 5.0, 6.0]),
            "rlnAutopickFigureOfMerit": np.array([0.5, 1.0, 1.5])}
    kept = filter_by_fom(cols, 1.0, "x.star")
    assert kept["rlnAutopickFigureOfMerit"].tolist() == [1.5]
    assert kept["rlnCoordinateY"].tolist() == [6.0]  # every column filtered alike
    assert len(filter_by_fom(cols, None, "x.star")["rlnCoordinateX"]) == 3
    with pytest.raises(BadInputError, match="nofom_autopick.star"):
        filter_by_fom({k: v for k, v in cols.items() if k != "rlnAutopickFigureOfMerit"}, 0.0, "nofom_autopick.star")


def test_constant_micrograph_keeps_grey_value_through_rescale_and_inversion():
    mic = np.full((100, 120), 7.5, dtype=np.float32)
    s = ExtractionSettings(32, 16, normalise=False, invert_contrast=True)
    images, kept = extract_particles(mic, np.array([50.0, 2.0, 500.0]), np.array([50.0, 99.0, 50.0]), s)
    assert kept.tolist() == [True, True, False]
    assert images.shape == (2, 16, 16) and images.dtype == np.float32
    np.testing.assert_allclose(images, -7.5, atol=1e-5)


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(2)
    mic = rng.normal(size=(200, 210)).astype(np.float32)
    x, y = rng.uniform(0, 210, 23), rng.uniform(0, 200, 23)
    base = dict(box_size_px=32, rescale_px=24, normalise=True, bg_radius_px=9, invert_contrast=True)
    a, _ = extract_particles(mic, x, y, ExtractionSettings(**base, chunk=5))
    b, _ = extract_particles(mic, x, y, ExtractionSettings(**base, chunk=64))
    np.testing.assert_array_equal(a, b)


def test_fom_threshold_on_picks_and_on_a_file_without_picks():
    from cryopick.errors import BadInputError
    from cryopick.extraction.particles import filter_by_fom

    picks = {"rlnCoordinateX": np.array([1.0, 2.0, 3.0]), "rlnCoordinateY": np.array([1.0, 2.0, 3.0]),
             "rlnAutopickFigureOfMerit": np.array([-4.0, -3.0, 1.0])}
    assert filter_by_fom(picks, -3.0, "a.star")["rlnCoordinateX"].tolist() == [3.0]  # FOM > threshold, as RELION
    empty = {"rlnCoordinateX": np.zeros(0), "rlnCoordinateY": np.zeros(0)}  # what a 0-byte file reads as
    assert len(filter_by_fom(empty, -3.0, "b.star")["rlnCoordinateX"]) == 0
    with pytest.raises(BadInputError, match="c.star: no _rlnAutopickFigureOfMerit"):
        filter_by_fom({k: v for k, v in picks.items() if k != "rlnAutopickFigureOfMerit"}, -3.0, "c.star")
