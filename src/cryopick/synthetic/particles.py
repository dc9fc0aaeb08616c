"""A synthetic particle set with known 2D classes, written as a RELION Extract job.

Used by the 2D classification tests and benchmark: the particles of
:func:`cryopick.sim.particles2d.simulate_particles`, grouped into pretend micrographs, in
``Extract/job007/Movies/mic_NNN.mrcs`` stacks with ``Extract/job007/particles.star`` (optics +
particles with the CTF of each particle), as ``relion_preprocess`` writes them, and the truth
in ``GroundTruth/particles2d.star`` (rlnClassNumber, rlnAnglePsi, rlnOriginX/YAngst).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryopick.io.mrc import write_mrc
from cryopick.io.star import compose_image_name, write_star
from cryopick.sim.particles2d import Particles2D

EXTRACT_JOB = "Extract/job007/"
TRUTH_STAR = "GroundTruth/particles2d.star"


@dataclass(frozen=True)
class ParticleProject:
    """What :func:`write_particle_project` wrote.

    Attributes
    ----------
    root : pathlib.Path
    particles_star : str
        Project-relative ``Extract/job007/particles.star``.
    truth : Particles2D
    pixel_size_angstrom : float
    """

    root: Path
    particles_star: str
    truth: Particles2D
    pixel_size_angstrom: float


def write_particle_project(root: str | os.PathLike, particles: Particles2D, pixel_size_angstrom: float,
                           per_micrograph: int = 50, float16: bool = False) -> ParticleProject:
    """Write ``particles`` as an Extract job's output under the project ``root`` (see the module docstring)."""
    root = Path(root)
    (root / EXTRACT_JOB / "Movies").mkdir(parents=True, exist_ok=True)
    (root / ".gui_projectdir").touch()
    n, box = particles.images.shape[0], particles.images.shape[-1]
    names, mics = [], []
    for m, start in enumerate(range(0, n, per_micrograph), start=1):
        stack = f"{EXTRACT_JOB}Movies/mic_{m:03d}.mrcs"
        chunk = particles.images[start:start + per_micrograph]
        write_mrc(root / stack, chunk, pixel_size_angstrom, float16=float16, stack=True)
        names += [compose_image_name(i, stack) for i in range(1, len(chunk) + 1)]
        mics += [f"MotionCorr/job002/Movies/mic_{m:03d}.mrc"] * len(chunk)
    optics = {
        "rlnOpticsGroupName": np.array(["opticsGroup1"], dtype=object),
        "rlnOpticsGroup": np.array([1]),
        "rlnMicrographOriginalPixelSize": np.array([pixel_size_angstrom]),
        "rlnVoltage": np.array([300.0]),
        "rlnSphericalAberration": np.array([2.7]),
        "rlnAmplitudeContrast": np.array([0.1]),
        "rlnImagePixelSize": np.array([pixel_size_angstrom]),
        "rlnImageSize": np.array([box]),
        "rlnImageDimensionality": np.array([2]),
        "rlnCtfDataAreCtfPremultiplied": np.array([0]),
    }
    rows = {
        "rlnCoordinateX": np.full(n, float(box)),
        "rlnCoordinateY": np.full(n, float(box)),
        "rlnImageName": np.array(names, dtype=object),
        "rlnMicrographName": np.array(mics, dtype=object),
        "rlnOpticsGroup": np.ones(n, dtype=np.int64),
        "rlnDefocusU": particles.defocus_u_angstrom.astype(np.float64),
        "rlnDefocusV": particles.defocus_v_angstrom.astype(np.float64),
        "rlnDefocusAngle": particles.defocus_angle_deg.astype(np.float64),
        "rlnCtfBfactor": np.zeros(n),
        "rlnCtfScalefactor": np.ones(n),
        "rlnPhaseShift": np.zeros(n),
    }
    star = f"{EXTRACT_JOB}particles.star"
    write_star(root / star, {"optics": optics, "particles": rows})
    (root / TRUTH_STAR).parent.mkdir(parents=True, exist_ok=True)
    write_star(root / TRUTH_STAR, {"particles": {
        "rlnImageName": np.array(names, dtype=object),
        "rlnClassNumber": particles.classes.astype(np.int64) + 1,
        "rlnAnglePsi": particles.psi_deg.astype(np.float64),
        "rlnOriginXAngst": particles.origins_px[:, 0] * pixel_size_angstrom,
        "rlnOriginYAngst": particles.origins_px[:, 1] * pixel_size_angstrom,
    }})
    return ParticleProject(root, star, particles, pixel_size_angstrom)
