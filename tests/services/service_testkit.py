"""Helpers for the service tests: a tiny RELION project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.io.optics import OpticsStar, write_optics_star
from cryopick.io.pipeline import allocate_job

MICROGRAPHS_STAR = "CtfFind/job004/micrographs_ctf.star"
N_MICROGRAPHS = 23


def write_micrographs_star(root: Path, rel: str = MICROGRAPHS_STAR, n: int = N_MICROGRAPHS) -> list[str]:
    """A micrographs STAR with ``n`` (dummy) micrograph names; returns the names in order."""
    names = [f"MotionCorr/job002/Movies/mic_{i:03d}.mrc" for i in range(n)]
    optics = pd.DataFrame({
        "rlnOpticsGroupName": ["opticsGroup1"], "rlnOpticsGroup": [1], "rlnMicrographPixelSize": [1.0],
        "rlnVoltage": [300.0], "rlnSphericalAberration": [2.7], "rlnAmplitudeContrast": [0.1],
    })
    data = pd.DataFrame({
        "rlnMicrographName": np.array(names, dtype=object), "rlnOpticsGroup": np.ones(n, dtype=int),
        "rlnDefocusU": np.linspace(10000, 20000, n), "rlnDefocusV": np.linspace(10000, 20000, n),
    })
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    write_optics_star(root / rel, OpticsStar(optics, data, "micrographs"))
    return names


def new_job(root: Path, job_type: str = "Select") -> str:
    """Allocate the next job directory, as the flow does."""
    return allocate_job(root, job_type)
