"""The simulated RELION project: files, STAR contents, pipeline, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.mrc import read_header, read_mrc
from cryopick.io.columns import frame_columns, micrograph_pixel_size
from cryopick.io.optics import read_optics_star
from cryopick.io.pipeline import allocate_job, read_pipeline
from cryopick.synthetic.project import PRESETS, SimParams, preset, read_junk, simulate_project

SMALL = SimParams(n_micrographs=3, mic_size_px=(320, 288), particles_per_mic=12, carbon_fraction=0.34,
                  ice_blobs_per_um2=40.0, aggregates_per_um2=40.0)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim") / "proj"
    return simulate_project(SMALL, root)


def test_files_and_micrographs(project):
    root = project.project_root
    assert (root / ".gui_projectdir").exists()
    assert project.micrographs == [f"MotionCorr/job002/Movies/mic_00{i}.mrc" for i in (1, 2, 3)]
    for name in project.micrographs:
        hdr = read_header(root / name)
        assert (hdr.nx, hdr.ny, hdr.nz, hdr.mode) == (320, 288, 1, 2)
        assert hdr.pixel_size_angstrom == pytest.approx(SMALL.pixel_size_angstrom, abs=1e-3)
        img = read_mrc(root / name)
        assert img.shape == (288, 320) and np.isfinite(img).all() and img.std() > 0
    for job in ("Import/job001/", "MotionCorr/job002/", "CtfFind/job003/"):
        assert (root / job / "RELION_JOB_EXIT_SUCCESS").exists()
        assert (root / job / "job.star").exists()


def test_micrographs_ctf_star(project):
    star = read_optics_star(project.micrographs_star, "micrographs")
    opt = star.optics.iloc[0]
    assert opt["rlnOpticsGroupName"] == "opticsGroup1" and int(opt["rlnOpticsGroup"]) == 1
    assert opt["rlnVoltage"] == 300 and opt["rlnSphericalAberration"] == 2.7 and opt["rlnAmplitudeContrast"] == 0.1
    assert opt["rlnMicrographOriginalPixelSize"] == pytest.approx(SMALL.pixel_size_angstrom)
    assert micrograph_pixel_size(frame_columns(star.optics), "truth") == pytest.approx(SMALL.pixel_size_angstrom)
    d = star.data
    assert list(d["rlnMicrographName"]) == project.micrographs
    for col in ("rlnCtfImage", "rlnDefocusU", "rlnDefocusV", "rlnCtfAstigmatism", "rlnDefocusAngle",
                "rlnCtfFigureOfMerit", "rlnCtfMaxResolution"):
        assert col in d.columns
    assert d["rlnCtfImage"].iloc[0] == "CtfFind/job003/Movies/mic_001.ctf:mrc"
    assert (project.project_root / "CtfFind/job003/Movies/mic_001.ctf").exists()
    np.testing.assert_allclose(d["rlnCtfAstigmatism"], np.abs(d["rlnDefocusU"] - d["rlnDefocusV"]), atol=1e-3)
    mean = 0.5 * (d["rlnDefocusU"] + d["rlnDefocusV"])
    assert mean.between(SMALL.defocus_min_angstrom, SMALL.defocus_max_angstrom).all()
    for name, ctf in project.ctf.items():  # the values written are the ones used
        row = d[d["rlnMicrographName"] == name].iloc[0]
        assert row["rlnDefocusU"] == pytest.approx(ctf.defocus_u_angstrom, abs=0.01)
        assert row["rlnDefocusV"] == pytest.approx(ctf.defocus_v_angstrom, abs=0.01)
        assert row["rlnDefocusAngle"] == pytest.approx(ctf.defocus_angle_deg, abs=0.001)


def test_truth_and_junk_stars(project):
    truth = read_optics_star(project.truth_star, "particles")
    p = truth.data
    assert len(p) == project.n_particles == sum(project.particles_per_micrograph.values())
    assert set(p["rlnMicrographName"]) <= set(project.micrographs)
    r = 0.5 * SMALL.diameter_angstrom / SMALL.pixel_size_angstrom
    assert p["rlnCoordinateX"].between(r, 320 - 1 - r).all() and p["rlnCoordinateY"].between(r, 288 - 1 - r).all()
    assert p["rlnAngleTilt"].between(0, 180).all() and set(p["rlnClassNumber"]) == {1}
    assert float(truth.extra["simulation"]["cryopickParticleDiameterAngstrom"].iloc[0]) == SMALL.diameter_angstrom
    junk = read_junk(project.junk_star)
    assert set(junk["cryopickJunkKind"]) <= {"ice", "aggregate", "carbon"}
    assert (junk["cryopickJunkKind"] == "carbon").sum() == project.junk_counts["carbon"] == 1
    assert len(junk) == sum(project.junk_counts.values())
    # particles keep clear of ice and aggregates
    for _, j in junk[junk["cryopickJunkKind"] != "carbon"].iterrows():
        on = p[p["rlnMicrographName"] == j["rlnMicrographName"]]
        d = np.hypot(on["rlnCoordinateX"] - float(j["rlnCoordinateX"]), on["rlnCoordinateY"] - float(j["rlnCoordinateY"]))
        assert (d >= j["cryopickJunkRadiusAngstrom"] / SMALL.pixel_size_angstrom + r - 1e-3).all()


def test_pipeline_registers_three_jobs_and_next_is_job004(project, tmp_path):
    import shutil

    pipe = read_pipeline(project.project_root)
    assert pipe.job_counter == 4
    assert [(p[0], p[2], p[3]) for p in pipe.processes] == [
        ("Import/job001/", "relion.import.movies", "Succeeded"),
        ("MotionCorr/job002/", "relion.motioncorr.own", "Succeeded"),
        ("CtfFind/job003/", "relion.ctffind.ctffind4", "Succeeded"),
    ]
    assert ("CtfFind/job003/micrographs_ctf.star", "MicrographsData.star.relion.ctf") in pipe.nodes
    copy = tmp_path / "copy"
    shutil.copytree(project.project_root, copy)
    assert allocate_job(copy, "AutoPick") == "AutoPick/job004/"


def test_reproducible_per_seed_and_seeds_differ(tmp_path):
    p = SimParams(n_micrographs=2, mic_size_px=(256, 240), particles_per_mic=6)
    a = simulate_project(p, tmp_path / "a")
    simulate_project(p, tmp_path / "b")
    c = simulate_project(p.replace(seed=1), tmp_path / "c")
    for rel in a.micrographs + ["CtfFind/job003/micrographs_ctf.star", "GroundTruth/particles.star",
                                "GroundTruth/junk.star"]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert (tmp_path / "a" / a.micrographs[0]).read_bytes() != (tmp_path / "c" / c.micrographs[0]).read_bytes()
    assert (tmp_path / "a/GroundTruth/particles.star").read_text() != (tmp_path / "c/GroundTruth/particles.star").read_text()


def test_refuses_existing_project_and_bad_params(tmp_path, project):
    with pytest.raises(BadInputError, match="already a RELION project"):
        simulate_project(SMALL, project.project_root)
    with pytest.raises(BadInputError, match="too small"):
        simulate_project(SimParams(mic_size_px=(64, 64)), tmp_path / "x")
    with pytest.raises(BadInputError):
        preset("huge")


def test_presets():
    small, tut = PRESETS["small"], PRESETS["tutorial"]
    assert small.n_micrographs == 4 and small.pixel_size_angstrom == 3.54
    assert tut.n_micrographs == 24 and tut.mic_size_px == (1920, 1856) and tut.pixel_size_angstrom == 1.77
    assert tut.particles_per_mic == 100 and tut.diameter_angstrom == small.diameter_angstrom == 170.0
