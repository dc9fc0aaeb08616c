"""`cryopick select` and `cryopick autopick-log` as a microscopist runs them."""

import subprocess
import sys

import numpy as np

from micrograph_factory import blob_micrograph, separated_centres, write_project


def cryopick(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cryopick", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_select_then_pick_from_the_project_directory(tmp_path):
    shape = (300, 320)
    mics = [blob_micrograph(shape, separated_centres(shape, 12, 60, 30, k), 12, -1.0, 1.0, k) for k in range(3)]
    star = write_project(tmp_path, mics, 3.0)
    sel = cryopick("select", "--i", star, "--o", "Select/job004/", "--split-size", "2", cwd=tmp_path)
    assert sel.returncode == 0, sel.stderr
    assert sel.stdout.split() == ["Select/job004/micrographs_split1.star", "Select/job004/micrographs_split2.star"]
    pick = cryopick("autopick-log", "--i", "Select/job004/micrographs_split1.star", "--o", "AutoPick/job005/",
                    "--diam-min", "100", "--diam-max", "130", "--threads", "2", cwd=tmp_path)
    assert pick.returncode == 0, pick.stderr
    assert "on 2 micrographs" in pick.stdout
    assert (tmp_path / "AutoPick/job005/autopick.star").exists()


def test_bad_input_gives_one_clear_error_and_exit_code(tmp_path):
    mics = [np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)]
    star = write_project(tmp_path, mics, 3.0)
    res = cryopick("autopick-log", "--i", star, "--o", "AutoPick/job005/", "--diam-min", "200", "--diam-max", "100", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("cryopick autopick-log: error: LoG picking: minimum diameter 200")
    assert "Traceback" not in res.stderr
    res = cryopick("autopick-log", "--i", "nope.star", "--o", "AutoPick/job006/", cwd=tmp_path)
    assert res.returncode == 2 and "nope.star: STAR file not found" in res.stderr
