"""The LoG picker on synthetic micrographs with known particle centres."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.picking.log import LoGParams, LoGPicker
from micrograph_factory import blob_micrograph, separated_centres

APIX = 3.0
DIAM = 150.0  # Å -> 50 px


def recall_precision(picks, truth, radius):
    got = np.c_[picks.x_px, picks.y_px]
    if len(got) == 0:
        return 0.0, 0.0
    d = np.linalg.norm(got[:, None, :] - truth[None, :, :], axis=2)
    recall = float(np.mean(d.min(axis=0) < radius))
    precision = float(np.mean(d.min(axis=1) < radius))
    return recall, precision


@pytest.mark.parametrize("shape", [(600, 600), (560, 640)])
def test_finds_dark_blobs(shape):
    truth = separated_centres(shape, 25, min_dist=70, margin=40, seed=3)
    sigma = DIAM / APIX / 4
    mic = blob_micrograph(shape, truth, sigma, amplitude=-1.5, noise=1.0, seed=4)
    picks = LoGPicker(LoGParams(DIAM - 20, DIAM + 20, APIX), shape).pick(mic)
    recall, precision = recall_precision(picks, truth, radius=DIAM / APIX / 4)
    assert recall > 0.9 and precision > 0.6
    assert np.all(np.diff(picks.fom) <= 1e-6)  # emitted in decreasing FOM order


def test_white_particles_need_the_white_option():
    shape = (600, 600)
    truth = separated_centres(shape, 20, min_dist=70, margin=40, seed=5)
    mic = blob_micrograph(shape, truth, DIAM / APIX / 4, amplitude=+1.5, noise=1.0, seed=6)
    white = LoGPicker(LoGParams(DIAM - 20, DIAM + 20, APIX, particles_white=True), shape).pick(mic)
    dark = LoGPicker(LoGParams(DIAM - 20, DIAM + 20, APIX), shape).pick(mic)
    r_white, _ = recall_precision(white, truth, DIAM / APIX / 4)
    r_dark, _ = recall_precision(dark, truth, DIAM / APIX / 4)
    assert r_white > 0.9 and r_dark < 0.3


def test_threshold_and_upper_threshold_reduce_picks():
    shape = (600, 600)
    truth = separated_centres(shape, 25, min_dist=70, margin=40, seed=7)
    mic = blob_micrograph(shape, truth, DIAM / APIX / 4, amplitude=-0.4, noise=1.0, seed=8)
    base = LoGPicker(LoGParams(DIAM - 20, DIAM + 20, APIX), shape).pick(mic)
    strict = LoGPicker(LoGParams(DIAM - 20, DIAM + 20, APIX, threshold_stddev=1.0), shape).pick(mic)
    capped = LoGPicker(LoGParams(DIAM - 20, DIAM + 20, APIX, upper_threshold_stddev=3.0), shape).pick(mic)
    assert len(strict) < len(base)
    assert strict.fom.min() >= base.fom[len(strict) - 1] - 1e-6
    assert len(capped) < len(base) and capped.fom.max() < base.fom.max()


def test_invalid_parameters():
    with pytest.raises(BadInputError, match="larger than the maximum"):
        LoGPicker(LoGParams(200, 150, 1.0), (100, 100))
    with pytest.raises(BadInputError, match="pixel size"):
        LoGPicker(LoGParams(150, 200, 0.0), (100, 100))
    picker = LoGPicker(LoGParams(150, 200, 3.0), (100, 100))
    with pytest.raises(BadInputError, match="built for"):
        picker.pick(np.zeros((90, 100), np.float32))
    with pytest.raises(BadInputError, match="zero variance"):
        picker.pick(np.zeros((100, 100), np.float32))
