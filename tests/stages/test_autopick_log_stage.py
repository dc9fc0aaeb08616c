"""The AutoPick (LoG) stage: job directory, outputs, continuation and bad input."""

import numpy as np
import pytest

from cryopick.errors import BadInputError, MissingFileError, PartialFailure
from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.jobdir import FAILURE, SUCCESS
from cryopick.io.mrc import write_mrc
from cryopick.io.pipeline import read_pipeline
from cryopick.io.star import read_star
from cryopick.picking.log import LoGParams, LoGPicker
from cryopick.stages import autopick_log
from micrograph_factory import blob_micrograph, separated_centres, write_project

APIX = 3.0


def micrographs(n, shape=(300, 320), seed=0):
    out = []
    for k in range(n):
        truth = separated_centres(shape, 15, min_dist=60, margin=30, seed=seed + k)
        out.append(blob_micrograph(shape, truth, 12, -1.0, 1.0, seed + 50 + k))
    return out


def params(star, **kw):
    return autopick_log.Params(star, 100, 130, **kw)


def test_complete_job_directory(tmp_path):
    star = write_project(tmp_path, micrographs(3), APIX)
    res = autopick_log.run(params(star, threads=2), tmp_path, "AutoPick/job005/")
    job = tmp_path / "AutoPick/job005"
    for name in ("autopick.star", "summary.star", "logfile.pdf", "job.star", "note.txt", "run.out", SUCCESS,
                 "RELION_OUTPUT_NODES.star"):
        assert (job / name).exists(), name
    assert (job / "logfile.pdf").read_bytes().startswith(b"%PDF-1.4")
    listing = read_coordinate_list(job / "autopick.star")
    assert listing["rlnMicrographCoordinates"].tolist() == [f"AutoPick/job005/Movies/mic_{k:03d}_autopick.star" for k in (1, 2, 3)]
    coords = read_coordinates(job / "Movies/mic_001_autopick.star")
    assert list(coords) == ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber", "rlnAnglePsi"]
    summary = read_star(job / "summary.star")["autopick_summary"]
    assert summary["rlnGroupNrParticles"].sum() == res.counts["picks"] > 0
    assert res.output_nodes[0] == ("AutoPick/job005/autopick.star", "MicrographsCoords.star.relion.autopick")
    pipe = read_pipeline(tmp_path)
    assert ("AutoPick/job005/", "None", "relion.autopick.log", "Succeeded") in pipe.processes
    assert (star, "AutoPick/job005/") in pipe.input_edges


def test_same_picks_as_the_picker_and_threads_do_not_matter(tmp_path):
    mics = micrographs(2)
    star = write_project(tmp_path, mics, APIX)
    autopick_log.run(params(star, threads=1), tmp_path, "AutoPick/job005/")
    autopick_log.run(params(star, threads=2), tmp_path, "AutoPick/job006/")
    direct = LoGPicker(LoGParams(100, 130, APIX), mics[1].shape).pick(mics[1], seed=2)
    a = read_coordinates(tmp_path / "AutoPick/job005/Movies/mic_002_autopick.star")
    b = read_coordinates(tmp_path / "AutoPick/job006/Movies/mic_002_autopick.star")
    np.testing.assert_allclose(a["rlnCoordinateX"], direct.x_px, atol=1e-5)
    np.testing.assert_allclose(a["rlnAutopickFigureOfMerit"], direct.fom, atol=1e-6)
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_micrographs_of_different_sizes(tmp_path):
    mics = micrographs(1, (300, 320)) + micrographs(1, (256, 256), seed=9)
    star = write_project(tmp_path, mics, APIX)
    res = autopick_log.run(params(star), tmp_path, "AutoPick/job005/")
    assert res.counts["micrographs"] == 2
    direct = LoGPicker(LoGParams(100, 130, APIX), (256, 256)).pick(mics[1], seed=2)
    got = read_coordinates(tmp_path / "AutoPick/job005/Movies/mic_002_autopick.star")
    np.testing.assert_allclose(got["rlnCoordinateY"], direct.y_px, atol=1e-5)


def test_bad_micrograph_reported_others_picked_job_failed(tmp_path):
    star = write_project(tmp_path, micrographs(3), APIX)
    bad = tmp_path / "MotionCorr/job002/Movies/mic_002.mrc"
    bad.write_bytes(bad.read_bytes()[:2000])  # truncated
    with pytest.raises(BadInputError, match="mic_002.mrc: truncated"):
        autopick_log.run(params(star), tmp_path, "AutoPick/job005/")
    job = tmp_path / "AutoPick/job005"
    assert (job / FAILURE).exists() and not (job / SUCCESS).exists()
    assert not (job / "autopick.star").exists()  # nothing that looks finished
    assert (job / "Movies/mic_001_autopick.star").exists() and (job / "Movies/mic_003_autopick.star").exists()
    assert "mic_002.mrc" in (job / "run.err").read_text()
    # fix the micrograph and re-run: the good ones are kept, only the bad one is picked
    before = (job / "Movies/mic_001_autopick.star").stat().st_mtime_ns
    write_mrc(bad, micrographs(1, seed=77)[0], APIX)
    res = autopick_log.run(params(star), tmp_path, "AutoPick/job005/")
    assert (job / SUCCESS).exists() and not (job / FAILURE).exists()
    assert (job / "Movies/mic_001_autopick.star").stat().st_mtime_ns == before
    assert res.counts["micrographs"] == 3


