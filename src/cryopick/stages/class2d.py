"""2D classification: RELION's Class2D job with the EM algorithm (relion_spec.md §4).

Not built yet: this module holds the job's parameters (the contract the CLI, the classifier
service and the flow share); without a ``run`` the classifier answers UNIMPLEMENTED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryopick.io import nodes
from cryopick.stages.fields import input_file, param, runtime


@dataclass(frozen=True)
class Params:
    """Class2D job: "I/O", "CTF", "Optimisation", "Sampling" and "Compute" tabs (EM algorithm)."""

    particles_star: str = input_file(help="Input images STAR file", cli="--i", node=nodes.PARTICLES, job_option="fn_img")
    continue_optimiser_star: str = input_file(help="Continue from this _optimiser.star", cli="--continue",
                                              node=nodes.OPTIMISER_CLASS2D, job_option="fn_cont", required=False)
    nr_classes: int = param(1, help="Number of classes", cli="--classes", relion="--K", relion_default=1,
                            job_option="nr_classes", minimum=1, maximum=10000)
    tau2_fudge: float = param(2.0, help="Regularisation parameter T", cli="--tau2-fudge", relion="--tau2_fudge",
                              relion_default=2.0, job_option="tau_fudge", minimum=1e-3)
    nr_iter: int = param(25, help="Number of EM iterations", cli="--iter", relion="--iter", relion_default=25,
                         job_option="nr_iter_em", minimum=1, maximum=1000)
    mask_diameter_angstrom: float = param(200.0, help="Mask diameter", cli="--mask-diameter", unit="Å",
                                          relion="--particle_diameter", relion_default=200.0,
                                          job_option="particle_diameter", minimum=1e-3)
    zero_mask: bool = param(True, help="Mask individual particles with zeros?", cli="--zero-mask",
                            relion="--zero_mask", relion_default=True, job_option="do_zero_mask")
    highres_limit_angstrom: float = param(-1.0, help="Limit resolution E-step to (-1: no limit)",
                                          cli="--limit-resol-estep", unit="Å", relion="--strict_highres_exp",
                                          relion_default=-1.0, job_option="highres_limit")
    center_classes: bool = param(True, help="Center class averages?", cli="--center-classes",
                                 relion="--center_classes", relion_default=True, job_option="do_center")
    ctf: bool = param(True, help="Do CTF-correction?", cli="--ctf", relion="--ctf", relion_default=True,
                      job_option="do_ctf_correction")
    ctf_intact_first_peak: bool = param(False, help="Ignore CTFs until first peak?", cli="--ignore-ctf-first-peak",
                                        relion="--ctf_intact_first_peak", relion_default=False,
                                        job_option="ctf_intact_first_peak")
    psi_step_degrees: float = param(6.0, help="In-plane angular sampling", cli="--psi-step", unit="deg",
                                    relion="--psi_step (x2: the coarse pass)", relion_default=6.0,
                                    job_option="psi_sampling", minimum=0.1, maximum=180.0)
    offset_range_px: float = param(5.0, help="Offset search range", cli="--offset-range", unit="px",
                                   relion="--offset_range", relion_default=5.0, job_option="offset_range", minimum=0.0)
    offset_step_px: float = param(1.0, help="Offset search step", cli="--offset-step", unit="px",
                                  relion="--offset_step (x2: the coarse pass)", relion_default=1.0,
                                  job_option="offset_step", minimum=0.1)
    allow_coarser_sampling: bool = param(False, help="Allow coarser sampling?", cli="--allow-coarser-sampling",
                                         relion="--allow_coarser_sampling", relion_default=False,
                                         job_option="allow_coarser")
    seed: int = param(1, help="Random seed", cli="--seed", relion="--random_seed")
    threads: int = runtime(1, help="Number of threads", cli="--threads", relion="--j", job_option="nr_threads",
                           minimum=1, maximum=1024)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device", relion="--gpu")
