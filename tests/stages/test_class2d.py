"""The Class2D stage: RELION's files per iteration, continuation, resumption and bad input.

One small synthetic particle set (3 known classes, 150 particles of 32 px) is classified once
per module; the tests read that job, continue it, interrupt copies of it and break its inputs.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.pipeline import read_pipeline
from cryopick.io.star import read_star, read_star_raw, write_star
from cryopick.sim.particles2d import known_classes, simulate_particles
from cryopick.stages import class2d
from cryopick.stages.base import Cancelled, Progress
from cryopick.synthetic.particles import write_particle_project

N, BOX, K, PIXEL, ITER = 150, 32, 3, 4.0, 3
JOB = "Class2D/job008/"


def _params(star: str, **kw) -> class2d.Params:
    base = dict(particles_star=star, nr_classes=K, nr_iter=ITER, mask_diameter_angstrom=100.0, offset_range_px=3.0,
                threads=2)
    base.update(kw)
    return class2d.Params(**base)


def _make_project(root: Path):
    sim = simulate_particles(known_classes(BOX, K), N, PIXEL, np.random.default_rng(5), noise_sigma=0.1,
                             max_shift_px=1.5)
    return write_particle_project(root, sim, PIXEL, per_micrograph=50)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A project with a finished 3-iteration Class2D job in ``JOB``, and the job's result."""
    root = tmp_path_factory.mktemp("class2d")
    proj = _make_project(root)
    reports: list[Progress] = []
    res = class2d.run(_params(proj.particles_star), root, JOB, progress=reports.append)
    return proj, res, reports


def _digest(root: Path, under: str) -> dict[str, str]:
    return {str(f.relative_to(root)): hashlib.sha1(f.read_bytes()).hexdigest()
            for f in sorted((root / under).rglob("*")) if f.is_file()}


