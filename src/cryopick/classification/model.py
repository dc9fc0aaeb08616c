"""What 2D classification estimates and what it needs to know, as plain containers.

Units: pixels of the particle box for image quantities, Å for the offset prior (as RELION
stores it), degrees for angles. Tensors live on the run's device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Settings:
    """The algorithm's parameters (the stage converts the GUI's fields into these).

    Attributes
    ----------
    n_classes : int
    tau2_fudge : float
        Regularisation parameter T.
    n_iterations : int
    mask_diameter_angstrom : float
    zero_mask : bool
        Outside the mask: the background mean (True) or noise (False).
    highres_limit_angstrom : float
        Limit resolution E-step to (Å); <= 0: no limit.
    center_classes : bool
    ctf : bool
    ctf_intact_first_peak : bool
    psi_step_deg : float
        Fine in-plane step (the GUI's); the coarse pass uses twice it.
    offset_range_px, offset_step_px : float
        Search range and fine step (the GUI's); the coarse pass uses twice the step.
    norm_correction, scale_correction : bool
        ``--norm`` and ``--scale``.
    adaptive_fraction : float
        Posterior mass kept from the coarse pass (RELION's 0.999).
    max_significant : int
        Coarse samples refined per particle at most (bounds the fine pass early on).
    perturb : float
        Random perturbation factor of the sampling grid (``--perturb``).
    sigma_offset_angstrom : float
        Initial standard deviation of the offset prior (``--offset``).
    incr_size : int
        Fourier shells beyond the resolution the current image size adds.
    minres_map : int
        Shells below it are not regularised.
    width_mask_edge_px : float
    pad : int
    batch_size : int
        Particles per E-step batch.
    seed : int
    """

    n_classes: int
    tau2_fudge: float = 2.0
    n_iterations: int = 25
    mask_diameter_angstrom: float = 200.0
    zero_mask: bool = True
    highres_limit_angstrom: float = -1.0
    center_classes: bool = True
    ctf: bool = True
    ctf_intact_first_peak: bool = False
    psi_step_deg: float = 6.0
    offset_range_px: float = 5.0
    offset_step_px: float = 1.0
    norm_correction: bool = True
    scale_correction: bool = True
    adaptive_fraction: float = 0.999
    max_significant: int = 128
    perturb: float = 0.5
    sigma_offset_angstrom: float = 10.0
    incr_size: int = 10
    minres_map: int = 5
    width_mask_edge_px: float = 5.0
    pad: int = 2
    batch_size: int = 128
    seed: int = 1


@dataclass
class ParticleData:
    """The particles and their CTF, in STAR-file order.

    Attributes
    ----------
    images : array-like, shape (N, B, B), float32
        Indexable by an integer array (``images[index]``): a numpy array in memory, or
        :class:`cryopick.io.particle_stacks.StreamedImages` reading them when needed.
        Moved to the device batch by batch.
    pixel_size_angstrom : float
    defocus_u, defocus_v, defocus_angle, phase_shift, bfactor, ctf_scale : np.ndarray, shape (N,)
    voltage_kv, cs_mm, amplitude_contrast : np.ndarray, shape (N,)
        Per particle (from its optics group).
    optics_group : np.ndarray, shape (N,), int
        0-based.
    group : np.ndarray, shape (N,), int
        0-based micrograph group (for the scale correction).
    group_names : list[str]
    """

    images: Any
    pixel_size_angstrom: float
    defocus_u: np.ndarray
    defocus_v: np.ndarray
    defocus_angle: np.ndarray
    phase_shift: np.ndarray
    bfactor: np.ndarray
    ctf_scale: np.ndarray
    voltage_kv: np.ndarray
    cs_mm: np.ndarray
    amplitude_contrast: np.ndarray
    optics_group: np.ndarray
    group: np.ndarray
    group_names: list[str]

    @property
    def n(self) -> int:
        return int(self.images.shape[0])

    @property
    def box(self) -> int:
        return int(self.images.shape[-1])

    @property
    def n_optics_groups(self) -> int:
        return int(self.optics_group.max()) + 1 if self.n else 0

    @property
    def n_groups(self) -> int:
        return len(self.group_names)


@dataclass
class Model:
    """The references and the parameters of the statistical model.

    Attributes
    ----------
    references : torch.Tensor, shape (K, B, B)
    class_prior : torch.Tensor, shape (K,)
        rlnClassDistribution.
    prior_offsets_angstrom : torch.Tensor, shape (K, 2)
        rlnClassPriorOffsetX/Y.
    sigma2_offset_angstrom2 : float
        rlnSigmaOffsetsAngst².
    sigma2_noise : torch.Tensor, shape (G, n_shells)
        Per optics group.
    tau2 : torch.Tensor, shape (K, n_shells)
        Reference power per shell (the prior's variance, before T).
    data_vs_prior : torch.Tensor, shape (K, n_shells)
        rlnSsnrMap.
    fourier_coverage : torch.Tensor, shape (K, n_shells)
    sigma2_class : torch.Tensor, shape (K, n_shells)
        rlnReferenceSigma2.
    avg_norm : float
    scale : torch.Tensor, shape (n_groups,)
    current_size : int
        Image size of the next E-step.
    resolution_shell : int
        Shell of the current resolution.
    log_likelihood, average_pmax : float
    iteration_size : int
        Image size the last E-step used (0 before the first).
    sampling_perturbation : float
        The last E-step's random shift of the sampling grid, in fractions of a coarse step.
    accuracy_rotations_deg, accuracy_translations_angstrom : np.ndarray, shape (K,)
    """

    references: torch.Tensor
    class_prior: torch.Tensor
    prior_offsets_angstrom: torch.Tensor
    sigma2_offset_angstrom2: float
    sigma2_noise: torch.Tensor
    tau2: torch.Tensor
    data_vs_prior: torch.Tensor
    fourier_coverage: torch.Tensor
    sigma2_class: torch.Tensor
    avg_norm: float
    scale: torch.Tensor
    current_size: int
    resolution_shell: int
    log_likelihood: float = 0.0
    average_pmax: float = 0.0
    iteration_size: int = 0
    sampling_perturbation: float = 0.0
    accuracy_rotations_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accuracy_translations_angstrom: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_classes(self) -> int:
        return int(self.references.shape[0])
