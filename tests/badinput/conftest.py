"""The corpus's project (simulated, LoG-picked, extracted, classified) and its damaged inputs, made once; prints
how many bad-input cases were handled, of how many run (issue 11 asks for the count)."""

import pytest

from cryopick.stages import autopick_log, class2d, extract
from cryopick.synthetic.project import SimParams, simulate_project

from .corpus import OPTIMISER, PARTICLES, PICKS, STAR


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = simulate_project(SimParams(n_micrographs=2, seed=9, particles_per_mic=10, carbon_fraction=0.0),
                            tmp_path_factory.mktemp("badinput")).project_root
    autopick_log.run(autopick_log.Params(STAR, 150, 180), root, "AutoPick/job004/")
    extract.run(extract.Params(STAR, PICKS, box_size_px=64), root, "Extract/job005/")
    class2d.run(class2d.Params(PARTICLES, nr_classes=2, nr_iter=1, mask_diameter_angstrom=200), root, "Class2D/job006/")
    assert (root / OPTIMISER).is_file()
    return root


@pytest.fixture(scope="module")
def made(project):
    """case name -> (micrographs STAR, coordinate list, damaged file), each case made once."""
    cache: dict[str, tuple[str, str, str]] = {}

    def get(case):
        if case.name not in cache:
            cache[case.name] = case.make(project)
        return cache[case.name]
    return get


def pytest_terminal_summary(terminalreporter):
    for way, module in (("the CLI", "badinput/test_cli_corpus.py"), ("gRPC", "badinput/test_grpc_corpus.py"),
                        ("the flow", "flows/test_badinput_flow.py")):
        runs = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
                if getattr(r, "when", "") == "call" and f"tests/{module}" in r.nodeid]
        if runs:
            handled = sum(r.passed for r in runs)
            terminalreporter.write_line(f"bad-input corpus through {way}: {handled} handled / {len(runs)} cases")
