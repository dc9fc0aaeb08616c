"""Subset selection parity with RELION 3.1's relion_star_handler --split."""

import shutil
import subprocess

import numpy as np
import pytest

from cryopick.io.optics import read_optics_star
from cryopick.stages import select
from micrograph_factory import write_project

pytestmark = [
    pytest.mark.relion,
    pytest.mark.skipif(shutil.which("relion_star_handler") is None, reason="relion_star_handler (RELION 3.1) not installed"),
]


@pytest.mark.parametrize("size, number", [(10, -1), (-1, 4), (10, 2)])
def test_split_equals_relion(tmp_path, size, number):
    star = write_project(tmp_path, [np.zeros((8, 8), np.float32)] * 24, 1.77)
    (tmp_path / "Select/job010").mkdir(parents=True)
    subprocess.run(
        ["relion_star_handler", "--i", star, "--o", "Select/job010/micrographs.star", "--split",
         "--size_split", str(size), "--nr_split", str(number)],
        cwd=tmp_path, check=True, capture_output=True, timeout=60,
    )
    res = select.run(select.Params(star, split_size=size, nr_split=number), tmp_path, "Select/job011/")
    relion = sorted((tmp_path / "Select/job010").glob("micrographs_split*.star"))
    assert len(relion) == len(res.output_nodes) > 0
    for k, (path, _) in enumerate(res.output_nodes, start=1):
        ours = read_optics_star(tmp_path / path)
        theirs = read_optics_star(tmp_path / f"Select/job010/micrographs_split{k}.star")
        assert ours.data["rlnMicrographName"].tolist() == theirs.data["rlnMicrographName"].tolist()
        assert ours.optics["rlnMicrographPixelSize"].tolist() == theirs.optics["rlnMicrographPixelSize"].tolist()
