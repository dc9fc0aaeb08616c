import hashlib
import threading
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest

from cryopick.errors import BadInputError, MissingFileError
from cryopick.synthetic.extraction import write_synthetic_project
from cryopick.io.coords import read_coordinates, write_coordinate_list
from cryopick.io.optics import read_optics_star, write_optics_star
from cryopick.io.pipeline import read_pipeline
from cryopick.io.star import read_star, split_image_name
from cryopick.stages import extract
from cryopick.stages.base import Cancelled

JOB = "Extract/job007/"


@pytest.fixture()
def project(tmp_path):
    return write_synthetic_project(tmp_path, n_micrographs=3, picks_per_micrograph=6, seed=3)


def _params(p, **kw):
    base = dict(micrographs_star=p.micrographs_star, coords_star=p.coords_star, box_size_px=64,
                bg_diameter_px=48, float16=False)
    base.update(kw)
    return extract.Params(**base)


def _tree_digest(root: Path, under: str) -> dict[str, str]:
    return {str(f.relative_to(root)): hashlib.sha1(f.read_bytes()).hexdigest()
            for f in sorted((root / under).rglob("*")) if f.is_file()}


def test_fresh_extraction_writes_relion_job(project):
    root = project.root
    inputs_before = {**_tree_digest(root, "MotionCorr"), **_tree_digest(root, "CtfFind"), **_tree_digest(root, "AutoPick")}
    res = extract.run(_params(project, rescale_px=32), root, JOB)
    assert (root / JOB / "RELION_JOB_EXIT_SUCCESS").exists()
    assert res.output_nodes == [(JOB + "particles.star", "ParticlesData.star.relion")]
    assert res.counts["particles"] == 18 and res.counts["micrographs"] == 3

    star = read_optics_star(root / JOB / "particles.star", "particles")
    o = star.optics.iloc[0]
    assert "rlnMicrographPixelSize" not in star.optics.columns
    assert o["rlnImageSize"] == 32 and o["rlnImageDimensionality"] == 2
    assert o["rlnImagePixelSize"] == pytest.approx(1.5 * 64 / 32)
    assert not bool(o["rlnCtfDataAreCtfPremultiplied"])
    mics = read_optics_star(root / project.micrographs_star).data.set_index("rlnMicrographName")
    d = star.data
    for k, mic in enumerate(project.micrographs):
        rows = d[d["rlnMicrographName"] == mic]
        picks = project.picks[k]
        np.testing.assert_allclose(rows["rlnCoordinateX"], picks["rlnCoordinateX"], atol=1e-6)
        names = [split_image_name(n) for n in rows["rlnImageName"]]
        stack = JOB + mic.replace("MotionCorr/job002/", "").replace(".mrc", ".mrcs")
        assert names == [(i + 1, stack) for i in range(len(rows))]
        for lab in ("rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnCtfMaxResolution", "rlnCtfFigureOfMerit"):
            np.testing.assert_allclose(rows[lab], mics.loc[mic, lab], rtol=1e-6)
        assert (rows["rlnCtfBfactor"] == 0).all() and (rows["rlnCtfScalefactor"] == 1).all()
        assert (rows["rlnPhaseShift"] == 0).all()
        with mrcfile.open(root / stack, permissive=True) as m:
            assert m.data.shape == (len(rows), 32, 32) and m.header.mode == 2
            # normalised + inverted: background mean ~0, std ~1
            r = int(48 / 2 * 32 / 64)
            yy, xx = np.mgrid[0:32, 0:32] - 16
            bg = m.data[:, (xx**2 + yy**2) > r * r]
            np.testing.assert_allclose(bg.mean(axis=1), 0, atol=1e-4)
            np.testing.assert_allclose(bg.std(axis=1), 1, atol=1e-4)
        assert (root / JOB / stack.replace(JOB, "").replace(".mrcs", "_extract.star")).exists()
    # pipeline, job.star, inputs untouched
    pipe = read_pipeline(root)
    assert (JOB, "None", "relion.extract", "Succeeded") in pipe.processes
    assert (project.coords_star, JOB) in pipe.input_edges and (JOB, JOB + "particles.star") in pipe.output_edges
    opts = read_star(root / JOB / "job.star")["joboptions_values"]
    opts = dict(zip(opts["rlnJobOptionVariable"], opts["rlnJobOptionValue"]))
    assert opts["extract_size"] == "64" and opts["do_rescale"] == "Yes" and opts["rescale"] == "32"
    assert opts["star_mics"] == project.micrographs_star and opts["do_invert"] == "Yes"
    assert (root / ".Nodes/ParticlesData" / JOB / "particles.star").exists()
    after = {**_tree_digest(root, "MotionCorr"), **_tree_digest(root, "CtfFind"), **_tree_digest(root, "AutoPick")}
    assert after == inputs_before


