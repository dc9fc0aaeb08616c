"""Flow tests: one Prefect test harness and one set of real services for the whole session.

PREFECT_HOME must point at a scratch directory before prefect is first imported, so it is
set here, at conftest import time (before the test modules import cryopick.flows).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="cryopick-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
for _role in ("picker", "extractor", "classifier", "ranker", "topaz"):
    os.environ.pop(f"CRYOPICK_{_role.upper()}_ADDRESS", None)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def services_root(tmp_path_factory) -> Path:
    """The services' --project-root; each test project is a sub-directory (JobTarget.project)."""
    return tmp_path_factory.mktemp("facility")


@pytest.fixture(scope="session")
def services(services_root, prefect_harness):
    """The five services as real subprocesses on 127.0.0.1, port 0, supervised."""
    from cryopick.flows.launch import LocalServices

    with LocalServices(services_root) as svc:
        yield svc


@pytest.fixture(scope="session")
def make_project():
    """``make_project(root, name, n_mics, seed)``: a small simulated project (micrographs 512 x 496 px)."""
    from cryopick.sim.params import SimParams
    from cryopick.synthetic.project import simulate_project

    def make(root: Path, name: str, n_mics: int = 3, seed: int = 1) -> Path:
        simulate_project(SimParams(n_micrographs=n_mics, seed=seed), root / name)
        return root / name

    return make


@pytest.fixture(scope="session")
def quick_class2d():
    """A short Class2D for flow tests (the tutorial's 50 classes x 25 iterations is for benchmarks)."""
    from cryopick.flows.params import Class2dParams

    return Class2dParams(nr_classes=2, nr_iter=1, threads=2)


@pytest.fixture(scope="session")
def quick_chain(quick_class2d):
    """Flow parameters for a short whole chapter: the short Class2D, at least one class passed on
    (two classes after one iteration may all score low), one short Topaz epoch."""
    from cryopick.flows.params import AutoSelectParams, TopazTrainingParams

    return {"class2d": quick_class2d, "auto_select": AutoSelectParams(select_min_nr_classes=1),
            "topaz_training": TopazTrainingParams(nr_epochs=1, epoch_size=4, minibatch_size=32,
                                                  nr_particles_per_micrograph=30)}
