"""Fixtures shared by the stage tests."""

import pytest

from cryopick.stages import autopick_log, class2d, extract
from cryopick.synthetic.project import SimParams, simulate_project


@pytest.fixture(scope="session")
def classified(tmp_path_factory):
    """A simulated project picked, extracted and classified (3 classes, 2 iterations) by cryopick: Class2D/job006/.

    Read-only: tests that write into the project copy it first.
    """
    root = simulate_project(SimParams(n_micrographs=3, seed=12, particles_per_mic=30),
                            tmp_path_factory.mktemp("rank")).project_root
    star = "CtfFind/job003/micrographs_ctf.star"
    autopick_log.run(autopick_log.Params(star, 150, 180), root, "AutoPick/job004/")
    extract.run(extract.Params(star, "AutoPick/job004/autopick.star", box_size_px=64), root, "Extract/job005/")
    class2d.run(class2d.Params("Extract/job005/particles.star", nr_classes=3, nr_iter=2, mask_diameter_angstrom=200),
                root, "Class2D/job006/")
    return root
