"""Every bad input of the corpus through every stage that reads it, via the CLI: one clear error naming the
file and the problem, no output that looks finished, inputs byte-identical, the job Failed in the pipeline
(or, for an output job directory outside the project, refused before anything is written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryopick.cli import main
from cryopick.io.pipeline import read_pipeline
from cryopick.stages.fields import cli_words, field_named
from cryopick.stages.registry import stage

from .corpus import CASES, OUTPUTS, digests, next_job, run_fields

RUNS = [(case, name) for case in CASES for name in case.stages]


def _args(name: str, fields: dict, job: str) -> list[str]:
    """``cryopick <name> ...`` setting ``fields``, each by its command-line flag."""
    cls = stage(name).params_class
    words = [w for field, value in fields.items() for w in cli_words(field_named(cls, field), value)]
    return [name, *words, "--o", job, "--quiet"]


@pytest.mark.parametrize("case, name", RUNS, ids=[f"{c.name}-{s}" for c, s in RUNS])
def test_bad_input_through_the_cli(project, made, case, name, capsys):
    inputs = made(case)
    job_type, output = OUTPUTS[name]
    job = case.job_dir(project, job_type) if case.job_dir else next_job(job_type)
    before, pipeline = digests(project), (project / "default_pipeline.star").read_bytes()
    rc = main(_args(name, run_fields(case, name, inputs), job) + ["--project-root", str(project)])
    err = capsys.readouterr().err.strip()
    assert rc != 0, f"{case.name} through {name} succeeded"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cryopick {name}: error: "), err
    assert Path(inputs[2]).name in err and all(f in err for f in case.fragments_for(name)), err
    assert not (project / job / output).exists()
    assert digests(project) == before
    if case.job_dir:
        assert not (project / job).exists() and (project / "default_pipeline.star").read_bytes() == pipeline
    else:
        assert (job, "Failed") in {(p[0], p[3]) for p in read_pipeline(project).processes}
