"""A blank micrograph (every pixel equal) fails the job of every stage that reads pixels, naming the file."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.jobdir import FAILURE
from cryopick.io.mrc import read_mrc, write_mrc
from cryopick.io.pipeline import read_pipeline
from cryopick.stages import autopick_log, extract, topaz_pick
from cryopick.synthetic.project import SimParams, simulate_project

STAR = "CtfFind/job003/micrographs_ctf.star"
BLANK_STAR = "CtfFind/job003/blank.star"
BLANK = "MotionCorr/job002/Movies/blank.mrc"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = simulate_project(SimParams(n_micrographs=2, seed=4, particles_per_mic=10, carbon_fraction=0.0),
                            tmp_path_factory.mktemp("blank")).project_root
    autopick_log.run(autopick_log.Params(STAR, 150, 180), root, "AutoPick/job004/")
    second = "MotionCorr/job002/Movies/mic_002.mrc"
    write_mrc(root / BLANK, np.full(read_mrc(root / second).shape, 0.25, np.float32), 3.54)
    (root / BLANK_STAR).write_text((root / STAR).read_text().replace(second, BLANK))
    listing = (root / "AutoPick/job004/autopick.star").read_text()
    (root / "AutoPick/job004/blank_list.star").write_text(listing.replace(second, BLANK))
    return root


CASES = {
    "autopick-log": lambda: (autopick_log, autopick_log.Params(BLANK_STAR, 150, 180), "AutoPick/job010/", "autopick.star"),
    "extract": lambda: (extract, extract.Params(BLANK_STAR, "AutoPick/job004/blank_list.star", box_size_px=64),
                        "Extract/job011/", "particles.star"),
    "topaz-pick": lambda: (topaz_pick, topaz_pick.Params(BLANK_STAR, 180.0), "AutoPick/job012/", "autopick.star"),
}


@pytest.mark.parametrize("stage", list(CASES))
def test_a_blank_micrograph_fails_the_job_naming_the_file(project, stage):
    module, params, job, output = CASES[stage]()
    before = (project / BLANK).read_bytes()
    with pytest.raises(BadInputError, match="blank.mrc: every pixel is 0.25") as err:
        module.run(params, project, job)
    assert "blank micrograph" in str(err.value)
    assert not (project / job / output).exists() and (project / job / FAILURE).exists()
    assert (job, "Failed") in {(p[0], p[3]) for p in read_pipeline(project).processes}
    assert (project / BLANK).read_bytes() == before
    assert BLANK in (project / job / "run.err").read_text()
