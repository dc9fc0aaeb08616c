from cryopick.services.gen import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExtractRequest(_message.Message):
    __slots__ = ("target", "micrographs_star", "coords_star", "reextract_data_star", "box_size_px", "invert_contrast", "normalise", "bg_diameter_px", "white_dust_sigma", "black_dust_sigma", "rescale_px", "float16", "min_fom", "recenter", "recenter_x_px", "recenter_y_px", "recenter_z_px", "reset_offsets", "seed", "threads", "skip_failed_micrographs")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MICROGRAPHS_STAR_FIELD_NUMBER: _ClassVar[int]
    COORDS_STAR_FIELD_NUMBER: _ClassVar[int]
    REEXTRACT_DATA_STAR_FIELD_NUMBER: _ClassVar[int]
    BOX_SIZE_PX_FIELD_NUMBER: _ClassVar[int]
    INVERT_CONTRAST_FIELD_NUMBER: _ClassVar[int]
    NORMALISE_FIELD_NUMBER: _ClassVar[int]
    BG_DIAMETER_PX_FIELD_NUMBER: _ClassVar[int]
    WHITE_DUST_SIGMA_FIELD_NUMBER: _ClassVar[int]
    BLACK_DUST_SIGMA_FIELD_NUMBER: _ClassVar[int]
    RESCALE_PX_FIELD_NUMBER: _ClassVar[int]
    FLOAT16_FIELD_NUMBER: _ClassVar[int]
    MIN_FOM_FIELD_NUMBER: _ClassVar[int]
    RECENTER_FIELD_NUMBER: _ClassVar[int]
    RECENTER_X_PX_FIELD_NUMBER: _ClassVar[int]
    RECENTER_Y_PX_FIELD_NUMBER: _ClassVar[int]
    RECENTER_Z_PX_FIELD_NUMBER: _ClassVar[int]
    RESET_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    SKIP_FAILED_MICROGRAPHS_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    micrographs_star: str
    coords_star: str
    reextract_data_star: str
    box_size_px: int
    invert_contrast: bool
    normalise: bool
    bg_diameter_px: float
    white_dust_sigma: float
    black_dust_sigma: float
    rescale_px: int
    float16: bool
    min_fom: float
    recenter: bool
    recenter_x_px: float
    recenter_y_px: float
    recenter_z_px: float
    reset_offsets: bool
    seed: int
    threads: int
    skip_failed_micrographs: bool
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., micrographs_star: _Optional[str] = ..., coords_star: _Optional[str] = ..., reextract_data_star: _Optional[str] = ..., box_size_px: _Optional[int] = ..., invert_contrast: _Optional[bool] = ..., normalise: _Optional[bool] = ..., bg_diameter_px: _Optional[float] = ..., white_dust_sigma: _Optional[float] = ..., black_dust_sigma: _Optional[float] = ..., rescale_px: _Optional[int] = ..., float16: _Optional[bool] = ..., min_fom: _Optional[float] = ..., recenter: _Optional[bool] = ..., recenter_x_px: _Optional[float] = ..., recenter_y_px: _Optional[float] = ..., recenter_z_px: _Optional[float] = ..., reset_offsets: _Optional[bool] = ..., seed: _Optional[int] = ..., threads: _Optional[int] = ..., skip_failed_micrographs: _Optional[bool] = ...) -> None: ...
