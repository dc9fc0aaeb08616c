"""prefect.yaml: entrypoints load and every deployment's parameters validate against its flow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _deployments():
    return yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["name"])
def test_deployment_parameters_validate(deployment, monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(REPO)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    params = flow.validate_parameters(deployment["parameters"])
    assert params["project_dir"] == deployment["parameters"]["project_dir"]
    if "log_picking" in params:  # the tutorial's LoG values reach the typed model
        assert params["log_picking"].upper_threshold_stddev == 5
        assert params["log_picking"].diameter_min_angstrom == 150


def test_facility_template_has_a_schedule_that_starts_off():
    facility = [d for d in _deployments() if d["entrypoint"].startswith("flows/facility.py")]
    assert facility and facility[0]["schedules"][0]["interval"] > 0
    assert facility[0]["schedules"][0]["active"] is False  # the template names the placeholder project


def test_every_template_names_the_placeholder_project():
    from cryopick.flows.placeholder import placeholder_refusal

    assert all(placeholder_refusal(d["parameters"]["project_dir"]) for d in _deployments())
