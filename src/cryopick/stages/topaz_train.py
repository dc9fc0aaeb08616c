"""Topaz training: RELION's AutoPick job, Topaz tab, "Perform topaz training? Yes" (relion_spec.md §6).

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
    """AutoPick job, "Topaz" tab: training."""

    micrographs_star: str = input_file(help="Input micrographs for autopick", cli="--i", node=nodes.MICROGRAPHS,
                                       job_option="fn_input_autopick")
    particle_diameter_angstrom: float = param(help="Particle diameter", cli="--diameter", unit="Å",
                                              relion="--particle_diameter", job_option="topaz_particle_diameter",
                                              minimum=1e-3)
    particles_star: str = input_file(help="Particles STAR file for training", cli="--particles", node=nodes.PARTICLES,
                                     job_option="topaz_train_parts", required=False)
    coords_star: str = input_file(help="Input picked coordinates for training", cli="--coords", node=nodes.COORDS,
                                  job_option="topaz_train_picks", required=False)
    nr_particles_per_micrograph: int = param(200, help="Nr of particles per micrograph", cli="--per-mic",
                                             relion="--topaz_nr_particles", job_option="topaz_nr_particles",
                                             minimum=1)
    test_ratio: float = param(0.2, help="Fraction of picks held out for testing", cli="--test-ratio",
                              relion="--topaz_test_ratio", minimum=0.0, maximum=0.9)
    nr_epochs: int = param(10, help="Training epochs", cli="--epochs", minimum=1)
    epoch_size: int = param(1000, help="Updates per epoch", cli="--epoch-size", minimum=1)
    downscale: int | None = param(None, help="Downscaling factor (default: from the diameter)", cli="--downscale",
                                  relion="--topaz_downscale", minimum=1)
    radius_px: int | None = param(None, help="Training radius in downscaled pixels (default: from the diameter)",
                                  cli="--radius", unit="px", relion="--topaz_radius", minimum=0)
    seed: int = param(1, help="Random seed", cli="--seed")
    threads: int = runtime(1, help="Number of threads", cli="--threads", relion="--topaz_workers", minimum=1, maximum=1024)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device", relion="--gpu")
