"""Which device a service's torch stages will use, said once at start-up.

A GPU role's container carries a CUDA build of torch; whether a GPU is visible depends on how
the container was started (CDI ``--device nvidia.com/gpu=all`` or compose's device request).
The service says which it found, so an engineer sees in the first lines of the log whether the
jobs will run on the GPU or fall back to the CPU.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from typing import Sequence


def uses_device(stage_modules: Sequence[str]) -> bool:
    """True if a stage of ``stage_modules`` has a ``device`` parameter (it runs torch)."""
    for name in stage_modules:
        try:
            params = importlib.import_module(name).Params
        except (ImportError, AttributeError):
            continue
        if any(f.name == "device" for f in dataclasses.fields(params)):
            return True
    return False


def device_report(stage_modules: Sequence[str]) -> tuple[int, str] | None:
    """The start-up line about the accelerator: (logging level, message), or None for a role without torch stages.

    INFO naming the GPU when torch sees one; WARNING when it does not, saying that jobs with
    ``device auto`` run on the CPU (``device cuda`` then fails the job with a clear error).
    """
    if not uses_device(stage_modules):
        return None
    import torch

    build = f"torch {torch.__version__}, " + (f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build")
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return logging.INFO, (f"jobs run on the GPU: cuda:0 = {torch.cuda.get_device_name(0)}"
                              f"{f' (+{n - 1} more)' if n > 1 else ''} ({build})")
    return logging.WARNING, (f"no CUDA device visible to torch ({build}): jobs with device 'auto' run on the CPU, "
                             "much slower; start the container with the GPU (see containers/README.md, GPU)")
