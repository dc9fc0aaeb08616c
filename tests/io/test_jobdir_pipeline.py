"""Job directories, pipeline numbering and registration."""

import pytest

from cryopick.errors import Cancelled
from cryopick.io.jobdir import FAILURE, SUCCESS, ABORTED, JobDir, per_micrograph_output, post_path
from cryopick.io.pipeline import allocate_job, read_pipeline, register_job
from cryopick.io.star import read_star


def test_post_path_and_outputs():
    assert post_path("MotionCorr/job002/Movies/a.mrc") == "Movies/a.mrc"
    assert post_path("Micrographs/a.mrc") == "Micrographs/a.mrc"
    assert per_micrograph_output("AutoPick/job006/", "MotionCorr/job002/Movies/a.mrc", "_autopick.star") == (
        "AutoPick/job006/Movies/a_autopick.star"
    )


def test_job_lifecycle_markers_and_files(tmp_path):
    job = JobDir(tmp_path, "AutoPick/job006")
    job.begin("cryopick autopick-log ...", "relion.autopick.log", {"log_diam_min": 150, "log_invert": False})
    with job.running():
        job.log("hello")
    assert job.status() == "success" and (job.path / SUCCESS).exists()
    assert "cryopick autopick-log" in (job.path / "note.txt").read_text()
    opts = read_star(job.path / "job.star")["joboptions_values"]
    assert dict(zip(opts.rlnJobOptionVariable, opts.rlnJobOptionValue)) == {"log_diam_min": "150", "log_invert": "No"}
    job.begin("again", "relion.autopick.log", {})
    assert job.status() is None  # stale marker removed
    with pytest.raises(RuntimeError):
        with job.running():
            raise RuntimeError("boom")
    assert (job.path / FAILURE).exists() and "boom" in (job.path / "run.err").read_text()
    job.begin("again", "relion.autopick.log", {})
    with pytest.raises(Cancelled):
        with job.running():
            raise Cancelled("client went away")
    assert (job.path / ABORTED).exists()


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
