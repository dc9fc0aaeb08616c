from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobTarget(_message.Message):
    __slots__ = ("project", "job_dir")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    JOB_DIR_FIELD_NUMBER: _ClassVar[int]
    project: str
    job_dir: str
    def __init__(self, project: _Optional[str] = ..., job_dir: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("fraction", "item", "log_line")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    LOG_LINE_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    item: str
    log_line: str
    def __init__(self, fraction: _Optional[float] = ..., item: _Optional[str] = ..., log_line: _Optional[str] = ...) -> None: ...

class OutputNode(_message.Message):
    __slots__ = ("path", "type_label")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_LABEL_FIELD_NUMBER: _ClassVar[int]
    path: str
    type_label: str
    def __init__(self, path: _Optional[str] = ..., type_label: _Optional[str] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("job_dir", "output_nodes", "counts", "summary", "failures", "figures")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class SummaryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class FailuresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOB_DIR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_NODES_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    job_dir: str
    output_nodes: _containers.RepeatedCompositeFieldContainer[OutputNode]
    counts: _containers.ScalarMap[str, int]
    summary: _containers.ScalarMap[str, float]
    failures: _containers.ScalarMap[str, str]
    figures: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_dir: _Optional[str] = ..., output_nodes: _Optional[_Iterable[_Union[OutputNode, _Mapping]]] = ..., counts: _Optional[_Mapping[str, int]] = ..., summary: _Optional[_Mapping[str, float]] = ..., failures: _Optional[_Mapping[str, str]] = ..., figures: _Optional[_Iterable[str]] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    result: Result
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., result: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("role", "package_version", "stage_code_versions")
    class StageCodeVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGE_CODE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    role: str
    package_version: str
    stage_code_versions: _containers.ScalarMap[str, str]
    def __init__(self, role: _Optional[str] = ..., package_version: _Optional[str] = ..., stage_code_versions: _Optional[_Mapping[str, str]] = ...) -> None: ...
