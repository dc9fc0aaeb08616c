"""Scoring a picking job's files against a ground-truth STAR (cryopick score-picks)."""

import numpy as np
import pandas as pd
import pytest

from cryopick.io.coords import picks_columns, write_coordinate_list, write_coordinates
from cryopick.io.picks import read_truth
from cryopick.io.star import list_table, write_star
from cryopick.scoring import score_pick_files

GRID = np.array([[100.0 + 80 * i, 100.0 + 80 * j] for i in range(4) for j in range(3)])  # 12 particles


def _write_truth(path, xy_by_mic, pixel=2.0, diameter=None):
    rows = [(m, x, y) for m, xy in xy_by_mic.items() for x, y in xy]
    tables = {
        "optics": pd.DataFrame(
            {"rlnOpticsGroupName": ["opticsGroup1"], "rlnOpticsGroup": [1], "rlnVoltage": [300.0],
             "rlnSphericalAberration": [2.7], "rlnAmplitudeContrast": [0.1], "rlnMicrographPixelSize": [pixel]}
        ),
        "particles": pd.DataFrame(
            {"rlnMicrographName": [r[0] for r in rows], "rlnCoordinateX": [r[1] for r in rows],
             "rlnCoordinateY": [r[2] for r in rows], "rlnOpticsGroup": np.ones(len(rows), dtype=np.int64)}
        ),
    }
    if diameter is not None:
        tables["simulation"] = list_table({"cryopickParticleDiameterAngstrom": diameter})
    write_star(path, tables)


def _write_picks(root, job, picks_by_mic):
    coord_files = []
    for mic, xy in picks_by_mic.items():
        rel = f"{job}Movies/{mic.split('/')[-1].replace('.mrc', '_autopick.star')}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_coordinates(root / rel, picks_columns(xy[:, 0], xy[:, 1], np.ones(len(xy))))
        coord_files.append(rel)
    write_coordinate_list(root / job / "autopick.star", list(picks_by_mic), coord_files)
    return root / job / "autopick.star"


def test_score_files_radius_from_diameter_and_root_inference(tmp_path):
    mics = {"MotionCorr/job002/Movies/m1.mrc": GRID, "MotionCorr/job002/Movies/m2.mrc": GRID[:4]}
    _write_truth(tmp_path / "truth.star", mics, pixel=2.0, diameter=40.0)  # radius 20 Å = 10 px
    shifted = {m: xy + [0.0, 9.0] for m, xy in mics.items()}
    picks_star = _write_picks(tmp_path, "AutoPick/job004/", shifted)
    s = score_pick_files(tmp_path / "truth.star", picks_star)  # project root inferred from AutoPick/job004/
    assert s.radius_px == pytest.approx(10.0) and s.f1 == 1.0
    tight = score_pick_files(tmp_path / "truth.star", picks_star, radius_angstrom=16.0)  # 8 px < 9 px shift
    assert tight.f1 == 0.0
    truth = read_truth(tmp_path / "truth.star")
    assert truth.diameter_angstrom == 40.0 and truth.pixel_size_angstrom == 2.0


def test_score_files_default_radius_and_only_picked_micrographs(tmp_path):
    mics = {"M/job002/a.mrc": GRID, "M/job002/b.mrc": GRID}
    _write_truth(tmp_path / "truth.star", mics, pixel=5.0)  # no diameter: 50 Å = 10 px
    picks_star = _write_picks(tmp_path, "AutoPick/job007/", {"M/job002/a.mrc": GRID + [0.0, 9.5]})
    s = score_pick_files(tmp_path / "truth.star", picks_star, project_root=tmp_path)
    assert s.radius_px == pytest.approx(10.0)
    assert s.n_true == 12 and s.f1 == 1.0
    everything = score_pick_files(tmp_path / "truth.star", picks_star, project_root=tmp_path,
                                  only_picked_micrographs=False)
    assert everything.n_true == 24 and everything.recall == pytest.approx(0.5)
