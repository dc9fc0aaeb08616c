"""The servicer of each role, derived from the stage registry.

A role's servicer has one method per registered stage of that role (the stage's ``rpc``),
and every method is the same one line: hand the request to :meth:`JobRunner.stream` with the
stage. A stage whose module has no ``run`` yet answers UNIMPLEMENTED, naming the job.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from cryopick.services.runtime.jobs import JobRunner
from cryopick.services.runtime.server import Role
from cryopick.stages.registry import SERVICE_NAMES, StageSpec, stages_of_role


def _rpc(spec: StageSpec) -> Callable[[Any, Any, Any], Any]:
    def method(self, request, context):
        return self.runner.stream(request, context, spec)

    method.__name__ = spec.rpc
    method.__doc__ = f"{spec.title} ({spec.process_label}; stage {spec.module_name})."
    return method


def servicer_class(role: str) -> type:
    """The servicer class of ``role``: the generated base class plus one method per stage."""
    service = SERVICE_NAMES[role].rsplit(".", 1)[1]
    base = getattr(importlib.import_module(f"cryopick.services.gen.{role}_pb2_grpc"), f"{service}Servicer")

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    methods = {spec.rpc: _rpc(spec) for spec in stages_of_role(role)}
    return type(f"{service}r", (base,), {"__init__": __init__, **methods})


def role(name: str) -> Role:
    """The :class:`Role` of service ``name``: its gRPC registration, servicer and stage modules."""
    service = SERVICE_NAMES[name].rsplit(".", 1)[1]
    grpc_module = importlib.import_module(f"cryopick.services.gen.{name}_pb2_grpc")
    return Role(
        name,
        SERVICE_NAMES[name],
        getattr(grpc_module, f"add_{service}Servicer_to_server"),
        servicer_class(name),
        stages=tuple(s.module_name for s in stages_of_role(name)),
    )
