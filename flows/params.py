"""Flow parameters: one form per step of the chapter, derived from the stage's ``Params``.

Nothing is copied by hand: each step's pydantic model has exactly the fields of its stage's
``Params`` minus the input files (the flow wires those from earlier jobs), with the stage's
types, the field help texts as descriptions, and as defaults the tutorial's values
(:data:`cryopick.stages.presets.TUTORIAL`) where the tutorial sets them, else the stage's
defaults (RELION's GUI defaults). The Prefect UI renders each model as a form.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, create_model

from cryopick.stages.fields import MISSING, fields_of
from cryopick.stages.presets import TUTORIAL
from cryopick.stages.registry import ROLES, StageSpec, stage


class StepParams(BaseModel):
    """Base of every step's parameter form (frozen; unknown fields are refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, eq=False)
class FlowStep:
    """A step of a flow: a parameter name, the stage it runs and what the task is called (hashed by identity)."""

    key: str
    stage: str
    title: str
    defaults: Mapping[str, Any]

    @property
    def spec(self) -> StageSpec:
        return stage(self.stage)


def _model_name(key: str) -> str:
    return "".join(part.capitalize() if part != "log" else "LoG" for part in key.split("_")) + "Params"


def step_model(step: FlowStep) -> type[StepParams]:
    """The parameter form of ``step``: its stage's fields minus input files, defaults from the preset."""
    cls = step.spec.params_class
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in fields_of(cls):
        if f.is_input:
            continue
        default = step.defaults.get(f.name, f.default)
        description = f.info.help + (f" ({f.info.unit})" if f.info.unit else "")
        fields[f.name] = (hints[f.name], Field(... if default is MISSING else default, description=description))
    unknown = set(step.defaults) - set(fields)
    if unknown:
        raise TypeError(f"preset for {step.key} sets {sorted(unknown)}, which {cls.__module__}.Params does not have")
    model = create_model(_model_name(step.key), __base__=StepParams, __module__=__name__, **fields)
    model.__doc__ = f"{step.title}: {step.spec.summary}"
    return model


#: Task names that differ from the stage's title (a stage used twice in the chapter).
_TITLES = {"final_extract": "Final extraction"}

#: The steps of the flows, in the tutorial's order (facility steps after them).
STEPS: dict[str, FlowStep] = {
    key: FlowStep(key, s.stage, _TITLES.get(key, stage(s.stage).title), s.values) for key, s in TUTORIAL.items()
}
STEPS["new_micrographs"] = FlowStep("new_micrographs", "select-new", stage("select-new").title, {})

#: The parameter model of every step, by flow parameter name.
MODELS: dict[str, type[StepParams]] = {key: step_model(step) for key, step in STEPS.items()}

SubsetsParams = MODELS["subsets"]
LoGPickingParams = MODELS["log_picking"]
ExtractParams = MODELS["extract"]
Class2dParams = MODELS["class2d"]
AutoSelectParams = MODELS["auto_select"]
TopazTrainingParams = MODELS["topaz_training"]
TopazPickingParams = MODELS["topaz_picking"]
FinalExtractParams = MODELS["final_extract"]
NewMicrographsParams = MODELS["new_micrographs"]


ServiceAddresses = create_model(
    "ServiceAddresses", __base__=StepParams, __module__=__name__,
    **{role: (str, Field("", description=f"host:port of the {role} service (empty: CRYOPICK_{role.upper()}_ADDRESS)"))
       for role in ROLES},
)
ServiceAddresses.__doc__ = "``host:port`` of each service; empty = from ``CRYOPICK_<ROLE>_ADDRESS``."