def test_several_bad_micrographs_and_skip_option(tmp_path):
    star = write_project(tmp_path, micrographs(3), APIX)
    (tmp_path / "MotionCorr/job002/Movies/mic_001.mrc").unlink()
    nan = micrographs(1)[0]
    nan[5, 5] = np.nan
    write_mrc(tmp_path / "MotionCorr/job002/Movies/mic_003.mrc", nan, APIX)
    with pytest.raises(PartialFailure) as err:
        autopick_log.run(params(star), tmp_path, "AutoPick/job005/")
    assert set(err.value.failures) == {"MotionCorr/job002/Movies/mic_001.mrc", "MotionCorr/job002/Movies/mic_003.mrc"}
    assert "not found" in err.value.failures["MotionCorr/job002/Movies/mic_001.mrc"]
    assert "NaN" in err.value.failures["MotionCorr/job002/Movies/mic_003.mrc"]
    res = autopick_log.run(params(star, skip_failed_micrographs=True), tmp_path, "AutoPick/job006/")
    assert res.counts == {"micrographs": 1, "picks": res.counts["picks"], "failed_micrographs": 2}
    assert read_coordinate_list(tmp_path / "AutoPick/job006/autopick.star")["rlnMicrographName"].tolist() == [
        "MotionCorr/job002/Movies/mic_002.mrc"
    ]


def test_all_missing_is_not_found(tmp_path):
    star = write_project(tmp_path, micrographs(2), APIX)
    for k in (1, 2):
        (tmp_path / f"MotionCorr/job002/Movies/mic_{k:03d}.mrc").unlink()
    with pytest.raises(MissingFileError, match="2 of 2"):
        autopick_log.run(params(star), tmp_path, "AutoPick/job005/")


def test_changed_parameters_are_refused_and_the_old_job_is_kept(tmp_path):
    star = write_project(tmp_path, micrographs(1), APIX)
    a = autopick_log.run(params(star), tmp_path, "AutoPick/job005/")
    job = tmp_path / "AutoPick/job005"
    before = {p: p.read_bytes() for p in job.rglob("*") if p.is_file()}
    with pytest.raises(BadInputError, match=r"different parameters \(upper_threshold_stddev: 999.0 -> 1.0\)"):
        autopick_log.run(params(star, upper_threshold_stddev=1.0), tmp_path, "AutoPick/job005/")
    assert {p: p.read_bytes() for p in job.rglob("*") if p.is_file()} == before
    fresh = autopick_log.run(params(star, upper_threshold_stddev=1.0), tmp_path, "AutoPick/job006/")
    assert fresh.counts["picks"] < a.counts["picks"]
    # threads is not a result-changing parameter: a re-run with more threads continues the job
    again = autopick_log.run(params(star, threads=2), tmp_path, "AutoPick/job005/")
    assert again.counts == a.counts


@pytest.mark.parametrize(
    "star_text, fragment",
    [
        ("data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnVoltage #2\n_rlnSphericalAberration #3\n_rlnMicrographPixelSize #4\n"
         "1 300 2.7 1.0\n\ndata_micrographs\nloop_\n_rlnOpticsGroup #1\n1\n", "rlnMicrographName"),
        ("data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnVoltage #2\n_rlnSphericalAberration #3\n_rlnImagePixelSize #4\n"
         "1 300 2.7 1.0\n\ndata_micrographs\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\na.mrc 1\n", "rlnMicrographPixelSize"),
        ("data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnVoltage #2\n_rlnSphericalAberration #3\n_rlnMicrographPixelSize #4\n"
         "1 300 2.7 1.0\n\ndata_micrographs\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\n", "empty"),
    ],
)
def test_bad_star_files(tmp_path, star_text, fragment):
    (tmp_path / "mics.star").write_text(star_text)
    with pytest.raises(BadInputError, match=fragment):
        autopick_log.run(params("mics.star"), tmp_path, "AutoPick/job005/")
    assert (tmp_path / "AutoPick/job005" / FAILURE).exists()


def test_min_diameter_above_max_fails_cleanly(tmp_path):
    star = write_project(tmp_path, micrographs(1), APIX)
    with pytest.raises(BadInputError, match="larger than the maximum"):
        autopick_log.run(autopick_log.Params(star, 200, 150), tmp_path, "AutoPick/job005/")
    assert (tmp_path / "AutoPick/job005" / FAILURE).exists()
    assert not (tmp_path / "AutoPick/job005/autopick.star").exists()


def test_input_files_are_not_modified(tmp_path):
    star = write_project(tmp_path, micrographs(2), APIX)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    autopick_log.run(params(star), tmp_path, "AutoPick/job005/")
    for p, content in before.items():
        if p.name != "default_pipeline.star":
            assert p.read_bytes() == content
