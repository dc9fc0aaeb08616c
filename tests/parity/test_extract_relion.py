"""Extraction parity with RELION 3.1.3's relion_preprocess (and relion_refine reading our output).

RELION 3.1 has no ``--coord_list``; it finds the coordinate files with
``--coord_dir AutoPick/job006/ --coord_suffix _autopick.star``, which gives the same
files as our ``autopick.star`` listing (``<coord_dir><post(mic) without ext><suffix>``).
"""

import shutil
import subprocess

import mrcfile
import numpy as np
import pytest

from cryopick.extraction.boxes import box_positions, boxes_on_micrograph, extract_boxes
from cryopick.extraction.normalise import background, remove_dust
from cryopick.synthetic.extraction import write_synthetic_project
from cryopick.io.coords import read_coordinates
from cryopick.io.mrc import read_mrc
from cryopick.io.optics import read_optics_star
from cryopick.stages import extract

pytestmark = [
    pytest.mark.relion,
    pytest.mark.skipif(shutil.which("relion_preprocess") is None, reason="relion_preprocess (RELION 3.1) not installed"),
]

N_MICS = 3


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    # 3 micrographs of 400x380 px, 10 picks each; the first four of each cross an edge (left, bottom, right, top)
    return write_synthetic_project(tmp_path_factory.mktemp("parity"), n_micrographs=N_MICS, shape=(380, 400),
                                   picks_per_micrograph=10, seed=7)


def _relion(project, job, args):
    cmd = ["relion_preprocess", "--i", project.micrographs_star, "--coord_dir", "AutoPick/job006/",
           "--coord_suffix", "_autopick.star", "--part_star", f"{job}particles.star", "--part_dir", job,
           "--extract"] + args
    r = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return job


def _ours(project, job, **kw):
    extract.run(extract.Params(project.micrographs_star, project.coords_star, float16=False, **kw), project.root, job)
    return job


def _stack(project, job, k):
    return mrcfile.read(project.root / job / f"Movies/mic_{k:03d}.mrcs")


