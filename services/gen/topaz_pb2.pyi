from cryopick.services.gen import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainRequest(_message.Message):
    __slots__ = ("target", "micrographs_star", "particle_diameter_angstrom", "particles_star", "coords_star", "nr_particles_per_micrograph", "test_ratio", "nr_epochs", "epoch_size", "minibatch_size", "learning_rate", "downscale", "radius_px", "seed", "normalisation", "start_model", "compare_pretrained", "threads", "device")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MICROGRAPHS_STAR_FIELD_NUMBER: _ClassVar[int]
    PARTICLE_DIAMETER_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    PARTICLES_STAR_FIELD_NUMBER: _ClassVar[int]
    COORDS_STAR_FIELD_NUMBER: _ClassVar[int]
    NR_PARTICLES_PER_MICROGRAPH_FIELD_NUMBER: _ClassVar[int]
    TEST_RATIO_FIELD_NUMBER: _ClassVar[int]
    NR_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MINIBATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    DOWNSCALE_FIELD_NUMBER: _ClassVar[int]
    RADIUS_PX_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NORMALISATION_FIELD_NUMBER: _ClassVar[int]
    START_MODEL_FIELD_NUMBER: _ClassVar[int]
    COMPARE_PRETRAINED_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    micrographs_star: str
    particle_diameter_angstrom: float
    particles_star: str
    coords_star: str
    nr_particles_per_micrograph: int
    test_ratio: float
    nr_epochs: int
    epoch_size: int
    minibatch_size: int
    learning_rate: float
    downscale: int
    radius_px: int
    seed: int
    normalisation: str
    start_model: str
    compare_pretrained: str
    threads: int
    device: str
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., micrographs_star: _Optional[str] = ..., particle_diameter_angstrom: _Optional[float] = ..., particles_star: _Optional[str] = ..., coords_star: _Optional[str] = ..., nr_particles_per_micrograph: _Optional[int] = ..., test_ratio: _Optional[float] = ..., nr_epochs: _Optional[int] = ..., epoch_size: _Optional[int] = ..., minibatch_size: _Optional[int] = ..., learning_rate: _Optional[float] = ..., downscale: _Optional[int] = ..., radius_px: _Optional[int] = ..., seed: _Optional[int] = ..., normalisation: _Optional[str] = ..., start_model: _Optional[str] = ..., compare_pretrained: _Optional[str] = ..., threads: _Optional[int] = ..., device: _Optional[str] = ...) -> None: ...

class PickRequest(_message.Message):
    __slots__ = ("target", "micrographs_star", "particle_diameter_angstrom", "model_path", "threshold", "downscale", "radius_px", "threads", "device", "skip_failed_micrographs", "pretrained_model", "normalisation", "seed", "precision", "nr_particles_per_micrograph")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MICROGRAPHS_STAR_FIELD_NUMBER: _ClassVar[int]
    PARTICLE_DIAMETER_ANGSTROM_FIELD_NUMBER: _ClassVar[int]
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DOWNSCALE_FIELD_NUMBER: _ClassVar[int]
    RADIUS_PX_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SKIP_FAILED_MICROGRAPHS_FIELD_NUMBER: _ClassVar[int]
    PRETRAINED_MODEL_FIELD_NUMBER: _ClassVar[int]
    NORMALISATION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    NR_PARTICLES_PER_MICROGRAPH_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.JobTarget
    micrographs_star: str
    particle_diameter_angstrom: float
    model_path: str
    threshold: float
    downscale: int
    radius_px: int
    threads: int
    device: str
    skip_failed_micrographs: bool
    pretrained_model: str
    normalisation: str
    seed: int
    precision: str
    nr_particles_per_micrograph: int
    def __init__(self, target: _Optional[_Union[_common_pb2.JobTarget, _Mapping]] = ..., micrographs_star: _Optional[str] = ..., particle_diameter_angstrom: _Optional[float] = ..., model_path: _Optional[str] = ..., threshold: _Optional[float] = ..., downscale: _Optional[int] = ..., radius_px: _Optional[int] = ..., threads: _Optional[int] = ..., device: _Optional[str] = ..., skip_failed_micrographs: _Optional[bool] = ..., pretrained_model: _Optional[str] = ..., normalisation: _Optional[str] = ..., seed: _Optional[int] = ..., precision: _Optional[str] = ..., nr_particles_per_micrograph: _Optional[int] = ...) -> None: ...
