"""Cache keys follow file CONTENT, parameters and code; stale cache records are dropped."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cryopick.flows.caching import (
    RESULTS_DIR,
    code_version,
    drop_stale_record,
    file_fingerprint,
    job_cache_key,
)
from cryopick.io.mrc import write_mrc

STAR_A = """
data_micrographs
loop_
_rlnMicrographName #1
_rlnCtfMaxResolution #2
Movies/a.mrc 4.0
"""


def _key(root: Path, params=None) -> str:
    return job_cache_key("LoG picking", "cryopick.stages.select", root, ["mics.star"], params or {"threshold_stddev": 0.0})


def test_key_changes_with_star_content_at_the_same_path(tmp_path):
    (tmp_path / "Movies").mkdir()
    write_mrc(tmp_path / "Movies/a.mrc", np.zeros((8, 8), np.float32), 1.0)
    star = tmp_path / "mics.star"
    star.write_text(STAR_A)
    k1 = _key(tmp_path)
    assert _key(tmp_path) == k1  # deterministic
    star.write_text(STAR_A.replace("4.0", "5.0"))
    k2 = _key(tmp_path)
    assert k2 != k1
    star.write_text(STAR_A)  # same bytes again -> same key as the first time
    assert _key(tmp_path) == k1


def test_key_changes_when_a_referenced_micrograph_changes(tmp_path):
    (tmp_path / "Movies").mkdir()
    mrc = tmp_path / "Movies/a.mrc"
    write_mrc(mrc, np.zeros((8, 8), np.float32), 1.0)
    (tmp_path / "mics.star").write_text(STAR_A)
    k1 = _key(tmp_path)
    st = mrc.stat()
    os.utime(mrc, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert _key(tmp_path) != k1


def test_files_outside_the_project_are_keyed_by_name_not_read(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    outside = tmp_path / "outside.star"
    outside.write_text(STAR_A)
    assert file_fingerprint(root, "../outside.star") == ["../outside.star", "outside the project"]
    assert file_fingerprint(root, str(outside)) == [str(outside), "outside the project"]
    (root / "mics.star").write_text(STAR_A.replace("Movies/a.mrc", "../elsewhere.mrc"))
    assert file_fingerprint(root, "mics.star")[2] == [["../elsewhere.mrc", "outside the project"]]


def test_key_changes_with_parameters_not_with_path_spelling_of_unrelated_args(tmp_path):
    (tmp_path / "mics.star").write_text(STAR_A)
    assert _key(tmp_path, {"threshold_stddev": 0.0}) != _key(tmp_path, {"threshold_stddev": 0.5})


def test_code_version_follows_imported_cryopick_modules():
    # the select stage imports cryopick.io.star, so its version differs from a module-less name
    assert code_version("cryopick.stages.select") != code_version("cryopick.stages.no_such_stage")
    assert len(code_version("cryopick.stages.select")) == 64


def test_stale_record_is_dropped_when_job_outputs_are_gone(tmp_path):
    from prefect.results import ResultRecord, ResultRecordMetadata
    from prefect.serializers import JSONSerializer

    job = tmp_path / "AutoPick/job005"
    job.mkdir(parents=True)
    (job / "autopick.star").write_text("x")
    (job / "RELION_JOB_EXIT_SUCCESS").touch()
    result = {"job_dir": "AutoPick/job005/", "output_nodes": [["AutoPick/job005/autopick.star", "MicrographsCoords.star.relion.autopick"]]}
    record = ResultRecord(result=result, metadata=ResultRecordMetadata(serializer=JSONSerializer(), storage_key="k"))
    path = tmp_path / RESULTS_DIR / "k"
    path.parent.mkdir(parents=True)
    path.write_bytes(record.serialize())
    assert not drop_stale_record(tmp_path, "k") and path.exists()
    (job / "autopick.star").unlink()
    assert drop_stale_record(tmp_path, "k") and not path.exists()


def test_retry_condition_retries_only_transient_errors():
    from prefect.states import Failed

    from cryopick.flows.client import ServiceCallError, StepNotAvailable
    from cryopick.flows.tasks import retry_if_transient

    def decide(exc):
        return retry_if_transient(None, None, Failed(data=exc))

    assert decide(ServiceCallError("LoG picking", "picker", "UNAVAILABLE", "Socket closed"))
    assert decide(ServiceCallError("LoG picking", "picker", "DEADLINE_EXCEEDED", "deadline"))
    assert decide(ServiceCallError("LoG picking", "picker", "STREAM_ENDED", "no result"))
    for code in ("INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "INTERNAL"):
        assert not decide(ServiceCallError("LoG picking", "picker", code, "bad"))
    assert not decide(StepNotAvailable("Class2D", "classifier", "not implemented yet"))
    assert not decide(ValueError("anything else"))


def test_job_dir_is_reused_for_the_same_key_and_reallocated_when_deleted(tmp_path):
    from cryopick.flows.jobs import job_dir_for, release_job_dir
    from cryopick.io.pipeline import read_pipeline

    first, reused = job_dir_for(tmp_path, "AutoPick", "k1")
    assert (first, reused) == ("AutoPick/job001/", False)
    assert job_dir_for(tmp_path, "AutoPick", "k1") == (first, True)
    other, _ = job_dir_for(tmp_path, "Extract", "k2")
    assert other == "Extract/job002/"
    (tmp_path / first).rmdir()
    again, reused = job_dir_for(tmp_path, "AutoPick", "k1")
    assert (again, reused) == ("AutoPick/job003/", False)
    # an untouched job dir is given back and its number re-used
    assert release_job_dir(tmp_path, again, "k1")
    assert read_pipeline(tmp_path).job_counter == 3
    assert not (tmp_path / again).exists()


def test_module_files_match_the_import_system_and_are_found_without_importing():
    import importlib.util
    import subprocess
    import sys

    from cryopick.code_version import _module_file

    for name in ("cryopick", "cryopick.stages", "cryopick.stages.extract", "cryopick.io.star", "cryopick.flows.tasks"):
        assert _module_file(name) == importlib.util.find_spec(name).origin, name
    assert _module_file("cryopick.io.star.read_star") is None  # an imported name, not a module
    assert _module_file("cryopick.stages.no_such_stage") is None
    assert _module_file("numpy") is None  # not ours
    probe = ("import sys; from cryopick.flows.caching import code_version; code_version('cryopick.stages.extract'); "
             "print(sorted(m for m in ('cryopick.stages.extract', 'cryopick.extraction') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
