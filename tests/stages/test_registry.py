"""The stage registry cross-check: for every stage, the request message, ``Params``, command line,
flow form and service agree in names, types and defaults.

Walks :data:`cryopick.stages.registry.STAGES`; a new stage is checked by adding its registry line.
"""

from __future__ import annotations

import argparse
import importlib
import re
import typing
from pathlib import Path

import pytest

from cryopick.stages.fields import INPUT, MISSING, fields_of
from cryopick.stages.registry import ROLES, SERVICE_NAMES, STAGES, StageSpec

REPO = Path(__file__).resolve().parents[2]
PROTOS = REPO / "protos" / "cryopick" / "v1"
RELION_JOB_TYPES = {"Import", "MotionCorr", "CtfFind", "ManualPick", "AutoPick", "Extract", "Select", "Class2D", "External"}
ids = [s.name for s in STAGES]


def proto_comments(role: str) -> dict[str, dict[str, str]]:
    """message -> field -> the comment lines written above it in ``<role>.proto``."""
    out: dict[str, dict[str, str]] = {}
    message, comment = None, []
    for line in (PROTOS / f"{role}.proto").read_text().splitlines():
        s = line.strip()
        m = re.match(r"message (\w+) \{", s)
        if m:
            message, comment = m.group(1), []
            out[message] = {}
        elif s.startswith("//"):
            comment.append(s[2:].strip())
        elif message and (f := re.match(r"(?:optional |repeated )?[\w.]+ (\w+) = \d+;", s)):
            out[message][f.group(1)] = " ".join(comment)
            comment = []
        elif s == "}":
            message = None
        else:
            comment = []
    return out


