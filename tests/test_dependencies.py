"""The declared dependencies are exactly what the code imports (and the tests, plus the dev extra)."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCAL = {"cryopick", "micrograph_factory", "service_testkit", "file_crosscheck", "bench_startup", "generate", "badinput", "certs", "project_tree"}


def _name(requirement: str) -> str:
    for sep in "<>=!~[; ":
        requirement = requirement.split(sep)[0]
    return requirement.lower().replace("_", "-")


def third_party_imports(*roots: str) -> set[str]:
    found = set()
    for root in roots:
        for path in (REPO / root).rglob("*.py"):
            if "/gen/" in str(path):  # generated protobuf code: covered by protobuf/grpcio
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in LOCAL}


def distributions(modules: set[str]) -> set[str]:
    owners = importlib.metadata.packages_distributions()
    missing = sorted(m for m in modules if m not in owners)
    assert not missing, f"imported but not installed: {missing}"
    return {_name(owners[m][0]) for m in modules}


def test_dependencies_match_the_imports_of_the_code():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    used = distributions(third_party_imports("src/cryopick", "flows", "services"))
    assert used - declared == set(), f"imported but not declared: {sorted(used - declared)}"
    assert declared - used == set(), f"declared but never imported: {sorted(declared - used)}"


def test_tests_use_only_declared_and_dev_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    allowed = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    used = distributions(third_party_imports("tests"))
    assert used - allowed == set(), f"tests import undeclared packages: {sorted(used - allowed)}"
