"""cryopick projects read back in a RELION 4/5-compatible tool: CCP-EM's pipeliner loads the
project's pipeline and every job's job.star (the pipeliner runs in its own venv, made by
``make test``; set CRYOPICK_PIPELINER_PYTHON to use another)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cryopick.io.pipeline import read_pipeline
from cryopick.stages import autopick_log, class2d, extract, rank_classes, select, topaz_pick, topaz_train
from cryopick.synthetic.project import SimParams, simulate_project

REPO = Path(__file__).resolve().parents[2]
PIPELINER = Path(os.environ.get("CRYOPICK_PIPELINER_PYTHON", REPO / ".make/pipeliner-venv/bin/python"))

READER = r"""
import glob, json, os, sys, warnings
warnings.simplefilter("ignore")
os.chdir(sys.argv[1])
from pipeliner.job_factory import read_job
from pipeliner.project_graph import ProjectGraph
graph = ProjectGraph(pipeline_dir=".", read_only=True)
out = {"processes": [[p.name, p.type, p.status] for p in graph.process_list],
       "nodes": sorted(n.name for n in graph.node_list), "jobs": {}}
for star in sorted(glob.glob("*/job*/job.star")):
    try:
        job = read_job(star)
        out["jobs"][star] = job.PROCESS_NAME
    except Exception as exc:
        out["jobs"][star] = "ERROR " + type(exc).__name__ + ": " + str(exc)
print("JSON" + json.dumps(out))
"""


@pytest.mark.skipif(not PIPELINER.exists(), reason=f"CCP-EM pipeliner venv not found at {PIPELINER} (make test makes it)")
def test_pipeliner_reads_the_pipeline_and_every_job(tmp_path):
    root = simulate_project(SimParams(n_micrographs=3, seed=4, particles_per_mic=25), tmp_path / "p").project_root
    star = "CtfFind/job003/micrographs_ctf.star"
    select.run(select.Params(star, split_size=2), root, "Select/job004/")
    autopick_log.run(autopick_log.Params("Select/job004/micrographs_split1.star", 150, 180), root, "AutoPick/job005/")
    extract.run(extract.Params("Select/job004/micrographs_split1.star", "AutoPick/job005/autopick.star", box_size_px=64),
                root, "Extract/job006/")
    class2d.run(class2d.Params("Extract/job006/particles.star", nr_classes=2, nr_iter=1), root, "Class2D/job007/")
    rank_classes.run(rank_classes.Params("Class2D/job007/run_it001_optimiser.star", select_min_nr_classes=1), root,
                     "Select/job010/")
    topaz_train.run(topaz_train.Params(star, 170.0, coords_star="AutoPick/job005/autopick.star",
                                       nr_particles_per_micrograph=40, nr_epochs=1, epoch_size=2, minibatch_size=32,
                                       test_ratio=0.3), root, "AutoPick/job008/")
    topaz_pick.run(topaz_pick.Params(star, 170.0, model_path="AutoPick/job008/model_epoch1.sav"), root, "AutoPick/job009/")
    extract.run(extract.Params(star, "AutoPick/job009/autopick.star", box_size_px=64, min_fom=-3.0), root,
                "Extract/job011/")

    proc = subprocess.run([str(PIPELINER), "-c", READER, str(root)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.split("JSON", 1)[1])
    ours = read_pipeline(root)
    assert sorted((p[0], p[2], p[3]) for p in ours.processes) == sorted(tuple(p) for p in seen["processes"])
    assert {n for n, _ in ours.nodes} <= set(seen["nodes"])
    jobs = seen["jobs"]
    assert len(jobs) == 11 and not [j for j, v in jobs.items() if v.startswith("ERROR")], jobs
    assert jobs["AutoPick/job008/job.star"] == "relion.autopick.topaz.train"
    assert jobs["AutoPick/job009/job.star"] == "relion.autopick.topaz.pick"
    assert jobs["Class2D/job007/job.star"].startswith("relion.class2d")
    assert jobs["Select/job010/job.star"] == "relion.select.class2dauto"
