"""Typed flow parameters: one pydantic model per job, defaults = the RELION tutorial's values.

Field names are those of the stage ``Params`` dataclasses and of the gRPC request messages
(``protos/cryopick/v1/*.proto``), so a model's ``model_dump()`` can be copied field for
field into its request. The Prefect UI renders each model as a form with these fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Device = Literal["auto", "cpu", "cuda"]


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubsetParams(_Params):
    """Select job, "Subsets" tab: split the micrographs, the first subset trains the pickers."""

    split_size: int = Field(10, description="Micrographs per subset (-1: derive from nr_split)")
    nr_split: int = Field(-1, description="Number of subsets (-1: derive from split_size)")
    random_order: bool = Field(False, description="Randomise the order before splitting")
    seed: int = Field(1, description="Random seed of the shuffle")


class LoGParams(_Params):
    """AutoPick job, Laplacian-of-Gaussian tab (tutorial: 150/180 Å, maxres 20, thresholds 0 / 5)."""

    diameter_min_angstrom: float = Field(150.0, description="Min. diameter for LoG filter (Å)")
    diameter_max_angstrom: float = Field(180.0, description="Max. diameter for LoG filter (Å)")
    particles_white: bool = Field(False, description="Are the particles white?")
    max_resolution_angstrom: float = Field(20.0, description="Maximum resolution to consider (Å)")
    threshold_stddev: float = Field(0.0, description="Adjust default threshold (stddev)")
    upper_threshold_stddev: float = Field(5.0, description="Upper threshold (stddev)")
    threads: int = Field(1, ge=1, description="Threads")


class ExtractParams(_Params):
    """Extract job (tutorial: box 256, invert, normalise, background 200 px, rescale to 64, float16)."""

    box_size_px: int = Field(256, description="Particle box size (px, even)")
    invert_contrast: bool = Field(True, description="Invert contrast?")
    normalise: bool = Field(True, description="Normalize particles?")
    bg_diameter_px: float = Field(200.0, description="Diameter background circle (px); -1 = 75 % of the box")
    white_dust_sigma: float = Field(-1.0, description="Stddev for white dust removal (-1 = off)")
    black_dust_sigma: float = Field(-1.0, description="Stddev for black dust removal (-1 = off)")
    rescale_px: int = Field(64, description="Re-scaled box size (px); -1 = no rescaling")
    float16: bool = Field(True, description="Write output in float16?")
    threads: int = Field(1, ge=1, description="Threads")


class FinalExtractParams(ExtractParams):
    """Extraction of the Topaz picks, keeping picks with figure of merit above ``min_fom``."""

    min_fom: float = Field(-3.0, description="Minimum autopick FOM (keep FOM > this)")


class Class2DParams(_Params):
    """2D classification job (VDAM, as in the tutorial)."""

    nr_classes: int = Field(50, description="Number of classes")
    tau2_fudge: float = Field(2.0, description="Regularisation parameter T")
    use_vdam: bool = Field(True, description="Use VDAM algorithm?")
    nr_minibatches: int = Field(200, description="Number of VDAM mini-batches")
    mask_diameter_angstrom: float = Field(200.0, description="Mask diameter (Å)")
    zero_mask: bool = Field(True, description="Mask individual particles with zeros?")
    highres_limit_angstrom: float = Field(-1.0, description="Limit resolution E-step to (Å); -1 = off")
    center_classes: bool = Field(True, description="Center class averages?")
    ctf: bool = Field(True, description="Do CTF-correction?")
    ctf_intact_first_peak: bool = Field(False, description="Ignore CTFs until first peak?")
    psi_step_degrees: float = Field(6.0, description="In-plane angular sampling (deg)")
    offset_range_px: float = Field(5.0, description="Offset search range (px)")
    offset_step_px: float = Field(1.0, description="Offset search step (px)")
    threads: int = Field(1, ge=1, description="Threads")
    device: Device = "auto"


class AutoSelectParams(_Params):
    """Select job, automatic 2D class selection (class ranker)."""

    min_score: float = Field(0.5, description="Minimum threshold for auto-selection")
    select_min_nr_particles: int = Field(-1, description="Select at least this many particles (-1 = off)")
    select_min_nr_classes: int = Field(-1, description="OR: select at least this many classes (-1 = off)")
    device: Device = "auto"


class TopazTrainParams(_Params):
    """AutoPick job, Topaz training on the auto-selected particles of the training subset."""

    particle_diameter_angstrom: float = Field(180.0, description="Particle diameter (Å)")
    nr_particles_per_micrograph: int = Field(300, description="Nr of particles per micrograph")
    nr_epochs: int = Field(10, description="Training epochs")
    seed: int = Field(1, description="Random seed")
    threads: int = Field(1, ge=1, description="Threads")
    device: Device = "auto"


class TopazPickParams(_Params):
    """AutoPick job, Topaz picking of all micrographs with the trained model."""

    particle_diameter_angstrom: float = Field(180.0, description="Particle diameter (Å)")
    threshold: float = Field(-6.0, description="Topaz log-likelihood threshold")
    threads: int = Field(1, ge=1, description="Threads")
    device: Device = "auto"


class PickingParams(_Params):
    """Every job of the particle-picking chapter, with the tutorial's values as defaults."""

    subsets: SubsetParams = SubsetParams()
    log_picking: LoGParams = LoGParams()
    extract: ExtractParams = ExtractParams()
    class2d: Class2DParams = Class2DParams()
    auto_select: AutoSelectParams = AutoSelectParams()
    topaz_train: TopazTrainParams = TopazTrainParams()
    topaz_pick: TopazPickParams = TopazPickParams()
    final_extract: FinalExtractParams = FinalExtractParams()


class ServiceAddresses(_Params):
    """``host:port`` of each service; empty = from ``CRYOPICK_<ROLE>_ADDRESS``."""

    picker: str = ""
    extractor: str = ""
    classifier: str = ""
    ranker: str = ""
    topaz: str = ""
