"""Parameters of a simulated project (re-exported by :mod:`cryopick.synthetic.project`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cryopick.errors import BadInputError
from cryopick.sim.density import SHAPES


@dataclass(frozen=True)
class SimParams:
    """Everything that defines a simulated RELION project; same params + seed = same files.

    Image model (per micrograph, ``x`` = column, ``y`` = row)::

        mic = ice_mean(x, y) − CTF ⊛ (particles + aggregates) + CTF ⊛ ice_noise
              + shot_noise · √thickness(x, y) + carbon + ice contamination

    Noise levels are given for a 1 Å pixel and scale as 1/pixel size (the same dose
    spread over larger pixels), so presets with different pixel sizes are equally hard
    for a picker that low-passes to the particle scale.

    Attributes
    ----------
    n_micrographs : int
    seed : int
        Seed of everything random (micrograph i uses the stream ``(seed, i)``).
    mic_size_px : (nx, ny)
        Micrograph width (columns) and height (rows).
    pixel_size_angstrom : float
    diameter_angstrom : float
        Particle diameter (max extent of the 3D model).
    particles_per_mic : int
        Target number of particles; fewer if the free area runs out.
    n_models : int
        Conformations (rlnClassNumber 1..n_models in the truth).
    model_seed : int
        Seed of the 3D model (independent of ``seed``: the molecule is the same).
    voltage_kv, cs_mm, amplitude_contrast : float
        Microscope (data_optics).
    defocus_min_angstrom, defocus_max_angstrom : float
        Range of the mean defocus (uniform per micrograph).
    astigmatism_max_angstrom : float
        |DefocusU − DefocusV| is uniform in [0, this].
    bfactor_angstrom2 : float
        Envelope applied with the CTF (not written to the STAR, as for CtfFind output).
    particle_contrast : float
        Mean projected particle density inside its disc, in units of the shot-noise σ
        of a 1 Å pixel (before the CTF).
    ice_noise : float
        σ of the CTF-filtered amorphous-ice noise (shot-noise units), gives Thon rings.
    ice_gradient : float
        Relative change of ice thickness across the micrograph (a linear ramp plus a
        smooth random field); thicker ice = darker mean and more noise.
    ice_blobs_per_um2, aggregates_per_um2 : float
        Poisson rates of ice contamination and particle aggregates.
    carbon_fraction : float
        Fraction of micrographs with a carbon edge.
    min_separation_diameters : float
        Minimum centre distance between particles, in diameters.
    particle_shape : str
        The molecule's shape, one of :data:`cryopick.sim.density.SHAPES`.
    broken_per_um2 : float
        Poisson rate of broken particles: half a particle (the atoms on one side of a random
        plane through its centre), junk that looks like a particle to a picker and gives
        half-particle class averages.
    """

    n_micrographs: int = 4
    seed: int = 0
    mic_size_px: tuple[int, int] = (512, 496)
    pixel_size_angstrom: float = 3.54
    diameter_angstrom: float = 170.0
    particles_per_mic: int = 30
    n_models: int = 1
    model_seed: int = 2024
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.1
    defocus_min_angstrom: float = 8000.0
    defocus_max_angstrom: float = 25000.0
    astigmatism_max_angstrom: float = 600.0
    bfactor_angstrom2: float = 80.0
    particle_contrast: float = 0.17
    ice_noise: float = 0.5
    ice_gradient: float = 0.4
    ice_blobs_per_um2: float = 25.0
    aggregates_per_um2: float = 25.0
    carbon_fraction: float = 0.25
    min_separation_diameters: float = 1.0
    particle_shape: str = "asymmetric"
    broken_per_um2: float = 0.0

    def validate(self) -> "SimParams":
        """Raise BadInputError on impossible values; returns self."""
        nx, ny = self.mic_size_px
        problems = []
        if self.n_micrographs < 1:
            problems.append(f"n_micrographs must be >= 1 (got {self.n_micrographs})")
        if self.pixel_size_angstrom <= 0:
            problems.append(f"pixel size must be positive (got {self.pixel_size_angstrom} Å)")
        if self.diameter_angstrom <= 0:
            problems.append(f"particle diameter must be positive (got {self.diameter_angstrom} Å)")
        if self.pixel_size_angstrom > 0 and min(nx, ny) * self.pixel_size_angstrom < 2.5 * self.diameter_angstrom:
            problems.append(
                f"micrograph {nx}x{ny} px at {self.pixel_size_angstrom} Å/px is too small for "
                f"{self.diameter_angstrom} Å particles (need at least 2.5 diameters per side)"
            )
        if self.particles_per_mic < 0:
            problems.append(f"particles_per_mic must be >= 0 (got {self.particles_per_mic})")
        if not 0 < self.defocus_min_angstrom <= self.defocus_max_angstrom:
            problems.append("defocus range must satisfy 0 < min <= max")
        if not 0 <= self.amplitude_contrast < 1:
            problems.append(f"amplitude contrast must be in [0, 1) (got {self.amplitude_contrast})")
        if self.particle_shape not in SHAPES:
            problems.append(f"particle shape must be one of {', '.join(SHAPES)} (got {self.particle_shape!r})")
        if self.broken_per_um2 < 0:
            problems.append(f"broken_per_um2 must be >= 0 (got {self.broken_per_um2})")
        if self.n_models < 1:
            problems.append(f"n_models must be >= 1 (got {self.n_models})")
        if problems:
            raise BadInputError("simulate: " + "; ".join(problems))
        return self

    def replace(self, **changes) -> "SimParams":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, SimParams] = {
    "small": SimParams(),
    "tutorial": SimParams(
        n_micrographs=24,
        mic_size_px=(1920, 1856),
        pixel_size_angstrom=1.77,
        particles_per_mic=100,
    ),
    # A harder data set for Topaz training: another molecule, smaller, at lower contrast, crowded.
    "crowded": SimParams(
        n_micrographs=24,
        mic_size_px=(1920, 1856),
        pixel_size_angstrom=1.77,
        diameter_angstrom=140.0,
        model_seed=7,
        particle_contrast=0.09,
        particles_per_mic=260,
        min_separation_diameters=0.9,
    ),
}


def preset(name: str) -> SimParams:
    """The named preset (``small``, ``tutorial`` or ``crowded``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise BadInputError(f"simulate: unknown preset {name!r} (choose {', '.join(PRESETS)})") from None