def test_threads_give_identical_output(project, tmp_path):
    extract.run(_params(project, white_dust_sigma=2, black_dust_sigma=2, seed=5), project.root, "Extract/job001/")
    extract.run(_params(project, white_dust_sigma=2, black_dust_sigma=2, seed=5, threads=3), project.root, "Extract/job002/")
    for k in range(1, 4):
        a = mrcfile.read(project.root / f"Extract/job001/Movies/mic_{k:03d}.mrcs")
        b = mrcfile.read(project.root / f"Extract/job002/Movies/mic_{k:03d}.mrcs")
        np.testing.assert_array_equal(a, b)


def test_float16_stacks_mode12_within_half_precision(project):
    extract.run(_params(project), project.root, "Extract/job001/")
    extract.run(_params(project, float16=True), project.root, "Extract/job002/")
    a = mrcfile.read(project.root / "Extract/job001/Movies/mic_001.mrcs")
    with mrcfile.open(project.root / "Extract/job002/Movies/mic_001.mrcs") as m:
        assert m.header.mode == 12
        b = m.data.astype(np.float32)
    np.testing.assert_allclose(b, a, rtol=2**-10, atol=1e-4)


def test_picks_off_micrograph_skipped_and_counted(tmp_path):
    p = write_synthetic_project(tmp_path, n_micrographs=2, picks_per_micrograph=4, outside_picks=2, seed=1)
    res = extract.run(_params(p), p.root, JOB)
    assert res.counts["particles_off_micrograph"] == 4
    assert res.counts["particles"] == 8
    assert "off the micrograph" in (p.root / JOB / "run.out").read_text()


def test_coordinates_for_unknown_micrograph_skipped_and_reported(project):
    root = project.root
    write_coordinate_list(root / project.coords_star, project.micrographs + ["MotionCorr/job002/Movies/ghost.mrc"],
                          project.coordinate_files + [project.coordinate_files[0]])
    res = extract.run(_params(project), root, JOB)
    assert res.counts["coordinate_files_unmatched"] == 1
    assert res.counts["particles"] == 18
    assert "ghost.mrc" in (root / JOB / "run.out").read_text()


def test_missing_micrograph_fails_the_job_unless_skip_failed(project):
    root = project.root
    (root / project.micrographs[1]).unlink()
    with pytest.raises(MissingFileError, match="mic_002.mrc not found"):
        extract.run(_params(project), root, JOB)
    assert (root / JOB / "RELION_JOB_EXIT_FAILURE").exists() and not (root / JOB / "particles.star").exists()
    assert (root / JOB / "Movies/mic_001.mrcs").exists() and (root / JOB / "Movies/mic_003.mrcs").exists()
    assert "mic_002.mrc" in (root / JOB / "run.err").read_text()
    assert (JOB, "None", "relion.extract", "Failed") in read_pipeline(root).processes
    res = extract.run(_params(project, skip_failed_micrographs=True), root, JOB)  # continues: the other two are reused
    assert list(res.failures) == [project.micrographs[1]]
    assert res.counts["micrographs"] == 2 and res.counts["particles"] == 12 and res.counts["micrographs_reused"] == 2
    assert (root / JOB / "RELION_JOB_EXIT_SUCCESS").exists()


def test_all_micrographs_missing_is_an_error(project):
    for m in project.micrographs:
        (project.root / m).unlink()
    with pytest.raises(MissingFileError, match="mic_001"):
        extract.run(_params(project), project.root, JOB)
    assert (project.root / JOB / "RELION_JOB_EXIT_FAILURE").exists()
    assert not (project.root / JOB / "particles.star").exists()


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(box_size_px=63), "even"),
        (dict(rescale_px=128), "larger than the box"),
        (dict(rescale_px=31), "even"),
        (dict(bg_diameter_px=80), "larger than the box"),
    ],
)
def test_bad_parameters_fail_the_job(project, kw, match):
    with pytest.raises(BadInputError, match=match):
        extract.run(_params(project, **kw), project.root, JOB)
    assert (project.root / JOB / "RELION_JOB_EXIT_FAILURE").exists()
    assert not (project.root / JOB / "particles.star").exists()
    assert ("Extract/job007/", "None", "relion.extract", "Failed") in read_pipeline(project.root).processes


