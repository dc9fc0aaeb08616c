"""Job directories, pipeline numbering and registration."""

from cryopick.io.jobdir import FAILURE, SUCCESS, ABORTED, JobDir, per_micrograph_output, post_path
from cryopick.io.pipeline import allocate_job, read_pipeline, register_job
from cryopick.io.star import read_star


def test_post_path_and_outputs():
    assert post_path("MotionCorr/job002/Movies/a.mrc") == "Movies/a.mrc"
    assert post_path("Micrographs/a.mrc") == "Micrographs/a.mrc"
    assert per_micrograph_output("AutoPick/job006/", "MotionCorr/job002/Movies/a.mrc", "_autopick.star") == (
        "AutoPick/job006/Movies/a_autopick.star"
    )


def test_job_files_markers_and_results(tmp_path):
    job = JobDir(tmp_path, "AutoPick/job006")
    job.begin("cryopick autopick-log ...", "relion.autopick.log", {"log_diam_min": 150, "log_invert": False})
    job.log("hello")
    job.mark(SUCCESS)
    assert job.status() == "success" and (job.path / SUCCESS).exists()
    assert "cryopick autopick-log" in (job.path / "note.txt").read_text()
    assert (job.path / "run.out").read_text() == "hello\n"
    opts = read_star(job.path / "job.star")["joboptions_values"]
    assert dict(zip(opts.rlnJobOptionVariable, opts.rlnJobOptionValue)) == {"log_diam_min": "150", "log_invert": "No"}
    assert job.results() == []  # bookkeeping only
    job.begin("again", "relion.autopick.log", {})
    assert job.status() is None  # stale marker removed
    job.mark(FAILURE)
    job.mark(ABORTED)
    assert job.status() == "aborted" and not (job.path / FAILURE).exists()  # one marker at a time
    rel, path = job.item_output("MotionCorr/job002/Movies/a.mrc", "_autopick.star")
    assert rel == "AutoPick/job006/Movies/a_autopick.star" and path == job.path / "Movies/a_autopick.star"
    assert path.parent.is_dir()
    path.write_text("")
    assert job.results() == ["Movies"]


def test_allocate_and_register(tmp_path):
    (tmp_path / "CtfFind/job003").mkdir(parents=True)
    a = allocate_job(tmp_path, "Select")
    b = allocate_job(tmp_path, "AutoPick")
    assert (a, b) == ("Select/job004/", "AutoPick/job005/")
    register_job(tmp_path, b, "relion.autopick.log", "Succeeded",
                 inputs=[("Select/job004/micrographs_split1.star", "MicrographsData.star.relion")],
                 outputs=[("AutoPick/job005/autopick.star", "MicrographsCoords.star.relion.autopick")])
    p = read_pipeline(tmp_path)
    assert p.job_counter == 6
    assert ("AutoPick/job005/", "None", "relion.autopick.log", "Succeeded") in p.processes
    assert ("Select/job004/micrographs_split1.star", "AutoPick/job005/") in p.input_edges
    assert (tmp_path / ".Nodes/MicrographsCoords/AutoPick/job005/autopick.star").exists()
    assert not (tmp_path / ".relion_lock").exists()


def test_release_job_gives_the_number_back_only_when_empty(tmp_path):
    from cryopick.io.pipeline import release_job

    (tmp_path / "CtfFind/job003").mkdir(parents=True)
    a = allocate_job(tmp_path, "Class2D")
    assert release_job(tmp_path, a) and not (tmp_path / "Class2D").exists()
    assert read_pipeline(tmp_path).job_counter == 4
    b = allocate_job(tmp_path, "Class2D")
    assert b == a
    (tmp_path / b / "x").write_text("")
    assert not release_job(tmp_path, b) and (tmp_path / b / "x").exists()
