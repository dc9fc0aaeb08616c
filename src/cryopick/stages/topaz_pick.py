"""Topaz picking: RELION's AutoPick job, Topaz tab, "Perform topaz picking? Yes" (relion_spec.md §6).

Not built yet: this module holds the job's parameters (the contract the CLI, the topaz
service and the flow share); without a ``run`` the topaz service answers UNIMPLEMENTED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryopick.io import nodes
from cryopick.stages.fields import input_file, param, runtime


@dataclass(frozen=True)
class Params:
    """AutoPick job, "Topaz" tab: picking."""

    micrographs_star: str = input_file(help="Input micrographs for autopick", cli="--i", node=nodes.MICROGRAPHS,
                                       job_option="fn_input_autopick")
    particle_diameter_angstrom: float = param(help="Particle diameter", cli="--diameter", unit="Å",
                                              relion="--particle_diameter", job_option="topaz_particle_diameter",
                                              minimum=1e-3)
    model_path: str = input_file(help="Trained topaz model (default: Topaz's pretrained network)", cli="--model",
                                 job_option="topaz_model", required=False)
    threshold: float = param(-6.0, help="Log-likelihood threshold of the picks kept", cli="--threshold",
                             relion="--topaz_threshold")
    downscale: int | None = param(None, help="Downscaling factor (default: from the diameter)", cli="--downscale",
                                  relion="--topaz_downscale", minimum=1)
    radius_px: int | None = param(None, help="Picking radius in downscaled pixels (default: from the diameter)",
                                  cli="--radius", unit="px", relion="--topaz_radius", minimum=0)
    threads: int = runtime(1, help="Micrographs picked in parallel", cli="--threads", minimum=1, maximum=1024)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device", relion="--gpu")
    skip_failed_micrographs: bool = runtime(False, help="Succeed without micrographs that cannot be read",
                                            cli="--skip-failed")
