"""The start-up line about the GPU: named when torch sees one, a warning and the CPU when not."""

from __future__ import annotations

import logging

import pytest

from cryopick.services.runtime.devices import device_report, uses_device
from cryopick.stages.registry import stages_of_role


def modules(role: str) -> list[str]:
    return [s.module_name for s in stages_of_role(role)]


@pytest.mark.parametrize("role, torch_stages", [("picker", False), ("extractor", False), ("classifier", True),
                                                ("ranker", True), ("topaz", True)])
def test_the_gpu_roles_are_those_whose_stages_take_a_device(role, torch_stages):
    assert uses_device(modules(role)) is torch_stages
    if not torch_stages:
        assert device_report(modules(role)) is None


def test_without_a_gpu_the_service_warns_that_jobs_run_on_the_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    level, message = device_report(modules("topaz"))
    assert level == logging.WARNING and "no CUDA device visible" in message and "run on the CPU" in message
    assert torch.__version__ in message


def test_with_a_gpu_the_service_names_it(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Test GPU 80GB")
    level, message = device_report(modules("classifier"))
    assert level == logging.INFO and "cuda:0 = Test GPU 80GB (+1 more)" in message


def test_a_gpu_role_logs_the_device_when_it_starts(start_service, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="cryopick")
    start_service("ranker", tmp_path)
    assert any("ranker service: " in r.getMessage() and ("GPU" in r.getMessage() or "CPU" in r.getMessage())
               for r in caplog.records), [r.getMessage() for r in caplog.records]
