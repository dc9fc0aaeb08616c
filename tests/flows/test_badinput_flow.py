"""The bad-input corpus (tests/badinput) through the flow, the third way: the run fails with one message naming
the file and the problem, writes nothing that looks finished, leaves every input byte-identical and records the
job as Failed.

The flow is given a micrographs STAR and the jobs' parameters; it picks with Topaz's pretrained network first
(``topaz_route="pretrained"``), so the cases are those that reach Topaz picking through what a flow is given:
the MRC and micrographs-STAR cases, a micrographs STAR outside the project, and absurd Topaz-picking
parameters. Not through the flow: coordinate, particle and classification inputs (the flow makes them itself,
from its own jobs), model files (the flow picks with the network it trained, or the pretrained one), and the
output job directory (the flow numbers the jobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from badinput.corpus import CASES, digests, run_fields
from cryopick.io.pipeline import read_pipeline
from cryopick.stages.fields import fields_of
from cryopick.stages.registry import stage

pytestmark = pytest.mark.slow
_INPUTS = {f.name for f in fields_of(stage("topaz-pick").params_class) if f.is_input}


def _through_the_flow(case) -> bool:
    """The case reaches Topaz picking through the flow's parameters (no model file, no job directory)."""
    changed = set(case.fields.get("topaz-pick", {}))
    return "topaz-pick" in case.stages and case.job_dir is None and not changed & _INPUTS


FLOW_CASES = [c for c in CASES if _through_the_flow(c)]


@pytest.fixture(scope="module")
def corpus_project(services, services_root, make_project):
    from cryopick.stages import autopick_log

    root = make_project(services_root, "badinput", n_mics=2, seed=9)
    autopick_log.run(autopick_log.Params("CtfFind/job003/micrographs_ctf.star", 150, 180), root, "AutoPick/job004/")
    return root


@pytest.mark.parametrize("case", FLOW_CASES, ids=[c.name for c in FLOW_CASES])
def test_bad_input_through_the_flow(corpus_project, services_root, case):
    from cryopick.flows.params import TopazPickingParams
    from cryopick.flows.particle_picking import particle_picking

    root = corpus_project
    made = case.make(root)
    settings = {k: v for k, v in case.fields.get("topaz-pick", {}).items() if k not in _INPUTS}
    before = digests(root)
    jobs_before = {p[0] for p in read_pipeline(root).processes}
    state = particle_picking(project_dir=str(root), service_project="badinput",
                             micrographs_star=run_fields(case, "topaz-pick", made)["micrographs_star"],
                             topaz_picking=TopazPickingParams(**settings), topaz_route="pretrained", return_state=True)
    assert state.is_failed(), state.message
    assert Path(made[2]).name in state.message and all(f in state.message for f in case.fragments_for("topaz-pick")), \
        state.message
    new = [p for p in read_pipeline(root).processes if p[0] not in jobs_before]
    assert [(p[0].split("/")[0], p[3]) for p in new] == [("AutoPick", "Failed")], new
    assert not (root / new[0][0] / "autopick.star").exists()
    after = digests(root)
    assert {k: after.get(k) for k in before} == before
    # new files: the failed job's own, and the flow's bookkeeping (.cryopick/, RELION's project marker)
    assert all(k.startswith((new[0][0], ".cryopick/", ".gui_projectdir")) for k in set(after) - set(before)), \
        sorted(set(after) - set(before))