def _copy_project(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def test_every_iteration_writes_relions_files(finished):
    proj, res, _ = finished
    job = proj.root / JOB
    for it in range(ITER + 1):
        for kind in ("data.star", "model.star", "optimiser.star", "sampling.star", "classes.mrcs"):
            assert (job / f"run_it{it:03d}_{kind}").is_file(), f"run_it{it:03d}_{kind}"
    assert (job / "RELION_JOB_EXIT_SUCCESS").exists()
    assert res.output_nodes == [(f"{JOB}run_it003_data.star", "ParticlesData.star.relion.class2d"),
                                (f"{JOB}run_it003_optimiser.star", "ProcessData.star.relion.optimiser.class2d")]
    with mrcfile.open(job / "run_it003_classes.mrcs") as m:
        assert m.data.shape == (K, BOX, BOX)
        assert m.voxel_size.x == pytest.approx(PIXEL)


def test_data_star_has_relions_labels_and_one_row_per_particle(finished):
    proj, _, _ = finished
    tables = read_star(proj.root / JOB / "run_it003_data.star")
    d = tables["particles"]
    assert len(d) == N
    for label in ("rlnClassNumber", "rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst", "rlnMaxValueProbDistribution",
                  "rlnNrOfSignificantSamples", "rlnLogLikeliContribution", "rlnNormCorrection", "rlnGroupNumber",
                  "rlnImageName", "rlnDefocusU"):
        assert label in d.columns, label
    assert d["rlnClassNumber"].between(1, K).all()
    assert d["rlnAnglePsi"].between(-180.0, 360.0).all()
    assert d["rlnMaxValueProbDistribution"].between(0.0, 1.0).all()
    assert (d["rlnNrOfSignificantSamples"] >= 1).all()
    source = read_star(proj.root / proj.particles_star)["particles"]
    assert list(d["rlnImageName"]) == list(source["rlnImageName"])


def test_model_star_lists_classes_groups_and_spectra(finished):
    proj, _, _ = finished
    t = read_star(proj.root / JOB / "run_it003_model.star")
    general = t["model_general"]
    assert int(general["rlnNrClasses"].iloc[0]) == K
    assert int(general["rlnOriginalImageSize"].iloc[0]) == BOX
    classes = t["model_classes"]
    assert list(classes["rlnReferenceImage"]) == [f"{k:06d}@{JOB}run_it003_classes.mrcs" for k in range(1, K + 1)]
    assert classes["rlnClassDistribution"].sum() == pytest.approx(1.0, abs=1e-5)
    for label in ("rlnAccuracyRotations", "rlnAccuracyTranslationsAngst", "rlnEstimatedResolution",
                  "rlnOverallFourierCompleteness"):
        assert label in classes.columns, label
    for k in range(1, K + 1):
        spectra = t[f"model_class_{k}"]
        assert len(spectra) == BOX // 2 + 1
        assert {"rlnSsnrMap", "rlnFourierCompleteness", "rlnReferenceSigma2", "rlnReferenceTau2"} <= set(spectra)
    assert len(t["model_groups"]) == N // 50
    assert "rlnSigma2Noise" in t["model_group_1"].columns


def test_job_star_has_the_guis_class2d_options(finished):
    proj, _, _ = finished
    table = read_star_raw(proj.root / JOB / "job.star")["joboptions_values"].columns
    options = dict(zip(table["rlnJobOptionVariable"], table["rlnJobOptionValue"], strict=True))
    assert options["fn_img"] == proj.particles_star
    assert options["nr_classes"] == str(K) and options["tau_fudge"] == "2"
    assert options["do_em"] == "Yes" and options["do_grad"] == "No"
    assert options["nr_iter_em"] == str(ITER)
    assert options["particle_diameter"] == "100" and options["psi_sampling"] == "6"
    assert (JOB, "None", "relion.class2d", "Succeeded") in read_pipeline(proj.root).processes


def test_progress_is_reported_per_iteration(finished):
    _, _, reports = finished
    lines = [r.message for r in reports if r.message.startswith("Iteration")]
    assert [line.split(":")[0] for line in lines] == [f"Iteration {i}/{ITER}" for i in range(1, ITER + 1)]
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_gallery_orders_classes_by_distribution(finished):
    from PIL import Image

    proj, res, _ = finished
    job = proj.root / JOB
    assert (job / class2d.GALLERY_PDF).read_bytes().startswith(b"%PDF-")
    with Image.open(job / class2d.GALLERY_PNG) as im:
        im.load()
        assert im.mode == "L" and im.width >= K * BOX
    assert f"{JOB}{class2d.GALLERY_PNG}" in res.figures


@pytest.mark.relion
@pytest.mark.skipif(shutil.which("relion_refine") is None, reason="relion_refine (RELION 3.1) not installed")
def test_relion_continues_from_our_optimiser(finished, tmp_path):
    """``relion_refine --continue`` reads our optimiser, model, data and sampling files and runs one more iteration."""
    proj, _, _ = finished
    root = _copy_project(proj.root, tmp_path / "p")
    (root / "Class2D/job020").mkdir()
    out = subprocess.run(["relion_refine", "--continue", f"{JOB}run_it002_optimiser.star", "--o", "Class2D/job020/run",
                          "--iter", "3", "--j", "2"], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    model = read_star(root / "Class2D/job020/run_it003_model.star")
    assert int(model["model_general"]["rlnNrClasses"].iloc[0]) == K
    assert len(read_star(root / "Class2D/job020/run_it003_data.star")["particles"]) == N


def test_continue_resumes_from_a_given_iteration(finished, tmp_path):
    """Continuing from iteration 2 in a new job repeats iteration 3 of the original run."""
    proj, _, _ = finished
    root = _copy_project(proj.root, tmp_path / "p")
    before = _digest(root, JOB)
    job = "Class2D/job009/"
    class2d.run(_params(proj.particles_star, continue_optimiser_star=f"{JOB}run_it002_optimiser.star"), root, job)
    assert _digest(root, JOB) == before
    assert not (root / job / "run_it001_data.star").exists()
    assert (root / job / "run_it002_optimiser.star").exists() and (root / job / "run_it003_optimiser.star").exists()
    a = read_star(root / JOB / "run_it003_data.star")["particles"]
    b = read_star(root / job / "run_it003_data.star")["particles"]
    assert np.mean(a["rlnClassNumber"].to_numpy() == b["rlnClassNumber"].to_numpy()) > 0.95
    dpsi = np.abs((a["rlnAnglePsi"].to_numpy() - b["rlnAnglePsi"].to_numpy() + 180.0) % 360.0 - 180.0)
    assert np.median(dpsi) < 1.0


def test_continue_refuses_a_finished_or_mismatched_run(finished, tmp_path):
    proj, _, _ = finished
    root = _copy_project(proj.root, tmp_path / "p")
    with pytest.raises(BadInputError, match="already at or past"):
        class2d.run(_params(proj.particles_star, continue_optimiser_star=f"{JOB}run_it003_optimiser.star"), root,
                    "Class2D/job010/")
    with pytest.raises(BadInputError, match="classes"):
        class2d.run(_params(proj.particles_star, nr_classes=K + 1, continue_optimiser_star=f"{JOB}run_it001_optimiser.star"),
                    root, "Class2D/job011/")


def test_interrupted_run_resumes_after_its_last_complete_iteration(finished, tmp_path):
    proj, _, _ = finished
    root = tmp_path / "p"
    root.mkdir()
    shutil.copytree(proj.root / "Extract", root / "Extract")
    (root / ".gui_projectdir").touch()
    cancel = threading.Event()

    def stop_after_iteration_2(report: Progress) -> None:
        if report.message.startswith("Iteration 2/"):
            cancel.set()

    with pytest.raises(Cancelled):
        class2d.run(_params(proj.particles_star), root, JOB, progress=stop_after_iteration_2, cancel=cancel)
    assert (root / JOB / "RELION_JOB_EXIT_ABORTED").exists()
    assert (root / JOB / "run_it002_optimiser.star").exists() and not (root / JOB / "run_it003_data.star").exists()
    it2 = _digest(root, JOB)
    messages: list[str] = []
    class2d.run(_params(proj.particles_star), root, JOB, progress=lambda r: messages.append(r.message))
    assert (root / JOB / "RELION_JOB_EXIT_SUCCESS").exists()
    assert any("Iteration 3/" in m for m in messages) and not any("Iteration 1/" in m for m in messages)
    after = _digest(root, JOB)
    assert all(after[f] == it2[f] for f in it2 if "_it001_" in f)
    a = read_star(proj.root / JOB / "run_it003_data.star")["particles"]
    b = read_star(root / JOB / "run_it003_data.star")["particles"]
    np.testing.assert_array_equal(a["rlnClassNumber"].to_numpy(), b["rlnClassNumber"].to_numpy())


# ---- bad input: a clear error naming the file, nothing that looks finished, inputs unchanged


@pytest.fixture()
def small(tmp_path):
    return _make_project(tmp_path)


def _fails(proj, params, match: str, job: str = "Class2D/job012/") -> None:
    before = _digest(proj.root, "Extract")
    with pytest.raises(BadInputError, match=match):
        class2d.run(params, proj.root, job)
    assert _digest(proj.root, "Extract") == before
    outputs = sorted(p.name for p in (proj.root / job).glob("*")) if (proj.root / job).exists() else []
    assert not any(name.startswith("run_it") or name == "RELION_JOB_EXIT_SUCCESS" for name in outputs), outputs
    assert (job, "None", "relion.class2d", "Failed") in read_pipeline(proj.root).processes


def _rewrite_particles(proj, edit) -> None:
    path = proj.root / proj.particles_star
    tables = read_star(path)
    tables["particles"] = edit(tables["particles"])
    write_star(path, {name: {c: t[c].to_numpy() for c in t.columns} for name, t in tables.items()})


def test_ctf_correction_without_ctf_values_is_refused(small):
    _rewrite_particles(small, lambda d: d.drop(columns=["rlnDefocusU", "rlnDefocusV"]))
    _fails(small, _params(small.particles_star, ctf=True), r"particles\.star: CTF correction needs _rlnDefocusU")


def test_mask_larger_than_the_box_is_refused(small):
    _fails(small, _params(small.particles_star, mask_diameter_angstrom=200.0),
           r"mask diameter 200 Å is larger than the box of Extract/job007/particles\.star \(32 px")


def test_image_beyond_its_stack_is_refused(small):
    _rewrite_particles(small, lambda d: d.assign(rlnImageName=["000099@" + n.split("@")[1] for n in d["rlnImageName"]]))
    _fails(small, _params(small.particles_star), r"image 99@Extract/job007/Movies/mic_001\.mrcs is named, but .*mic_001\.mrcs holds 50 images")


def test_stack_of_another_box_size_is_refused(small):
    stack = small.root / "Extract/job007/Movies/mic_002.mrcs"
    with mrcfile.new(stack, overwrite=True) as m:
        m.set_data(np.zeros((50, 24, 24), np.float32))
        m.voxel_size = PIXEL
    _fails(small, _params(small.particles_star), r"mic_002\.mrcs.*24")


def test_empty_particle_set_is_refused(small):
    path = small.root / small.particles_star
    text = path.read_text()
    header_end = text.index("_rlnPhaseShift")
    path.write_text(text[:text.index("\n", header_end) + 1])    # the particles table's labels, no rows
    _fails(small, _params(small.particles_star), r"particles\.star: no particles")


def test_more_classes_than_particles_is_refused(small):
    _rewrite_particles(small, lambda d: d.iloc[:2])
    _fails(small, _params(small.particles_star), r"3 classes for 2 particles")


def test_streamed_particles_classify_as_the_ones_read_into_memory(small, monkeypatch):
    """Above the memory budget the images are read from their stacks per batch, with the same result."""
    params = _params(small.particles_star, nr_iter=1)
    class2d.run(params, small.root, "Class2D/job013/")
    monkeypatch.setattr(class2d, "IN_MEMORY_FRACTION", 0.0)
    class2d.run(params, small.root, "Class2D/job014/")
    assert (small.root / "Class2D/job014/run.out").read_text().count("streamed from their stacks") == 1
    a = read_star(small.root / "Class2D/job013/run_it001_data.star")["particles"]
    b = read_star(small.root / "Class2D/job014/run_it001_data.star")["particles"]
    np.testing.assert_array_equal(a["rlnClassNumber"].to_numpy(), b["rlnClassNumber"].to_numpy())
    np.testing.assert_allclose(a["rlnAnglePsi"].to_numpy(), b["rlnAnglePsi"].to_numpy())
