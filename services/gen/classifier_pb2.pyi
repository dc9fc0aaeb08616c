from cryopick.services.gen import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Classify2DRequest(_message.Message):
    __slots__ = ("target", "particles_star", "continue_optimiser_star", "nr_classes", "tau2_fudge", "nr_iter", "mask_diameter_angstrom", "zero_mask", "highres_limit_angstrom", "center_classes", "ctf", "ctf_intact_first_peak", "psi_step_degrees", "offset_range_px", "offset_step_px", "allow_coarser_sampling", "seed", "threads", "device")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PARTICLES_STAR_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_OPTIMISER_STAR_FIELD_NUMBER: _ClassVar[int]
    NR_CLASSES_FIELD_NUMBER: _ClassVar[int]
    TAU2_FUDGE_FIELD_NUMBER: _ClassVar[int]
    NR_ITER_FIELD_NUMBER: _ClassVar[int]
    MASK_DIAMETER_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    ZERO_MASK_FIELD_NUMBER: _ClassVar[int]
    HIGHRES_LIMIT_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    CENTER_CLASSES_FIELD_NUMBER: _ClassVar[int]
    CTF_FIELD_NUMBER: _ClassVar[int]
    CTF_INTACT_FIRST_PEAK_FIELD_NUMBER: _ClassVar[int]
    PSI_STEP_DEGREES_FIELD_NUMBER: _ClassVar[int]
    OFFSET_RANGE_PX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_STEP_PX_FIELD_NUMBER: _ClassVar[int]
    ALLOW_COARSER_SAMPLING_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    particles_star: str
    continue_optimiser_star: str
    nr_classes: int
    tau2_fudge: float
    nr_iter: int
    mask_diameter_angstrom: float
    zero_mask: bool
    highres_limit_angstrom: float
    center_classes: bool
    ctf: bool
    ctf_intact_first_peak: bool
    psi_step_degrees: float
    offset_range_px: float
    offset_step_px: float
    allow_coarser_sampling: bool
    seed: int
    threads: int
    device: str
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., particles_star: _Optional[str] = ..., continue_optimiser_star: _Optional[str] = ..., nr_classes: _Optional[int] = ..., tau2_fudge: _Optional[float] = ..., nr_iter: _Optional[int] = ..., mask_diameter_angstrom: _Optional[float] = ..., zero_mask: _Optional[bool] = ..., highres_limit_angstrom: _Optional[float] = ..., center_classes: _Optional[bool] = ..., ctf: _Optional[bool] = ..., ctf_intact_first_peak: _Optional[bool] = ..., psi_step_degrees: _Optional[float] = ..., offset_range_px: _Optional[float] = ..., offset_step_px: _Optional[float] = ..., allow_coarser_sampling: _Optional[bool] = ..., seed: _Optional[int] = ..., threads: _Optional[int] = ..., device: _Optional[str] = ...) -> None: ...
