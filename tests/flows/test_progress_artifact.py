"""A job's progress artifact: only for jobs that run long enough to watch, and it ends at 100 %."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _run_reporter(step_name: str, after_s: float) -> list:
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from cryopick.flows import artifacts, tasks
    from cryopick.flows.client import ProgressEvent

    @task
    def job() -> None:
        reporter = tasks._ProgressReporter(step_name, "AutoPick/job005/")
        reporter.t0 -= after_s  # as if the job had been running that long already
        for k in range(1, 5):
            reporter(ProgressEvent(k / 4, f"mic_{k}.mrc", f"mic_{k}.mrc: 10 picks"))

    @flow
    def f() -> None:
        job()

    f()
    key = artifacts.artifact_key(f"{step_name}-progress")
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def test_long_job_gets_a_progress_artifact_that_ends_at_100_percent(prefect_harness):
    from cryopick.flows.tasks import PROGRESS_ARTIFACT_AFTER_S

    found = _run_reporter("Long LoG job", after_s=PROGRESS_ARTIFACT_AFTER_S + 1.0)
    assert len(found) == 1 and found[0].type == "progress"
    assert float(found[0].data) == 100.0


def test_short_job_gets_no_progress_artifact(prefect_harness):
    assert _run_reporter("Short LoG job", after_s=0.0) == []
