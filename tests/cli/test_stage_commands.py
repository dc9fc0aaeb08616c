"""Stage commands (`cryopick select`, `cryopick autopick-log`, ...) as a microscopist runs them."""

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
    lines = sel.stdout.splitlines()
    assert lines[0] == "Subset selection: Select/job004/ (items 3, subsets 2, first subset items 2)"
    assert [ln.strip() for ln in lines[1:]] == ["Select/job004/micrographs_split1.star", "Select/job004/micrographs_split2.star"]
    pick = cryopick("autopick-log", "--i", "Select/job004/micrographs_split1.star", "--o", "AutoPick/job005/",
                    "--diam-min", "100", "--diam-max", "130", "--threads", "2", cwd=tmp_path)
    assert pick.returncode == 0, pick.stderr
    assert pick.stdout.startswith("LoG picking: AutoPick/job005/ (micrographs 2, picks ")
    assert (tmp_path / "AutoPick/job005/autopick.star").exists()


def test_bad_input_gives_one_clear_error_and_exit_code(tmp_path):
    mics = [np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)]
    star = write_project(tmp_path, mics, 3.0)
    res = cryopick("autopick-log", "--i", star, "--o", "AutoPick/job005/", "--diam-min", "200", "--diam-max", "100", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith(
        "cryopick autopick-log: error: --diam-min (Min. diameter for LoG filter) = 200 Å is larger than the maximum")
    assert "Traceback" not in res.stderr
    res = cryopick("autopick-log", "--i", "nope.star", "--o", "AutoPick/job006/", cwd=tmp_path)
    assert res.returncode == 2 and "nope.star: STAR file not found" in res.stderr


def test_job_directory_defaults_to_the_next_number_and_a_missing_input_is_named(tmp_path):
    mics = [np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)]
    star = write_project(tmp_path, mics, 3.0)
    sel = cryopick("select", "--i", star, "--split-size", "1", cwd=tmp_path)
    assert sel.returncode == 0, sel.stderr
    assert "Select/job004/micrographs_split1.star" in sel.stdout  # the project's next job number
    res = cryopick("rank", "--i", "Class2D/job003/run_it025_optimiser.star", cwd=tmp_path)
    assert res.returncode == 2 and "Class2D/job003/run_it025_optimiser.star" in res.stderr and "not found" in res.stderr
    assert not (tmp_path / "Select/job005/particles.star").exists()


def test_help_shows_gui_words_units_defaults_and_relion_options(tmp_path):
    res = cryopick("autopick-log", "--help", cwd=tmp_path)
    text = " ".join(res.stdout.split())
    assert "Min. diameter for LoG filter [Å] (default: 200); RELION --LoG_diam_min" in text
    assert "--white, --no-white" in text