CASES = {
    "plain": (["--extract_size", "64"], dict(box_size_px=64, normalise=False, invert_contrast=False)),
    "norm_invert": (["--extract_size", "64", "--norm", "--bg_radius", "24", "--invert_contrast"],
                    dict(box_size_px=64, normalise=True, bg_diameter_px=-1, invert_contrast=True)),
    "rescale_norm_invert": (["--extract_size", "96", "--scale", "48", "--norm", "--bg_radius", "18", "--invert_contrast"],
                            dict(box_size_px=96, rescale_px=48, normalise=True, bg_diameter_px=72, invert_contrast=True)),
    "rescale_only": (["--extract_size", "100", "--scale", "36"], dict(box_size_px=100, rescale_px=36, normalise=False,
                                                                      invert_contrast=False)),
    "dust_no_trigger": (["--extract_size", "96", "--scale", "64", "--norm", "--bg_radius", "24", "--white_dust", "12",
                         "--black_dust", "12", "--invert_contrast"],
                        dict(box_size_px=96, rescale_px=64, normalise=True, bg_diameter_px=72, white_dust_sigma=12,
                             black_dust_sigma=12, invert_contrast=True)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stacks_and_star_match_relion(project, case):
    rargs, kw = CASES[case]
    i = sorted(CASES).index(case)
    rjob = _relion(project, f"Extract/job{100 + i:03d}/", rargs)
    ojob = _ours(project, f"Extract/job{200 + i:03d}/", **kw)
    for k in range(1, N_MICS + 1):
        ref, got = _stack(project, rjob, k), _stack(project, ojob, k)
        assert ref.shape == got.shape and got.dtype == np.float32
        assert np.abs(ref - got).max() <= 1e-4, f"{case} micrograph {k}"
    r = read_optics_star(project.root / rjob / "particles.star", "particles")
    o = read_optics_star(project.root / ojob / "particles.star", "particles")
    assert len(r.data) == len(o.data) == N_MICS * 10
    for lab in ("rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnDefocusU", "rlnDefocusV",
                "rlnDefocusAngle", "rlnCtfBfactor", "rlnCtfScalefactor", "rlnPhaseShift", "rlnCtfMaxResolution",
                "rlnCtfFigureOfMerit", "rlnOpticsGroup"):
        np.testing.assert_allclose(o.data[lab].astype(float), r.data[lab].astype(float), rtol=1e-7, err_msg=lab)
    assert list(o.data["rlnMicrographName"]) == list(r.data["rlnMicrographName"])
    assert [n.replace(ojob, rjob) for n in o.data["rlnImageName"]] == list(r.data["rlnImageName"])
    for lab in ("rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality", "rlnVoltage", "rlnSphericalAberration",
                "rlnAmplitudeContrast", "rlnMicrographOriginalPixelSize"):
        assert float(o.optics[lab].iloc[0]) == pytest.approx(float(r.optics[lab].iloc[0])), lab


def _our_dust_masks(project, box, radius, white, black):
    """Which pixels of each (un-rescaled) box are beyond the dust thresholds, per micrograph."""
    masks = []
    for k, mic_name in enumerate(project.micrographs):
        mic = read_mrc(project.root / mic_name)
        c = read_coordinates(project.root / project.coordinate_files[k])
        x, y = box_positions(np.asarray(c["rlnCoordinateX"]), np.asarray(c["rlnCoordinateY"]))
        assert boxes_on_micrograph(x, y, box, mic.shape).all()
        flat = extract_boxes(mic, x, y, box).astype(np.float64).reshape(len(x), -1)
        w, b = remove_dust(flat, background(box, radius), white, black, np.random.default_rng(0))
        masks.append((w | b).reshape(len(x), box, box))
    return masks


def _residual_vs_reference(img, ref, use):
    """Residual of img ≈ α·ref + β·x + γ·y + δ fitted on the pixels ``use``.

    Pixels that were not replaced by dust differ between a dust and a no-dust run only by
    the changed background statistics and ramp, i.e. by such an affine map.
    """
    s = img.shape[0]
    yy, xx = np.mgrid[0:s, 0:s]
    a = np.stack([ref.ravel(), xx.ravel(), yy.ravel(), np.ones(s * s)], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a[use.ravel()], img.ravel()[use.ravel()].astype(np.float64), rcond=None)
    return np.abs(img.ravel() - a @ coef).reshape(s, s)


def test_dust_replaces_exactly_the_pixels_beyond_threshold(project):
    box, radius, sigma = 64, 24, 3.0
    base = ["--extract_size", "64", "--norm", "--bg_radius", "24"]
    r_clean = _relion(project, "Extract/job301/", base)
    r_dust = _relion(project, "Extract/job302/", base + ["--white_dust", "3", "--black_dust", "3"])
    o_dust = _ours(project, "Extract/job303/", box_size_px=64, normalise=True, bg_diameter_px=48,
                   white_dust_sigma=sigma, black_dust_sigma=sigma, invert_contrast=False)
    masks = _our_dust_masks(project, box, radius, sigma, sigma)
    total = 0
    for k in range(1, N_MICS + 1):
        clean = _stack(project, r_clean, k)
        for job in (r_dust, o_dust):
            dusty = _stack(project, job, k)
            for n in range(clean.shape[0]):
                m = masks[k - 1][n]
                res = _residual_vs_reference(dusty[n], clean[n], ~m)
                assert res[~m].max() < 1e-4, f"{job} mic {k} particle {n}: an unflagged pixel changed"
                if m.any():
                    # replaced by random values: essentially never on the affine prediction
                    assert np.mean(res[m] > 1e-3) > 0.95, f"{job} mic {k} particle {n}"
        total += sum(int(m.sum()) for m in masks[k - 1])
    assert total > 20  # the thresholds really triggered replacements


def test_relion_refine_runs_2d_classification_on_our_particles(project):
    if shutil.which("relion_refine") is None:
        pytest.skip("relion_refine not installed")
    job = _ours(project, "Extract/job400/", box_size_px=64, normalise=True, invert_contrast=True)
    out = project.root / "Class2D/job401"
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["relion_refine", "--i", f"{job}particles.star", "--o", "Class2D/job401/run", "--K", "2", "--iter", "1",
           "--particle_diameter", "80", "--ctf", "--psi_step", "30", "--offset_range", "2", "--offset_step", "2",
           "--tau2_fudge", "2", "--zero_mask", "--dont_combine_weights_via_disc", "--pool", "3", "--j", "2"]
    r = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "unknown" not in r.stderr.lower() and "error" not in r.stderr.lower(), r.stderr[-2000:]
    assert (out / "run_it001_classes.mrcs").exists()
    data = read_optics_star(out / "run_it001_data.star", "particles")
    assert len(data.data) == N_MICS * 10
    # RELION 3.1 read and carried our optics table, including the RELION 4 label
    assert "rlnCtfDataAreCtfPremultiplied" in data.optics.columns


def test_float16_stack_reads_back_within_half_precision(project):
    a = _ours(project, "Extract/job500/", box_size_px=96, rescale_px=48, normalise=True, invert_contrast=True)
    extract.run(extract.Params(project.micrographs_star, project.coords_star, box_size_px=96, rescale_px=48,
                               float16=True), project.root, "Extract/job501/")
    for k in range(1, N_MICS + 1):
        with mrcfile.open(project.root / f"Extract/job501/Movies/mic_{k:03d}.mrcs") as m:
            assert m.header.mode == 12
            half = m.data.astype(np.float32)
        full = _stack(project, a, k)
        np.testing.assert_allclose(half, full, rtol=2**-11, atol=2**-24)