def stated_default(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def message_of(spec: StageSpec):
    return getattr(importlib.import_module(f"cryopick.services.gen.{spec.role}_pb2"), spec.request)


@pytest.mark.parametrize("spec", STAGES, ids=ids)
def test_registry_line_is_consistent(spec):
    assert spec.role in ROLES and spec.job_type in RELION_JOB_TYPES
    assert spec.process_label.startswith("relion.") and spec.outputs
    assert spec.module_name == f"cryopick.stages.{spec.module_name.rsplit('.', 1)[1]}"
    fields_of(spec.params_class)  # every field declared with its metadata
    service = importlib.import_module(f"cryopick.services.gen.{spec.role}_pb2").DESCRIPTOR.services_by_name[
        SERVICE_NAMES[spec.role].rsplit(".", 1)[1]]
    method = service.methods_by_name[spec.rpc]
    assert method.input_type.name == spec.request and method.server_streaming


@pytest.mark.parametrize("spec", STAGES, ids=ids)
def test_request_message_mirrors_params(spec):
    """Same names, matching types, presence for every scalar, and the proto states the Params default."""
    fields = {f.name: f for f in fields_of(spec.params_class)}
    msg = message_of(spec)
    proto = {fd.name: fd for fd in msg.DESCRIPTOR.fields if fd.name != "target"}
    assert set(proto) == set(fields), (
        f"only in {spec.request}: {sorted(set(proto) - set(fields))}; only in Params: {sorted(set(fields) - set(proto))}")
    comments = proto_comments(spec.role)[spec.request]
    for name, f in fields.items():
        fd, comment = proto[name], comments[name]
        expected = {bool: fd.TYPE_BOOL, int: (fd.TYPE_INT32, fd.TYPE_INT64), float: fd.TYPE_DOUBLE,
                    str: fd.TYPE_STRING, tuple: fd.TYPE_STRING}[f.base]
        assert fd.type in (expected if isinstance(expected, tuple) else (expected,)), f"{spec.request}.{name}: type"
        assert fd.is_repeated == (f.base is tuple), f"{spec.request}.{name}: repeated"
        if f.base not in (str, tuple):
            assert fd.has_presence, f"{spec.request}.{name} must be `optional` (unset = the Params default)"
        if f.is_input:
            assert f.base in (str, tuple) and not fd.has_presence, f"{spec.request}.{name}: an input file is a plain string"
        if f.default is MISSING:
            assert "Required." in comment, f"{spec.request}.{name}: say it is required"
        elif f.default is None:
            assert "Unset:" in comment and "Default" not in comment, f"{spec.request}.{name}: say what unset means"
        elif not f.is_input:
            assert f"Default {stated_default(f.default)}." in comment, (
                f"{spec.request}.{name}: the proto says {comment!r}, the Params default is {f.default!r}")


@pytest.mark.parametrize("spec", STAGES, ids=ids)
def test_params_defaults_are_relions_gui_defaults(spec):
    for f in fields_of(spec.params_class):
        if f.info.relion_default is not None:
            assert f.default == f.info.relion_default, f"{spec.name}.{f.name}: default {f.default!r}, RELION's GUI {f.info.relion_default!r}"
        assert f.info.help and f.info.cli.startswith("--")
        if f.info.kind == INPUT:
            assert f.default in (MISSING, "", ())


@pytest.mark.parametrize("spec", STAGES, ids=ids)
def test_command_line_mirrors_params(spec):
    from cryopick.cli import build_parser

    parser = build_parser(spec.name)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[spec.name]
    actions = {a.dest: a for a in sub._actions if a.dest != "help"}
    fields = {f.name: f for f in fields_of(spec.params_class)}
    assert set(actions) == set(fields) | {"output", "project_root", "quiet"}
    for name, f in fields.items():
        a = actions[name]
        assert a.option_strings[0] == f.info.cli
        if f.default is MISSING:
            assert a.required, f"{spec.name} {f.info.cli}: required"
        else:
            assert a.default == f.default and not a.required, f"{spec.name} {f.info.cli}: default {a.default!r}"
        if f.base is bool:
            assert isinstance(a, argparse.BooleanOptionalAction)
        elif f.base is tuple:
            assert a.nargs == "+"
        else:
            assert a.type is f.base
            assert tuple(a.choices or ()) == f.choices


def _flow_steps():
    from cryopick.flows.params import STEPS

    return list(STEPS.values())


@pytest.mark.parametrize("step", _flow_steps(), ids=lambda s: s.key)
def test_flow_form_is_params_minus_inputs_with_preset_defaults(step):
    from cryopick.flows.params import MODELS

    cls = step.spec.params_class
    hints = typing.get_type_hints(cls)
    model = MODELS[step.key]
    expected = {f.name: f for f in fields_of(cls) if not f.is_input}
    assert set(model.model_fields) == set(expected)
    for name, f in expected.items():
        mf = model.model_fields[name]
        assert mf.annotation == hints[name], f"{step.key}.{name}: type"
        want = step.defaults.get(name, f.default)
        if want is MISSING:
            assert mf.is_required()
        else:
            assert mf.default == want, f"{step.key}.{name}: default {mf.default!r}, expected {want!r}"
        assert mf.description.startswith(f.info.help)


@pytest.mark.parametrize("role", ROLES)
def test_each_service_exposes_exactly_its_stages(role):
    from cryopick.services.runtime.roles import servicer_class
    from cryopick.stages.registry import stages_of_role

    cls = servicer_class(role)
    service = importlib.import_module(f"cryopick.services.gen.{role}_pb2").DESCRIPTOR.services_by_name[
        SERVICE_NAMES[role].rsplit(".", 1)[1]]
    assert {m.name for m in service.methods} == {s.rpc for s in stages_of_role(role)}
    for s in stages_of_role(role):
        assert s.rpc in cls.__dict__


def test_every_stage_module_is_registered():
    modules = {p.stem for p in (REPO / "src/cryopick/stages").glob("*.py")} - {
        "__init__", "base", "fields", "registry", "presets", "extract_inputs", "class2d_inputs", "class2d_files",
        "autopick_reports", "topaz_train_inputs", "rank_inputs"}
    assert {s.module_name.rsplit(".", 1)[1] for s in STAGES} == modules
