"""Every bad input of the corpus through every stage that reads it, via the CLI: one clear error naming the
file and the problem, no output that looks finished, inputs byte-identical, the job Failed in the pipeline."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from cryopick.cli import main
from cryopick.io.pipeline import read_pipeline
from cryopick.stages import autopick_log
from cryopick.synthetic.project import SimParams, simulate_project

from .corpus import CASES, STAR

#: stage -> (job type, the output a finished job would have)
OUTPUTS = {"select": ("Select", "micrographs_split1.star"), "autopick-log": ("AutoPick", "autopick.star"),
           "extract": ("Extract", "particles.star"), "topaz-pick": ("AutoPick", "autopick.star")}
RUNS = [(case, stage) for case in CASES for stage in case.stages]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = simulate_project(SimParams(n_micrographs=2, seed=9, particles_per_mic=10, carbon_fraction=0.0),
                            tmp_path_factory.mktemp("badinput")).project_root
    autopick_log.run(autopick_log.Params(STAR, 150, 180), root, "AutoPick/job004/")
    return root


_jobs = itertools.count(100)


@pytest.fixture(scope="module")
def made(project):
    """case name -> (micrographs STAR, coordinate list, damaged file), each case made once."""
    cache: dict[str, tuple[str, str, str]] = {}

    def get(case):
        if case.name not in cache:
            cache[case.name] = case.make(project)
        return cache[case.name]
    return get


def _args(stage: str, star: str, coords: str, job: str) -> list[str]:
    extra = {"select": ["--split-size", "1"], "autopick-log": ["--diam-min", "150", "--diam-max", "180"],
             "extract": ["--coords", coords, "--box", "64"], "topaz-pick": ["--diameter", "180"]}[stage]
    return [stage, "--i", star, "--o", job, "--quiet", *extra]


def _digests(root: Path) -> dict[str, str]:
    """Every file outside the job directories the corpus runs write (the inputs), by content."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not p.is_symlink() and rel != "default_pipeline.star" \
                and not any(rel.startswith(f"{t}/job1") for t in ("Select", "AutoPick", "Extract")):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("case, stage", RUNS, ids=[f"{c.name}-{s}" for c, s in RUNS])
def test_bad_input_through_the_cli(project, made, case, stage, capsys):
    star, coords, damaged = made(case)
    job_type, output = OUTPUTS[stage]
    job = f"{job_type}/job{next(_jobs):03d}/"
    before = _digests(project)
    rc = main(_args(stage, star, coords, job) + ["--project-root", str(project)])
    err = capsys.readouterr().err.strip()
    assert rc != 0, f"{case.name} through {stage} succeeded"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cryopick {stage}: error: "), err
    assert Path(damaged).name in err and all(f in err for f in case.fragments), err
    assert not (project / job / output).exists()
    assert _digests(project) == before
    assert (job, "Failed") in {(p[0], p[3]) for p in read_pipeline(project).processes}
