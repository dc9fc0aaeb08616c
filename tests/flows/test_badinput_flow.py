"""The bad-input corpus (tests/badinput) through the flow, the third way: the run fails with one message naming
the file and the problem, writes nothing that looks finished, leaves every input byte-identical and records the
job as Failed. The flow reads micrographs, so the cases are the MRC and micrographs-STAR ones (the coordinate
cases reach extraction only through picks the flow makes itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from badinput.corpus import CASES, digests
from cryopick.io.pipeline import read_pipeline

pytestmark = pytest.mark.slow
FLOW_CASES = [c for c in CASES if "topaz-pick" in c.stages]


@pytest.fixture(scope="module")
def corpus_project(services, services_root, make_project):
    from cryopick.stages import autopick_log

    root = make_project(services_root, "badinput", n_mics=2, seed=9)
    autopick_log.run(autopick_log.Params("CtfFind/job003/micrographs_ctf.star", 150, 180), root, "AutoPick/job004/")
    return root


@pytest.mark.parametrize("case", FLOW_CASES, ids=[c.name for c in FLOW_CASES])
def test_bad_input_through_the_flow(corpus_project, services_root, case):
    from cryopick.flows.particle_picking import particle_picking

    root = corpus_project
    star, _, damaged = case.make(root)
    before = digests(root)
    jobs_before = {p[0] for p in read_pipeline(root).processes}
    state = particle_picking(project_dir=str(root), service_project="badinput", micrographs_star=star,
                             topaz_route="pretrained", return_state=True)
    assert state.is_failed(), state.message
    assert Path(damaged).name in state.message and all(f in state.message for f in case.fragments), state.message
    new = [p for p in read_pipeline(root).processes if p[0] not in jobs_before]
    assert [(p[0].split("/")[0], p[3]) for p in new] == [("AutoPick", "Failed")], new
    assert not (root / new[0][0] / "autopick.star").exists()
    after = digests(root)
    assert {k: after.get(k) for k in before} == before
    # new files: the failed job's own, and the flow's bookkeeping (.cryopick/, RELION's project marker)
    assert all(k.startswith((new[0][0], ".cryopick/", ".gui_projectdir")) for k in set(after) - set(before)), \
        sorted(set(after) - set(before))