def test_mixed_pixel_sizes_refused(project):
    path = project.root / project.micrographs_star
    star = read_optics_star(path)
    two = pd.concat([star.optics, star.optics], ignore_index=True)
    two.loc[1, "rlnOpticsGroup"] = 2
    two.loc[1, "rlnOpticsGroupName"] = "opticsGroup2"
    two.loc[1, "rlnMicrographPixelSize"] = 2.0
    data = star.data.copy()
    data.loc[2, "rlnOpticsGroup"] = 2
    star.optics, star.data = two, data
    write_optics_star(path, star)
    with pytest.raises(BadInputError, match="micrographs_ctf.star.*pixel size"):
        extract.run(_params(project), project.root, JOB)


def test_min_fom_strict_and_missing_column_named(project):
    root = project.root
    picks = [read_coordinates(root / cf) for cf in project.coordinate_files]  # values as written (6 decimals)
    thr = float(np.median(picks[0]["rlnAutopickFigureOfMerit"]))  # 6 values: not one of them
    thr = float(picks[0]["rlnAutopickFigureOfMerit"][np.argmin(np.abs(picks[0]["rlnAutopickFigureOfMerit"] - thr))])
    res = extract.run(_params(project, min_fom=thr), root, JOB)
    expected = sum(int((p["rlnAutopickFigureOfMerit"] > thr).sum()) for p in picks)
    assert expected < 18
    assert res.counts["particles"] == expected
    got = read_optics_star(root / JOB / "particles.star", "particles").data["rlnAutopickFigureOfMerit"]
    assert (got > thr).all()
    cf = root / project.coordinate_files[1]
    no_fom = read_coordinates(cf)
    del no_fom["rlnAutopickFigureOfMerit"]
    from cryopick.io.coords import write_coordinates
    write_coordinates(cf, no_fom)
    with pytest.raises(BadInputError, match="mic_002_autopick.star"):
        extract.run(_params(project, min_fom=0.0), root, "Extract/job008/")


def test_rerun_reuses_finished_micrographs(project):
    root = project.root
    extract.run(_params(project), root, JOB)
    first = (root / JOB / "particles.star").read_text()
    (root / JOB / "Movies/mic_002.mrcs").unlink()
    res = extract.run(_params(project), root, JOB)
    assert res.counts["micrographs_reused"] == 2
    assert (root / JOB / "particles.star").read_text() == first
    assert (root / JOB / "Movies/mic_002.mrcs").exists()
    # a change of output size is refused: the job directory keeps the first run's stacks
    with pytest.raises(BadInputError, match=r"rescale_px: None -> 32"):
        extract.run(_params(project, rescale_px=32), root, JOB)
    assert (root / JOB / "particles.star").read_text() == first and (root / JOB / "RELION_JOB_EXIT_SUCCESS").exists()


def test_second_run_with_inverted_contrast_never_returns_the_first_runs_particles(project, capsys):
    """A second ``cryopick extract`` into the same job with --invert flipped is refused, and loses nothing."""
    from cryopick.cli import main

    root = project.root
    args = ["extract", "--i", project.micrographs_star, "--coords", project.coords_star, "--o", JOB, "--box", "64",
            "--bg-diameter", "48", "--project-root", str(root), "--quiet"]
    assert main(args + ["--invert"]) == 0
    first = mrcfile.read(root / JOB / "Movies/mic_001.mrcs").astype(np.float32)
    before = _tree_digest(root, JOB)
    capsys.readouterr()
    assert main(args + ["--no-invert"]) == 2
    err = capsys.readouterr().err
    assert "different parameters (invert_contrast: True -> False)" in err and "new job directory" in err
    assert _tree_digest(root, JOB) == before  # the first run's job is untouched
    # in a new job directory the particles are the first run's, negated
    assert main([*args[:6], "Extract/job008/", *args[7:], "--no-invert"]) == 0
    second = mrcfile.read(root / "Extract/job008/Movies/mic_001.mrcs").astype(np.float32)
    np.testing.assert_allclose(second, -first, atol=2e-3)


def test_cancel_aborts(project):
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        extract.run(_params(project), project.root, JOB, cancel=ev)
    assert (project.root / JOB / "RELION_JOB_EXIT_ABORTED").exists()
    assert not (project.root / JOB / "particles.star").exists()


def test_progress_called_per_micrograph(project):
    seen = []
    extract.run(_params(project), project.root, JOB, progress=seen.append)
    assert [p.item for p in seen] == project.micrographs
    assert seen[-1].fraction == 1.0


