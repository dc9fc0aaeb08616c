"""Subset selection, as relion_star_handler --split."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.optics import read_optics_star
from cryopick.stages import select
from cryopick.stages.select import split_indices
from micrograph_factory import write_project


def test_split_arithmetic():
    assert [len(s) for s in split_indices(24, 10, -1)] == [10, 10, 4]
    assert [len(s) for s in split_indices(24, -1, 5)] == [5, 5, 5, 5, 4]
    assert [len(s) for s in split_indices(24, 10, 2)] == [10, 10]
    assert [len(s) for s in split_indices(7, 10, 3)] == [7]
    with pytest.raises(BadInputError):
        split_indices(0, 10, -1)


def test_first_split_holds_first_ten_with_optics(tmp_path):
    star = write_project(tmp_path, [np.zeros((8, 8), np.float32)] * 24, 1.77)
    res = select.run(select.Params(star, split_size=10), tmp_path, "Select/job004/")
    assert [p for p, _ in res.output_nodes] == [f"Select/job004/micrographs_split{k}.star" for k in (1, 2, 3)]
    first = read_optics_star(tmp_path / "Select/job004/micrographs_split1.star")
    original = read_optics_star(tmp_path / star)
    assert first.data["rlnMicrographName"].tolist() == original.data["rlnMicrographName"].tolist()[:10]
    assert first.optics.equals(original.optics)
    assert (tmp_path / "Select/job004/RELION_OUTPUT_NODES.star").exists()


def test_random_order_is_seeded(tmp_path):
    star = write_project(tmp_path, [np.zeros((8, 8), np.float32)] * 12, 1.77)
    names = []
    for job, seed in (("Select/job004/", 3), ("Select/job005/", 3), ("Select/job006/", 4)):
        select.run(select.Params(star, split_size=12, random_order=True, seed=seed), tmp_path, job)
        names.append(read_optics_star(tmp_path / job / "micrographs_split1.star").data["rlnMicrographName"].tolist())
    assert names[0] == names[1] != names[2]
    assert sorted(names[0]) == sorted(names[2])


def test_bad_parameters(tmp_path):
    star = write_project(tmp_path, [np.zeros((8, 8), np.float32)] * 2, 1.77)
    with pytest.raises(BadInputError):
        select.run(select.Params(star, split_size=0), tmp_path, "Select/job004/")
