"""Automatic 2D class selection: RELION's Select job with the class ranker (relion_spec.md §5).

Not built yet: this module holds the job's parameters (the contract the CLI, the ranker
service and the flow share); without a ``run`` the ranker answers UNIMPLEMENTED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryopick.io import nodes
from cryopick.stages.fields import input_file, param, runtime


@dataclass(frozen=True)
class Params:
    """Select job, "Class options" tab with "Automatically select 2D classes? Yes"."""

    optimiser_star: str = input_file(help="Select classes from job (its _optimiser.star)", cli="--i",
                                     node=nodes.OPTIMISER_CLASS2D, job_option="fn_model")
    min_score: float = param(0.5, help="Minimum threshold for auto-selection", cli="--min-score",
                             relion="--min_score", relion_default=0.5, job_option="rank_threshold")
    max_score: float = param(999.0, help="Maximum score for auto-selection", cli="--max-score", relion="--max_score")
    select_min_nr_particles: int = param(-1, help="Select at least this many particles (-1: off)",
                                         cli="--min-particles", relion="--select_min_nr_particles",
                                         relion_default=-1, job_option="select_nr_parts")
    select_min_nr_classes: int = param(-1, help="OR: select at least this many classes (-1: off)",
                                       cli="--min-classes", relion="--select_min_nr_classes", relion_default=-1,
                                       job_option="select_nr_classes")
    lowpass_angstrom: float = param(25.0, help="Low-pass filter of the averages before the features", cli="--lowpass",
                                    unit="Å", relion="--lowpass", minimum=1e-3)
    radius_ratio: float = param(0.95, help="Inner radius of the ring features, as a fraction of the mask radius",
                                cli="--radius-ratio", relion="--radius_ratio", minimum=0.0, maximum=1.0)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device")
