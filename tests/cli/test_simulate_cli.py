"""`cryopick simulate` and `cryopick score-picks` as a user runs them, plus the realism check:
LoG picking with the right diameters on a default simulated project is neither trivial nor hopeless."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from cryopick.cli import main
from cryopick.io.coords import picks_columns, read_coordinates, write_coordinate_list, write_coordinates
from cryopick.io.jobdir import per_micrograph_output
from cryopick.io.picks import read_truth
from cryopick.metrics import score_picks


def cryopick(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cryopick", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _truth_as_picks(root, job="AutoPick/job004/", drop=0, shift=(0.0, 0.0)):
    truth = read_truth(root / "GroundTruth/particles.star")
    mics, files = [], []
    for mic, xy in truth.xy_by_mic.items():
        xy = xy[drop:] + np.asarray(shift)
        rel = per_micrograph_output(job, mic, "_autopick.star")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_coordinates(root / rel, picks_columns(xy[:, 0], xy[:, 1], np.linspace(1, 0.5, len(xy))))
        mics.append(mic)
        files.append(rel)
    write_coordinate_list(root / job / "autopick.star", mics, files)
    return truth


def test_simulate_prints_summary_and_writes_project(tmp_path, capsys):
    out = tmp_path / "proj"
    rc = main(["simulate", "--o", str(out), "--n-mics", "2", "--mic-size-px", "300", "280", "--seed", "4",
               "--particles-per-mic", "8", "--diameter-angstrom", "150", "--pixel-size-angstrom", "4.0"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Simulated 2 micrographs (300x280 px, 4 A/px)" in text and "CtfFind/job003/micrographs_ctf.star" in text
    assert (out / "MotionCorr/job002/Movies/mic_002.mrc").exists()
    truth = read_truth(out / "GroundTruth/particles.star")
    assert truth.pixel_size_angstrom == 4.0 and truth.diameter_angstrom == 150.0
    assert 0 < sum(len(v) for v in truth.xy_by_mic.values()) <= 16
    rc = main(["simulate", "--o", str(out)])
    assert rc == 2
    assert "already a RELION project" in capsys.readouterr().err


def test_score_picks_cli_text_and_json(tmp_path):
    res = cryopick("simulate", "--o", "proj", "--n-mics", "2", "--mic-size-px", "300", "280", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    root = tmp_path / "proj"
    truth = _truth_as_picks(root, drop=2, shift=(3.0, 4.0))  # 5 px off: inside the default radius (85 Å)
    n_true = sum(len(v) for v in truth.xy_by_mic.values())
    res = cryopick("score-picks", "--truth", "GroundTruth/particles.star", "--picks", "AutoPick/job004/autopick.star",
                   "--json", cwd=root)
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)
    assert s["radius_px"] == pytest.approx(85.0 / 3.54)
    assert s["precision"] == 1.0 and s["n_true"] == n_true
    assert s["recall"] == pytest.approx((n_true - 4) / n_true)
    assert set(s["per_micrograph"]) == set(truth.xy_by_mic)
    # from elsewhere, with the project root inferred from the job directory, and a tight radius
    res = cryopick("score-picks", "--truth", "proj/GroundTruth/particles.star", "--picks",
                   "proj/AutoPick/job004/autopick.star", "--radius-angstrom", "10", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1].split()
    assert last[0] == "overall" and float(last[5]) == 0.0  # F1 = 0: 5 px = 17.7 Å > 10 Å
    res = cryopick("score-picks", "--truth", "nope.star", "--picks", "proj/AutoPick/job004/autopick.star", cwd=tmp_path)
    assert res.returncode == 2 and "nope.star" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.relion
@pytest.mark.skipif(shutil.which("relion_autopick") is None, reason="relion_autopick (RELION 3.1) not installed")
def test_relion_log_on_default_small_project_is_realistic(tmp_path):
    """RELION's own LoG picker (diameters 150-180 Å for 170 Å particles, default threshold)
    must find most particles but not all, with junk and noise costing precision: F1 ~0.6-0.85."""
    res = cryopick("simulate", "--o", "proj", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    root = tmp_path / "proj"
    run = subprocess.run(
        ["relion_autopick", "--i", "CtfFind/job003/micrographs_ctf.star", "--odir", "AutoPick/job004/",
         "--pickname", "autopick", "--LoG", "--LoG_diam_min", "150", "--LoG_diam_max", "180", "--shrink", "0",
         "--lowpass", "20", "--LoG_adjust_threshold", "0"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    truth = read_truth(root / "GroundTruth/particles.star")
    picks = {m: read_coordinates(root / per_micrograph_output("AutoPick/job004/", m, "_autopick.star"))
             for m in truth.xy_by_mic}
    s = score_picks(truth.xy_by_mic, picks, 85.0 / truth.pixel_size_angstrom)
    assert 0.55 <= s.f1 <= 0.9, s
    assert s.recall >= 0.6
