"""Every bad input of the corpus through every stage that reads it, via the CLI: one clear error naming the
file and the problem, no output that looks finished, inputs byte-identical, the job Failed in the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryopick.cli import main
from cryopick.io.pipeline import read_pipeline

from .corpus import CASES, OUTPUTS, digests, next_job

RUNS = [(case, stage) for case in CASES for stage in case.stages]


def _args(stage: str, star: str, coords: str, job: str) -> list[str]:
    extra = {"select": ["--split-size", "1"], "select-new": [], "autopick-log": ["--diam-min", "150", "--diam-max", "180"],
             "extract": ["--coords", coords, "--box", "64"], "topaz-pick": ["--diameter", "180"],
             "topaz-train": ["--coords", coords, "--diameter", "180", "--per-mic", "20", "--epochs", "1",
                             "--epoch-size", "1", "--minibatch-size", "8"]}[stage]
    return [stage, "--i", star, "--o", job, "--quiet", *extra]


@pytest.mark.parametrize("case, stage", RUNS, ids=[f"{c.name}-{s}" for c, s in RUNS])
def test_bad_input_through_the_cli(project, made, case, stage, capsys):
    star, coords, damaged = made(case)
    job_type, output = OUTPUTS[stage]
    job = next_job(job_type)
    before = digests(project)
    rc = main(_args(stage, star, coords, job) + ["--project-root", str(project)])
    err = capsys.readouterr().err.strip()
    assert rc != 0, f"{case.name} through {stage} succeeded"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cryopick {stage}: error: "), err
    assert Path(damaged).name in err and all(f in err for f in case.fragments), err
    assert not (project / job / output).exists()
    assert digests(project) == before
    assert (job, "Failed") in {(p[0], p[3]) for p in read_pipeline(project).processes}
