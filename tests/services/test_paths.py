"""ProjectDir: every request path stays inside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cryopick.errors import BadInputError, MissingFileError
from cryopick.services.runtime.paths import ProjectDir


@pytest.fixture
def proj(tmp_path: Path) -> ProjectDir:
    root = tmp_path / "root"
    (root / "CtfFind" / "job004").mkdir(parents=True)
    (root / "CtfFind" / "job004" / "m.star").write_text("x")
    return ProjectDir.open(root)


@pytest.mark.parametrize("rel,expected", [
    ("CtfFind/job004/m.star", "CtfFind/job004/m.star"),
    ("./CtfFind//job004/m.star", "CtfFind/job004/m.star"),
    ("CtfFind/job004/../job004/m.star", "CtfFind/job004/m.star"),
])
def test_relative_paths_are_normalised(proj: ProjectDir, rel, expected):
    assert proj.input_file(rel) == expected


@pytest.mark.parametrize("rel", ["..", "../x", "a/../../x", "/etc/passwd", ".", ""])
def test_escapes_are_refused(proj: ProjectDir, rel):
    with pytest.raises(BadInputError):
        proj.relative(rel, "micrographs_star")


def test_symlinked_root_is_fine(tmp_path: Path, proj: ProjectDir):
    os.symlink(proj.path, tmp_path / "alias")
    via = ProjectDir.open(tmp_path / "alias")
    assert via.input_file("CtfFind/job004/m.star") == "CtfFind/job004/m.star"
    assert via.input_file(str(proj.path / "CtfFind/job004/m.star")) == "CtfFind/job004/m.star"


def test_symlinked_directory_pointing_out_is_refused(tmp_path: Path, proj: ProjectDir):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "m.star").write_text("x")
    os.symlink(tmp_path / "data", proj.path / "Movies")
    with pytest.raises(BadInputError, match="Movies/m.star"):
        proj.input_file("Movies/m.star")


def test_missing_file(proj: ProjectDir):
    with pytest.raises(MissingFileError, match="CtfFind/job004/none.star"):
        proj.input_file("CtfFind/job004/none.star")


@pytest.mark.parametrize("job,expected", [("Select/job005/", "Select/job005/"), ("Select/job005", "Select/job005/"),
                                          ("AutoPick/job1234/", "AutoPick/job1234/")])
def test_job_dir(proj: ProjectDir, job, expected):
    assert proj.job_dir(job) == expected


@pytest.mark.parametrize("job", ["Select", "Select/job5/", "../Select/job005/", "/abs/Select/job005/", "a/Select/job005/",
                                 "Select/job005/x/", "Select/job005/.."])
def test_bad_job_dir(proj: ProjectDir, job):
    with pytest.raises(BadInputError):
        proj.job_dir(job)


def test_project_subdirectory(tmp_path: Path, proj: ProjectDir):
    (proj.path / "p1").mkdir()
    sub = ProjectDir.open(proj.path, "p1")
    assert sub.path == proj.path / "p1"
    with pytest.raises(BadInputError):
        ProjectDir.open(proj.path, "../elsewhere")
    with pytest.raises(MissingFileError):
        ProjectDir.open(proj.path, "p2")
