from cryopick.services.gen import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SelectSubsetsRequest(_message.Message):
    __slots__ = ("target", "micrographs_star", "split_size", "nr_split", "random_order", "seed")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MICROGRAPHS_STAR_FIELD_NUMBER: _ClassVar[int]
    SPLIT_SIZE_FIELD_NUMBER: _ClassVar[int]
    NR_SPLIT_FIELD_NUMBER: _ClassVar[int]
    RANDOM_ORDER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    micrographs_star: str
    split_size: int
    nr_split: int
    random_order: bool
    seed: int
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., micrographs_star: _Optional[str] = ..., split_size: _Optional[int] = ..., nr_split: _Optional[int] = ..., random_order: _Optional[bool] = ..., seed: _Optional[int] = ...) -> None: ...

class SelectNewMicrographsRequest(_message.Message):
    __slots__ = ("target", "micrographs_star", "processed_stars")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MICROGRAPHS_STAR_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_STARS_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    micrographs_star: str
    processed_stars: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., micrographs_star: _Optional[str] = ..., processed_stars: _Optional[_Iterable[str]] = ...) -> None: ...

class PickLoGRequest(_message.Message):
    __slots__ = ("target", "micrographs_star", "diameter_min_angstrom", "diameter_max_angstrom", "particles_white", "max_resolution_angstrom", "threshold_stddev", "upper_threshold_stddev", "pixel_size_angstrom", "neighbour_percent", "max_search", "skip_side_px", "seed", "threads", "skip_failed_micrographs")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MICROGRAPHS_STAR_FIELD_NUMBER: _ClassVar[int]
    DIAMETER_MIN_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    DIAMETER_MAX_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    PARTICLES_WHITE_FIELD_NUMBER: _ClassVar[int]
    MAX_RESOLUTION_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_STDDEV_FIELD_NUMBER: _ClassVar[int]
    UPPER_THRESHOLD_STDDEV_FIELD_NUMBER: _ClassVar[int]
    PIXEL_SIZE_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    NEIGHBOUR_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MAX_SEARCH_FIELD_NUMBER: _ClassVar[int]
    SKIP_SIDE_PX_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    SKIP_FAILED_MICROGRAPHS_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    micrographs_star: str
    diameter_min_angstrom: float
    diameter_max_angstrom: float
    particles_white: bool
    max_resolution_angstrom: float
    threshold_stddev: float
    upper_threshold_stddev: float
    pixel_size_angstrom: float
    neighbour_percent: float
    max_search: float
    skip_side_px: int
    seed: int
    threads: int
    skip_failed_micrographs: bool
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., micrographs_star: _Optional[str] = ..., diameter_min_angstrom: _Optional[float] = ..., diameter_max_angstrom: _Optional[float] = ..., particles_white: _Optional[bool] = ..., max_resolution_angstrom: _Optional[float] = ..., threshold_stddev: _Optional[float] = ..., upper_threshold_stddev: _Optional[float] = ..., pixel_size_angstrom: _Optional[float] = ..., neighbour_percent: _Optional[float] = ..., max_search: _Optional[float] = ..., skip_side_px: _Optional[int] = ..., seed: _Optional[int] = ..., threads: _Optional[int] = ..., skip_failed_micrographs: _Optional[bool] = ...) -> None: ...
