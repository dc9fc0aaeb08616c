"""The stage lifecycle (stages/base.py), exercised with controlled prepare/execute steps."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from cryopick.errors import BadInputError, Cancelled, MissingFileError, PartialFailure
from cryopick.io import nodes
from cryopick.io.jobdir import ABORTED, FAILURE, SUCCESS
from cryopick.io.pipeline import read_pipeline
from cryopick.io.star import read_star_raw
from cryopick.stages.base import Stage, StageResult
from cryopick.stages.select import Params

JOB = "Select/job004/"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "in.star").write_text("data_micrographs\nloop_\n_rlnMicrographName #1\na.mrc\n")
    return tmp_path


def writes(name="out.star", label=nodes.MICROGRAPHS, failures=None):
    def execute(ctx, plan):
        ctx.job.output(name).write_text("data_x\nloop_\n_rlnMicrographName #1\na.mrc\n")
        return StageResult(ctx.job.rel, [(f"{ctx.job.rel}{name}", label)], failures=failures or {})
    return execute


def ok_prepare(params, project):
    return None


def status(root, job=JOB):
    return {p[0]: p[3] for p in read_pipeline(root).processes}.get(job)


def test_success_writes_markers_output_nodes_and_pipeline(root):
    res = Stage("select", ok_prepare, writes()).run(Params("in.star"), root, JOB)
    job = root / JOB
    assert res.output_nodes == [(f"{JOB}out.star", nodes.MICROGRAPHS)]
    assert (job / SUCCESS).exists() and not (job / FAILURE).exists()
    listed = read_star_raw(job / "RELION_OUTPUT_NODES.star")["output_nodes"].columns
    assert listed["rlnPipeLineNodeName"].tolist() == [f"{JOB}out.star"]
    assert status(root) == "Succeeded"
    pipe = read_pipeline(root)
    assert ("in.star", JOB) in pipe.input_edges and (JOB, f"{JOB}out.star") in pipe.output_edges
    note = (job / "note.txt").read_text()
    assert "cryopick select --i in.star --o Select/job004/ --split-size 100" in note
    assert read_star_raw(job / "job.star")["job"].columns["rlnJobTypeLabel"].tolist() == ["relion.select.split"]


def test_validation_and_preparation_fail_before_anything_is_written(root):
    def prepare(params, project):
        raise MissingFileError("in.star: something it names is missing")

    with pytest.raises(BadInputError, match="subset size"):
        Stage("select", ok_prepare, writes()).run(Params("in.star", split_size=0), root, JOB)
    job = root / JOB
    assert sorted(p.name for p in job.iterdir()) == [FAILURE, "run.err"]  # the failure record only
    assert "subset size" in (job / "run.err").read_text() and status(root) == "Failed"
    with pytest.raises(MissingFileError):
        Stage("select", prepare, writes()).run(Params("in.star"), root, "Select/job005/")
    assert sorted(p.name for p in (root / "Select/job005").iterdir()) == [FAILURE, "run.err"]
    # then the corrected job runs in the same directory
    Stage("select", ok_prepare, writes()).run(Params("in.star"), root, JOB)
    assert (job / SUCCESS).exists() and status(root) == "Succeeded"


@pytest.mark.parametrize("job_dir", ["../outside/Select/job004/", "Select/foo/", "../outside/", "AutoPick/job004/",
                                     "/abs/Select/job004/", "Select/job004/../../x/job001"])
def test_bad_job_directories_are_refused_before_anything_is_written(root, job_dir):
    before = sorted(p.relative_to(root.parent) for p in root.parent.rglob("*"))
    with pytest.raises(BadInputError, match="job directory"):
        Stage("select", ok_prepare, writes()).run(Params("in.star"), root, job_dir)
    assert sorted(p.relative_to(root.parent) for p in root.parent.rglob("*")) == before


def test_changed_parameters_are_refused_without_touching_the_job(root):
    Stage("select", ok_prepare, writes()).run(Params("in.star", split_size=5), root, JOB)
    before = {p: p.read_bytes() for p in (root / JOB).rglob("*") if p.is_file()}
    with pytest.raises(BadInputError, match=r"split_size: 5 -> 6"):
        Stage("select", ok_prepare, writes()).run(Params("in.star", split_size=6), root, JOB)
    assert {p: p.read_bytes() for p in (root / JOB).rglob("*") if p.is_file()} == before
    assert status(root) == "Succeeded"


def test_results_without_a_parameter_record_are_refused(root):
    (root / JOB).mkdir(parents=True)
    (root / JOB / "micrographs_split1.star").write_text("from another program")
    with pytest.raises(BadInputError, match="without a cryopick parameter record"):
        Stage("select", ok_prepare, writes()).run(Params("in.star"), root, JOB)
    assert (root / JOB / "micrographs_split1.star").read_text() == "from another program"


def test_a_failed_rerun_leaves_no_output_that_looks_finished(root):
    Stage("select", ok_prepare, writes()).run(Params("in.star"), root, JOB)
    assert (root / JOB / "out.star").exists()

    def boom(ctx, plan):
        raise BadInputError("second run failed")

    with pytest.raises(BadInputError):
        Stage("select", ok_prepare, boom).run(Params("in.star"), root, JOB)
    job = root / JOB
    assert not (job / "out.star").exists() and not (job / "RELION_OUTPUT_NODES.star").exists()
    assert (job / FAILURE).exists() and not (job / SUCCESS).exists() and status(root) == "Failed"
    assert "second run failed" in (job / "run.err").read_text()


def test_cancel_aborts_the_job(root):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        Stage("select", ok_prepare, writes()).run(Params("in.star"), root, JOB, cancel=cancel)
    assert (root / JOB / ABORTED).exists() and status(root) == "Aborted"
    assert not (root / JOB / "out.star").exists()


def test_a_stage_that_breaks_its_contract_fails(root):
    with pytest.raises(RuntimeError, match="not declared in the stage registry"):
        Stage("select", ok_prepare, writes(label=nodes.COORDS_AUTOPICK)).run(Params("in.star"), root, JOB)
    with pytest.raises(RuntimeError, match="without skip_failed_micrographs"):
        Stage("select", ok_prepare, writes(failures={"a.mrc": "bad"})).run(Params("in.star"), root, "Select/job005/")
    assert (root / "Select/job005" / FAILURE).exists()


@dataclass(frozen=True)
class _Skip:
    skip_failed_micrographs: bool


@pytest.mark.parametrize("errors,skip,raised", [
    ({"a": MissingFileError("a missing")}, False, MissingFileError),   # one item: its own error
    ({"a": BadInputError("a bad"), "b": MissingFileError("b missing")}, False, PartialFailure),
    ({"a": BadInputError("a bad")}, True, None),                        # skipped: the job succeeds
])
def test_the_one_failure_policy(root, errors, skip, raised):
    from cryopick.stages.base import ItemOutcome, StageContext

    ctx = StageContext(None, _Skip(skip), None, _NullJob(), lambda p: None, None, False)
    outcome = ItemOutcome(done=["c"], failures={k: str(v) for k, v in errors.items()}, errors=errors, total=3)
    if raised is None:
        ctx.require_items(outcome)
    else:
        with pytest.raises(raised) as err:
            ctx.require_items(outcome)
        if raised is PartialFailure:
            assert set(err.value.failures) == {"a", "b"} and "2 of 3 micrographs failed" in str(err.value)
    everything_failed = ItemOutcome(done=[], failures={"a": "gone", "b": "gone"},
                                    errors={"a": MissingFileError("gone"), "b": MissingFileError("gone")}, total=2)
    with pytest.raises(MissingFileError, match="2 of 2"):
        ctx.require_items(everything_failed)


class _NullJob:
    def log(self, line):
        pass

    def log_error(self, line):
        pass


def test_for_each_reports_in_input_order_and_isolates_item_errors(root):
    from cryopick.stages.base import StageContext

    seen = []
    ctx = StageContext(None, None, None, _NullJob(), seen.append, None, False)

    def work(k):
        if k == 2:
            raise BadInputError("item 2 is bad")
        return k * 10

    outcome = ctx.for_each([1, 2, 3, 4], work, name=str, threads=3)
    assert outcome.done == [10, 30, 40] and outcome.failures == {"2": "item 2 is bad"}  # already named
    assert [p.item for p in seen] == ["1", "2", "3", "4"] and seen[-1].fraction == 1.0
    with pytest.raises(ZeroDivisionError):  # a bug is not an item failure
        ctx.for_each([0], lambda k: 1 / k, name=str)


def test_an_item_error_that_does_not_name_the_item_is_named():
    from cryopick.stages.base import StageContext

    ctx = StageContext(None, None, None, _NullJob(), lambda _: None, None, False)

    def constant(_):
        raise BadInputError("micrograph has zero variance (all pixels equal)")

    named = ctx.for_each(["Movies/mic_007.mrc"], constant, name=str)
    assert named.failures == {"Movies/mic_007.mrc": "Movies/mic_007.mrc: micrograph has zero variance (all pixels equal)"}
    assert isinstance(named.errors["Movies/mic_007.mrc"], BadInputError)
