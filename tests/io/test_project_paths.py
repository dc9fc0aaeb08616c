"""ProjectPaths: inputs stay in the project (linked-in micrographs read only), outputs in their job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cryopick.errors import BadInputError
from cryopick.io.jobdir import checked_post_path
from cryopick.io.paths import ProjectPaths


@pytest.fixture
def project(tmp_path: Path) -> ProjectPaths:
    root = tmp_path / "p"
    (root / "MotionCorr/job002/Movies").mkdir(parents=True)
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "a.mrc").write_text("x")
    return ProjectPaths(root)


@pytest.mark.parametrize("name", ["../x.mrc", "MotionCorr/job002/../../../x.mrc", "/etc/passwd", ".", ""])
def test_read_path_refuses_names_outside_the_project(project, name):
    with pytest.raises(BadInputError):
        project.read_path(name, "micrograph", linked_ok=True)


def test_linked_in_files_are_allowed_only_when_asked(project, tmp_path):
    os.symlink(tmp_path / "storage", project.root / "Linked")
    assert project.read_path("Linked/a.mrc", "micrograph", linked_ok=True) == project.root / "Linked/a.mrc"
    with pytest.raises(BadInputError, match="through a symlink"):
        project.read_path("Linked/a.mrc", "coordinate file")
    assert project.read_path(str(project.root / "MotionCorr/x.mrc"), "micrograph") == project.root / "MotionCorr/x.mrc"


def test_outputs_stay_in_the_job_directory(project, tmp_path):
    out = project.output("AutoPick/job005/", "Movies/a_autopick.star")
    assert out == project.root / "AutoPick/job005/Movies/a_autopick.star" and out.parent.is_dir()
    for bad in ("../job006/x.star", "Movies/../../x.star", "/tmp/x.star"):
        with pytest.raises(BadInputError, match="outside"):
            project.output("AutoPick/job005/", bad)
    os.symlink(tmp_path / "storage", project.root / "AutoPick/job005/Out")
    with pytest.raises(BadInputError, match="outside the job directory"):
        project.output("AutoPick/job005/", "Out/sub/x.star")
    assert not (tmp_path / "storage" / "sub").exists()  # refused before any directory was made
    with pytest.raises(BadInputError, match="Out is a symlink"):
        project.check_job_tree("AutoPick/job005/")
    (project.root / "AutoPick/job005/x.star").symlink_to(project.root / "AutoPick/job005/Movies/a_autopick.star")
    with pytest.raises(BadInputError, match="is a symlink; refusing"):
        project.output("AutoPick/job005/", "x.star")


@pytest.mark.parametrize("job,job_type", [("AutoPick/job005", "AutoPick"), ("Select/job0012/", None)])
def test_job_dir_accepts_relion_job_directories(project, job, job_type):
    assert project.job_dir(job, job_type) == job.rstrip("/") + "/"


@pytest.mark.parametrize("job", ["AutoPick/job5/", "AutoPick/foo/", "../AutoPick/job005/", "Extract/job005/",
                                 "AutoPick/job005/Movies/"])
def test_job_dir_refuses_anything_else(project, job):
    with pytest.raises(BadInputError, match="job directory"):
        project.job_dir(job, "AutoPick")


def test_post_paths_that_climb_out_are_refused():
    assert checked_post_path("MotionCorr/job002/Movies/a.mrc") == "Movies/a.mrc"
    for name in ("MotionCorr/job002/../../x.mrc", "../x.mrc", "/data/x.mrc"):
        with pytest.raises(BadInputError, match="outside the job directory"):
            checked_post_path(name)
