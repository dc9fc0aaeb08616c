"""A micrographs STAR that lists a micrograph twice is refused by every stage that reads one, before it writes."""

import pytest

from cryopick.errors import BadInputError
from cryopick.io.jobdir import FAILURE
from cryopick.io.pipeline import read_pipeline
from cryopick.stages import autopick_log, extract, select, select_new, topaz_pick, topaz_train
from cryopick.synthetic.project import SimParams, simulate_project

STAR = "CtfFind/job003/micrographs_ctf.star"
DUP = "CtfFind/job003/twice.star"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = simulate_project(SimParams(n_micrographs=2, seed=4, particles_per_mic=10, carbon_fraction=0.0),
                            tmp_path_factory.mktemp("dup")).project_root
    autopick_log.run(autopick_log.Params(STAR, 150, 180), root, "AutoPick/job004/")
    lines = (root / STAR).read_text().split("\n")
    last = max(k for k, line in enumerate(lines) if "mic_002.mrc" in line)
    lines.insert(last + 1, lines[last])  # mic_002 listed twice
    (root / DUP).write_text("\n".join(lines))
    return root


CASES = {
    "select": lambda: (select, select.Params(DUP, split_size=1), "Select/job010/", "micrographs_split1.star"),
    "select-new": lambda: (select_new, select_new.Params(DUP), "Select/job011/", "micrographs.star"),
    "autopick-log": lambda: (autopick_log, autopick_log.Params(DUP, 150, 180), "AutoPick/job012/", "autopick.star"),
    "extract": lambda: (extract, extract.Params(DUP, "AutoPick/job004/autopick.star", box_size_px=64),
                        "Extract/job013/", "particles.star"),
    "topaz-pick": lambda: (topaz_pick, topaz_pick.Params(DUP, 180.0), "AutoPick/job014/", "autopick.star"),
    "topaz-train": lambda: (topaz_train, topaz_train.Params(DUP, 180.0, coords_star="AutoPick/job004/autopick.star"),
                            "AutoPick/job015/", "model_best.sav"),
}


@pytest.mark.parametrize("stage", list(CASES))
def test_a_micrograph_listed_twice_is_refused(project, stage):
    module, params, job, output = CASES[stage]()
    before = (project / DUP).read_bytes()
    with pytest.raises(BadInputError) as err:
        module.run(params, project, job)
    message = str(err.value)
    assert DUP in message and "more than once" in message and "mic_002.mrc" in message
    assert not (project / job / output).exists()
    assert (project / job / FAILURE).exists()
    assert (job, "Failed") in {(p[0], p[3]) for p in read_pipeline(project).processes}
    assert (project / DUP).read_bytes() == before