def test_reextract_with_recenter(project):
    root = project.root
    extract.run(_params(project, normalise=False, invert_contrast=False), root, "Extract/job001/")
    parts = read_optics_star(root / "Extract/job001/particles.star", "particles")
    d = parts.data.copy()
    rng = np.random.default_rng(0)
    d["rlnOriginXAngst"] = rng.uniform(-6, 6, len(d))
    d["rlnOriginYAngst"] = rng.uniform(-6, 6, len(d))
    d["rlnAnglePsi"] = rng.uniform(0, 360, len(d))
    data_star = "Class2D/job008/run_it025_data.star"
    write_optics_star(root / data_star, parts.with_data(d))
    res = extract.run(_params(project, coords_star="", reextract_data_star=data_star, recenter=True,
                              normalise=False, invert_contrast=False), root, "Extract/job009/")
    assert ("Extract/job009/extractpick.star", "MicrographsCoords.star.relion.reextract") in res.output_nodes
    out = read_optics_star(root / "Extract/job009/particles.star", "particles").data
    apix = 1.5
    # physical centre unchanged, coordinates moved by whole pixels, residual origin < half a pixel
    np.testing.assert_allclose(out["rlnCoordinateX"] - out["rlnOriginXAngst"] / apix,
                               d["rlnCoordinateX"] - d["rlnOriginXAngst"] / apix, atol=1e-5)
    assert (np.abs(out["rlnOriginXAngst"] / apix) <= 0.5 + 1e-6).all()
    assert (np.abs(out["rlnCoordinateX"] - d["rlnCoordinateX"]) >= 0).all()
    # the re-extracted image equals the micrograph box at the new integer position
    from cryopick.io.mrc import read_mrc
    mic = read_mrc(root / project.micrographs[0])
    row = out.iloc[2]
    idx, stack = split_image_name(row["rlnImageName"])
    img = mrcfile.read(root / stack)[idx - 1]
    x, y = int(row["rlnCoordinateX"]), int(row["rlnCoordinateY"])
    if 32 <= x < mic.shape[1] - 32 and 32 <= y < mic.shape[0] - 32:
        np.testing.assert_array_equal(img, mic[y - 32:y + 32, x - 32:x + 32])
    pipe = read_pipeline(root)
    assert ("Extract/job009/", "None", "relion.extract.reextract", "Succeeded") in pipe.processes


def test_cli(project, capsys):
    from cryopick.cli import main

    rc = main(["extract", "--i", project.micrographs_star, "--coords", project.coords_star, "--o", JOB,
               "--box", "64", "--invert", "--norm", "--bg-diameter", "48", "--rescale", "32", "--float16",
               "--threads", "2", "--project-root", str(project.root), "--quiet"])
    assert rc == 0
    assert f"Extraction: {JOB} (micrographs 3, particles 18" in capsys.readouterr().out
    with mrcfile.open(project.root / JOB / "Movies/mic_001.mrcs") as m:
        assert m.header.mode == 12 and m.data.shape[1:] == (32, 32)
    rc = main(["extract", "--i", project.micrographs_star, "--coords", project.coords_star, "--o", "Extract/job008/",
               "--box", "65", "--project-root", str(project.root), "--quiet"])
    assert rc == 2


def test_relion30_micrographs_star_and_extra_coordinate_columns(project):
    """The converting (pandas) reader for RELION 3.0 inputs, and unknown coordinate labels carried through."""
    root = project.root
    extract.run(_params(project, rescale_px=32), root, "Extract/job001/")
    star = read_optics_star(root / project.micrographs_star)
    legacy = star.data.merge(star.optics.drop(columns=["rlnOpticsGroupName"]), on="rlnOpticsGroup")
    legacy = legacy.drop(columns=["rlnOpticsGroup"])
    from cryopick.io.star import write_star

    write_star(root / "CtfFind/job003/legacy.star", {"": legacy})
    cf = root / project.coordinate_files[0]
    picks = read_coordinates(cf)
    picks["rlnMyNote"] = np.array([f"note{k}" for k in range(len(picks["rlnCoordinateX"]))], dtype=object)
    from cryopick.io.coords import write_coordinates

    write_coordinates(cf, picks)
    res = extract.run(_params(project, micrographs_star="CtfFind/job003/legacy.star", rescale_px=32), root, JOB)
    assert res.counts["particles"] == 18
    for k in range(1, 4):
        name = f"Movies/mic_{k:03d}.mrcs"
        np.testing.assert_array_equal(mrcfile.read(root / JOB / name), mrcfile.read(root / "Extract/job001" / name))
    out = read_optics_star(root / JOB / "particles.star", "particles")
    assert float(out.optics["rlnImagePixelSize"].iloc[0]) == pytest.approx(
        2 * float(star.optics["rlnMicrographPixelSize"].iloc[0]))
    notes = out.data["rlnMyNote"].tolist()
    assert notes[:6] == [f"note{k}" for k in range(6)]
    assert notes[6:] == [""] * 12  # label absent from the other coordinate files
