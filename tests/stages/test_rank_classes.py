"""``cryopick rank``: scores, selection and the files RELION's Select job writes, on a real classification."""

import shutil
import subprocess

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.columns import read_table
from cryopick.io.pipeline import read_pipeline
from cryopick.io.star import read_star_raw
from cryopick.stages import rank_classes

OPT = "Class2D/job006/run_it002_optimiser.star"


@pytest.fixture
def project(classified, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(classified, root, symlinks=True)
    return root


def table(root, rel, name):
    return read_table(root / rel, name)


def test_scores_every_class_and_writes_relions_select_files(project):
    result = rank_classes.run(rank_classes.Params(OPT, min_score=0.5, select_min_nr_classes=1), project,
                              "Select/job007/")
    job = project / "Select/job007"
    model = table(project, "Select/job007/rank_model.star", "model_classes")
    scores = np.asarray(model["rlnClassScore"], dtype=float)
    assert len(scores) == 3 and all(0 <= s <= 1 or s == -999 for s in scores)
    assert list(model)[:2] == ["rlnReferenceImage", "rlnClassScore"] and "rlnClassDistribution" in model
    selected = np.asarray(table(project, "Select/job007/backup_selection.star", "")["rlnSelected"]) == 1
    best = np.zeros(3, bool)
    best[np.argmax(scores)] = True
    assert np.array_equal(selected, scores >= 0.5 if (scores >= 0.5).any() else best)  # topped up to one class

    data = table(project, "Class2D/job006/run_it002_data.star", "particles")
    classes = np.asarray(data["rlnClassNumber"])
    particles = table(project, "Select/job007/particles.star", "particles")
    keep = selected[classes - 1]
    assert list(particles["rlnImageName"]) == list(np.asarray(data["rlnImageName"])[keep])  # original order
    assert result.counts["selected_particles"] == keep.sum() and result.counts["particles"] == len(classes)
    assert "optics" in read_star_raw(job / "particles.star")

    averages = table(project, "Select/job007/class_averages.star", "")
    assert len(averages.get("rlnPredictedClassScore", [])) == selected.sum()
    assert list(averages.get("rlnPredictedClassScore", [])) == sorted(scores[selected], reverse=True)

    optimiser = read_star_raw(job / "rank_optimiser.star")["optimiser_general"].columns
    assert optimiser["rlnModelStarFile"][0] == "Select/job007/rank_model.star"
    assert optimiser["rlnExperimentalDataStarFile"][0] == "Select/job007/rank_data.star"
    assert (job / "rank_data.star").read_text().count("@Extract/job005/") == len(classes)
    assert np.load(job / "features.npy").shape == (result.counts["scored_classes"], 24)
    assert np.load(job / "images.npy").shape == (result.counts["scored_classes"], 64, 64)
    assert (job / "class_scores.pdf").read_bytes().startswith(b"%PDF")
    process = {p[0]: p for p in read_pipeline(project).processes}["Select/job007/"]
    assert process[2] == "relion.select.class2dauto" and process[3] == "Succeeded"


def test_the_minimum_number_of_classes_tops_up_the_selection_by_score(project):
    rank_classes.run(rank_classes.Params(OPT, min_score=2.0, select_min_nr_classes=2), project, "Select/job007/")
    scores = np.asarray(table(project, "Select/job007/rank_model.star", "model_classes")["rlnClassScore"], dtype=float)
    selected = np.asarray(table(project, "Select/job007/backup_selection.star", "")["rlnSelected"]) == 1
    assert selected.sum() == 2 and set(np.flatnonzero(selected)) == set(np.argsort(-scores)[:2])


def test_an_empty_selection_fails_the_job_saying_what_to_change(project):
    with pytest.raises(BadInputError, match=f"{OPT}: no class was selected .*lower --min-score"):
        rank_classes.run(rank_classes.Params(OPT, min_score=2.0), project, "Select/job007/")
    assert not (project / "Select/job007/particles.star").exists()
    assert (project / "Select/job007/RELION_JOB_EXIT_FAILURE").exists()


def test_minimum_particles_and_classes_together_are_refused_before_anything_is_written(project):
    with pytest.raises(BadInputError, match="not both"):
        rank_classes.run(rank_classes.Params(OPT, select_min_nr_particles=10, select_min_nr_classes=1), project,
                         "Select/job007/")
    assert not (project / "Select/job007/particles.star").exists()


def test_a_classification_without_ctf_correction_is_refused_naming_the_file(project):
    path = project / OPT
    text = path.read_text()
    assert "_rlnDoCorrectCtf                                     1" in text
    path.write_text(text.replace("_rlnDoCorrectCtf                                     1",
                                 "_rlnDoCorrectCtf                                     0"))
    with pytest.raises(BadInputError, match=f"{OPT}: the classification did not correct CTFs"):
        rank_classes.run(rank_classes.Params(OPT), project, "Select/job007/")
    assert not (project / "Select/job007/particles.star").exists()


def test_weights_from_the_project_score_as_the_shipped_ones_and_are_part_of_the_fingerprint(project):
    from cryopick.io.ranker_model import SHIPPED_WEIGHTS

    (project / "Models").mkdir()
    shutil.copy(SHIPPED_WEIGHTS, project / "Models/scorer.pt")
    rank_classes.run(rank_classes.Params(OPT, min_score=0.0), project, "Select/job007/")
    rank_classes.run(rank_classes.Params(OPT, model_path="Models/scorer.pt", min_score=0.0), project, "Select/job008/")
    scores = [table(project, f"Select/{job}/rank_model.star", "model_classes")["rlnClassScore"]
              for job in ("job007", "job008")]
    np.testing.assert_array_equal(scores[0], scores[1])
    assert "--model Models/scorer.pt" in (project / "Select/job008/note.txt").read_text()
    with pytest.raises(BadInputError, match="outside the project"):
        rank_classes.run(rank_classes.Params(OPT, model_path=str(SHIPPED_WEIGHTS)), project, "Select/job009/")


@pytest.mark.skipif(shutil.which("relion_star_handler") is None, reason="relion_star_handler (RELION 3.1) not installed")
def test_relion_reads_the_selected_particles(project):
    result = rank_classes.run(rank_classes.Params(OPT, min_score=0.0), project, "Select/job007/")
    out = subprocess.run(["relion_star_handler", "--i", "Select/job007/particles.star", "--o", "relion.star",
                          "--select", "rlnClassNumber", "--minval", "1"], cwd=project, capture_output=True, text=True)
    assert out.returncode == 0 and "WARNING" not in out.stderr, out.stderr
    relion = read_star_raw(project / "relion.star")
    assert len(relion["particles"]) == result.counts["selected_particles"] > 0
    assert len(relion["optics"]) == 1
