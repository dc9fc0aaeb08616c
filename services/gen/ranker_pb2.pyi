from cryopick.services.gen import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RankClassesRequest(_message.Message):
    __slots__ = ("target", "optimiser_star", "min_score", "max_score", "select_min_nr_particles", "select_min_nr_classes", "lowpass_angstrom", "radius_ratio", "device", "model_path")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OPTIMISER_STAR_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_SCORE_FIELD_NUMBER: _ClassVar[int]
    SELECT_MIN_NR_PARTICLES_FIELD_NUMBER: _ClassVar[int]
    SELECT_MIN_NR_CLASSES_FIELD_NUMBER: _ClassVar[int]
    LOWPASS_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    RADIUS_RATIO_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    optimiser_star: str
    min_score: float
    max_score: float
    select_min_nr_particles: int
    select_min_nr_classes: int
    lowpass_angstrom: float
    radius_ratio: float
    device: str
    model_path: str
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., optimiser_star: _Optional[str] = ..., min_score: _Optional[float] = ..., max_score: _Optional[float] = ..., select_min_nr_particles: _Optional[int] = ..., select_min_nr_classes: _Optional[int] = ..., lowpass_angstrom: _Optional[float] = ..., radius_ratio: _Optional[float] = ..., device: _Optional[str] = ..., model_path: _Optional[str] = ...) -> None: ...
