"""RELION's train/test split of Topaz training micrographs."""

import shutil
import subprocess

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.picking.topaz_split import relion_shuffle, split_micrographs

CPP = r"""
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>
int main(int argc, char** argv) {
  int n = atoi(argv[1]); srand(atoi(argv[2]));
  std::vector<int> v(n); for (int i = 0; i < n; i++) v[i] = i;
  std::random_shuffle(v.begin(), v.end());
  for (int x : v) printf("%d ", x);
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the libstdc++ reference")
def test_shuffle_is_libstdcxx_random_shuffle_after_srand(tmp_path):
    (tmp_path / "shuffle.cpp").write_text(CPP)
    subprocess.run(["g++", "-w", "-o", str(tmp_path / "shuffle"), str(tmp_path / "shuffle.cpp")], check=True)
    for n, seed in [(1, 1), (2, 1), (10, 1), (17, 3), (100, 12345)]:
        out = subprocess.run([str(tmp_path / "shuffle"), str(n), str(seed)], capture_output=True, text=True, check=True)
        assert relion_shuffle(n, seed).tolist() == [int(v) for v in out.stdout.split()]


def test_odd_positions_are_held_out_until_the_ratio_is_passed():
    counts = np.array([30, 10, 25, 40, 5, 30, 20, 35, 15, 50])
    split = split_micrographs(counts, 0.2, seed=1)
    order = relion_shuffle(len(counts), 1).tolist()
    assert sorted(split.train + split.test) == list(range(10)) and not set(split.train) & set(split.test)
    positions = [order.index(i) for i in split.test]
    assert all(p % 2 == 1 for p in positions)
    held = counts[list(split.test)].sum()
    assert held > 0.2 * counts.sum()
    assert held - counts[split.test[-1]] <= 0.2 * counts.sum()  # the last one pushed it over the ratio


def test_a_split_that_cannot_hold_out_anything_is_an_error():
    with pytest.raises(BadInputError, match="test set"):
        split_micrographs([100], 0.2, seed=1)
    assert len(split_micrographs([10, 10, 10], 0.0, seed=1).test) == 1  # as RELION: until the ratio is *exceeded*
