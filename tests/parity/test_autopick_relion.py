"""LoG picking parity with RELION 3.1.3's relion_autopick on the same micrographs.

Picks must agree in number and order, coordinates within 1 px (they agree to the
last printed digit) and figures of merit within 1e-3.
"""

import shutil
import subprocess

import numpy as np
import pytest

from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.stages import autopick_log
from micrograph_factory import blob_micrograph, separated_centres, write_project

pytestmark = [
    pytest.mark.relion,
    pytest.mark.skipif(shutil.which("relion_autopick") is None, reason="relion_autopick (RELION 3.1) not installed"),
]

APIX = 3.0


def make_project(root, shape, n_mics, amplitude, seed):
    mics = []
    for k in range(n_mics):
        truth = separated_centres(shape, 30, min_dist=60, margin=30, seed=seed + k)
        mics.append(blob_micrograph(shape, truth, sigma_px=12, amplitude=amplitude, noise=1.0, seed=seed + 100 + k))
    return write_project(root, mics, APIX)


def run_relion(root, star, job, dmin, dmax, extra):
    cmd = [
        "relion_autopick", "--i", star, "--odir", job, "--pickname", "autopick", "--LoG",
        "--LoG_diam_min", str(dmin), "--LoG_diam_max", str(dmax), "--shrink", "0", *extra,
    ]
    subprocess.run(cmd, cwd=root, check=True, capture_output=True, timeout=300)


def compare(root, relion_job, ours_job, names):
    listing = read_coordinate_list(root / ours_job / "autopick.star")
    assert listing["rlnMicrographName"].tolist() == names
    total = 0
    for name, coords in zip(listing["rlnMicrographName"], listing["rlnMicrographCoordinates"]):
        ref_file = root / coords.replace(ours_job, relion_job)
        ref, got = read_coordinates(ref_file), read_coordinates(root / coords)
        assert len(got) == len(ref), name
        np.testing.assert_allclose(got["rlnCoordinateX"], ref["rlnCoordinateX"], atol=1.0)
        np.testing.assert_allclose(got["rlnCoordinateY"], ref["rlnCoordinateY"], atol=1.0)
        np.testing.assert_allclose(got["rlnAutopickFigureOfMerit"], ref["rlnAutopickFigureOfMerit"], atol=1e-3)
        total += len(ref)
    assert total > 0


CASES = {
    "defaults_non_square": dict(shape=(360, 400), amp=-0.8, dmin=100, dmax=130,
                                relion=["--lowpass", "20", "--LoG_adjust_threshold", "0"], ours={}),
    "thresholds": dict(shape=(400, 360), amp=-0.8, dmin=100, dmax=130,
                       relion=["--lowpass", "20", "--LoG_adjust_threshold", "0.5", "--LoG_upper_threshold", "3"],
                       ours=dict(threshold_stddev=0.5, upper_threshold_stddev=3.0)),
    "white_square_no_lowpass": dict(shape=(384, 384), amp=+0.8, dmin=90, dmax=140,
                                    relion=["--lowpass", "-1", "--LoG_adjust_threshold", "-0.5", "--Log_invert"],
                                    ours=dict(particles_white=True, max_resolution_angstrom=-1, threshold_stddev=-0.5)),
    "neighbour_80_maxres_15": dict(shape=(360, 400), amp=-0.8, dmin=100, dmax=130,
                                   relion=["--lowpass", "15", "--LoG_adjust_threshold", "0", "--LoG_neighbour", "80"],
                                   ours=dict(max_resolution_angstrom=15, neighbour_percent=80)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_log_picks_equal_relion(tmp_path, case):
    c = CASES[case]
    star = make_project(tmp_path, c["shape"], 3, c["amp"], seed=len(case))
    run_relion(tmp_path, star, "AutoPick/job010/", c["dmin"], c["dmax"], c["relion"])
    params = autopick_log.Params(star, c["dmin"], c["dmax"], threads=2, **c["ours"])
    autopick_log.run(params, tmp_path, "AutoPick/job011/")
    names = [f"MotionCorr/job002/Movies/mic_{k:03d}.mrc" for k in (1, 2, 3)]
    compare(tmp_path, "AutoPick/job010/", "AutoPick/job011/", names)
