"""The committed generated code is current, and request messages mirror the stage Params."""

from __future__ import annotations

import dataclasses
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


PAIRS = [
    ("picker_pb2", "SelectSubsetsRequest", "cryopick.stages.select"),
    ("picker_pb2", "PickLoGRequest", "cryopick.stages.autopick_log"),
    ("extractor_pb2", "ExtractRequest", "cryopick.stages.extract"),
]


@pytest.mark.parametrize("module,message,stage", PAIRS, ids=[p[1] for p in PAIRS])
def test_request_fields_mirror_stage_params(module, message, stage):
    try:
        params = importlib.import_module(stage).Params
    except ModuleNotFoundError:
        pytest.skip(f"{stage} does not exist yet")
    msg = getattr(importlib.import_module(f"cryopick.services.gen.{module}"), message)
    request_fields = {f.name for f in msg.DESCRIPTOR.fields} - {"target"}
    params_fields = {f.name for f in dataclasses.fields(params)}
    assert request_fields == params_fields, (
        f"only in {message}: {sorted(request_fields - params_fields)}; only in Params: {sorted(params_fields - request_fields)}"
    )
    # required Params fields (no default) are plain proto fields; the rest are optional (unset = Params default)
    for f in dataclasses.fields(params):
        fd = msg.DESCRIPTOR.fields_by_name[f.name]
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if fd.type != fd.TYPE_STRING and not fd.is_repeated:
            assert fd.has_presence, f"{message}.{f.name} should be `optional` so unset means the Params default"
        if not has_default:
            assert fd.type == fd.TYPE_STRING, f"{message}.{f.name}: required Params field"
