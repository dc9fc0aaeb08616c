"""The committed generated code is current (request messages vs. Params: tests/stages/test_registry.py)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "services" / "gen"


def _generator():
    sys.path.insert(0, str(REPO / "protos"))
    try:
        return importlib.import_module("generate")
    finally:
        sys.path.pop(0)


def test_generated_code_matches_protos(tmp_path: Path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (dev extra) is needed to regenerate")
    gen = _generator()
    written = gen.generate(tmp_path)
    committed = sorted(p.name for p in GEN.iterdir() if p.is_file() and p.suffix in (".py", ".pyi"))
    assert sorted(p.name for p in written) == committed
    version = re.compile(r"^# Protobuf Python Version: .*$", re.M)
    for path in written:
        new, old = path.read_text(), (GEN / path.name).read_text()
        if version.findall(new) != version.findall(old):
            pytest.skip(f"installed protoc differs from the one that generated {path.name}: {version.findall(old)}")
        assert new == old, f"services/gen/{path.name} is stale: run `make protos`"


def test_generated_imports_do_not_touch_cryopick_v1():
    for path in GEN.glob("*.py"):
        assert "from cryopick.v1" not in path.read_text(), path.name
