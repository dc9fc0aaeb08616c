"""Path confinement in the stage layer: the cases that once wrote outside the project.

* a micrograph named ``../../../../tmp/x/mic_001.mrc`` in an in-project STAR file;
* a ``Movies`` folder inside a job directory that is a symlink pointing out of the project;
* ``--o ../outside/AutoPick/job099/``, ``--o ../outside/``, ``--o AutoPick/foo/``;
* and the allowance: micrographs linked in from storage are read, never written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cryopick.errors import BadInputError
from cryopick.io.coords import read_coordinate_list, write_coordinate_list
from cryopick.io.optics import read_optics_star, write_optics_star
from cryopick.io.pipeline import read_pipeline
from cryopick.stages import autopick_log, extract
from cryopick.synthetic.extraction import write_synthetic_project


@pytest.fixture
def project(tmp_path):
    p = write_synthetic_project(tmp_path / "project", n_micrographs=2, picks_per_micrograph=4, seed=5)
    (tmp_path / "outside").mkdir()
    return p


def everything_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def log_params(p, **kw):
    return autopick_log.Params(p.micrographs_star, 60.0, 80.0, **kw)


def extract_params(p, **kw):
    return extract.Params(p.micrographs_star, coords_star=p.coords_star, box_size_px=32, float16=False, **kw)


def test_micrograph_named_outside_the_project_is_refused(project, tmp_path):
    outside = tmp_path / "outside"
    escaping = os.path.relpath(outside / "mic_001.mrc", project.root)  # ../outside/mic_001.mrc
    shutil.copy(project.root / project.micrographs[0], outside / "mic_001.mrc")
    star = read_optics_star(project.root / project.micrographs_star)
    data = star.data.copy()
    data.loc[0, "rlnMicrographName"] = escaping
    write_optics_star(project.root / project.micrographs_star, star.with_data(data))
    write_coordinate_list(project.root / project.coords_star, [escaping, project.micrographs[1]], project.coordinate_files)
    before = everything_under(outside)
    with pytest.raises(BadInputError, match="outside the project"):
        autopick_log.run(log_params(project), project.root, "AutoPick/job010/")
    with pytest.raises(BadInputError, match="outside the project"):
        extract.run(extract_params(project), project.root, "Extract/job011/")
    assert everything_under(outside) == before  # nothing written next to the foreign micrograph
    assert not list(tmp_path.glob("*_autopick.star")) and not list(tmp_path.glob("*.mrcs"))


def test_output_folder_that_is_a_symlink_out_of_the_project_is_refused(project, tmp_path):
    outside = tmp_path / "outside"
    for stage, params, job_dir in ((autopick_log, log_params(project), "AutoPick/job010/"),
                                   (extract, extract_params(project), "Extract/job011/")):
        stage.run(params, project.root, job_dir)
        movies = project.root / job_dir / "Movies"
        shutil.rmtree(movies)
        os.symlink(outside, movies)  # a continued run would write its per-micrograph outputs in Movies/
        with pytest.raises(BadInputError, match="Movies is a symlink to .*outside the job directory"):
            stage.run(params, project.root, job_dir)
        assert (project.root / job_dir / "RELION_JOB_EXIT_SUCCESS").exists()  # refused before anything was written
    assert everything_under(outside) == []


@pytest.mark.parametrize("job_dir", ["../outside/AutoPick/job099/", "../outside/", "AutoPick/foo/"])
def test_job_directories_outside_or_malformed_are_refused(project, tmp_path, job_dir):
    before = everything_under(tmp_path)
    with pytest.raises(BadInputError, match="job directory"):
        autopick_log.run(log_params(project), project.root, job_dir)
    assert everything_under(tmp_path) == before  # nothing anywhere, not even default_pipeline.star


def test_job_directory_whose_type_folder_links_out_is_refused(project, tmp_path):
    os.symlink(tmp_path / "outside", project.root / "Extract")
    with pytest.raises(BadInputError, match="outside the project"):
        extract.run(extract_params(project), project.root, "Extract/job010/")
    assert everything_under(tmp_path / "outside") == []


def test_linked_in_micrographs_are_read_and_never_written(project, tmp_path):
    storage = tmp_path / "storage"
    movies = project.root / "MotionCorr/job002/Movies"
    shutil.move(movies, storage)
    os.symlink(storage, movies)  # as a facility links raw data into a project
    before = {p.name: p.stat().st_mtime_ns for p in storage.iterdir()}
    res = autopick_log.run(log_params(project), project.root, "AutoPick/job010/")
    assert res.counts["micrographs"] == 2
    listing = read_coordinate_list(project.root / "AutoPick/job010/autopick.star")
    assert all(str(c).startswith("AutoPick/job010/Movies/") for c in listing["rlnMicrographCoordinates"])
    extract.run(extract_params(project), project.root, "Extract/job011/")
    assert (project.root / "Extract/job011/Movies/mic_001.mrcs").is_file()
    assert {p.name: p.stat().st_mtime_ns for p in storage.iterdir()} == before
    processes = {p[0]: p[3] for p in read_pipeline(project.root).processes}
    assert processes["AutoPick/job010/"] == processes["Extract/job011/"] == "Succeeded"


def test_coordinate_file_named_outside_the_project_is_refused(project, tmp_path):
    shutil.copy(project.root / project.coordinate_files[0], tmp_path / "outside" / "c.star")
    escaping = os.path.relpath(tmp_path / "outside" / "c.star", project.root)
    write_coordinate_list(project.root / project.coords_star, project.micrographs, [escaping, project.coordinate_files[1]])
    with pytest.raises(BadInputError, match="coordinate file .* outside the project"):
        extract.run(extract_params(project), project.root, "Extract/job011/")


def test_micrograph_whose_outputs_would_climb_out_of_the_job_is_refused_before_writing(project):
    climbing = "MotionCorr/job002/Movies/../../../CtfFind/job003/mic_x.mrc"  # in the project; post path climbs
    shutil.copy(project.root / project.micrographs[0], project.root / "CtfFind/job003/mic_x.mrc")
    star = read_optics_star(project.root / project.micrographs_star)
    data = star.data.copy()
    data.loc[0, "rlnMicrographName"] = climbing
    write_optics_star(project.root / project.micrographs_star, star.with_data(data))
    with pytest.raises(BadInputError, match="outside the job directory"):
        autopick_log.run(log_params(project), project.root, "AutoPick/job010/")
    job = project.root / "AutoPick/job010"
    assert sorted(p.name for p in job.iterdir()) == ["RELION_JOB_EXIT_FAILURE", "run.err"]
    assert not list((project.root / "CtfFind").rglob("*_autopick.star"))
