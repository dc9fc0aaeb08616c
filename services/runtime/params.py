"""Turn a request message into a stage ``Params`` object.

The request fields mirror the ``Params`` dataclass field for field (same names). A scalar field
declared ``optional`` in the proto and left unset means "use the Params default"; an empty
string or empty repeated field likewise. Fields whose name ends in ``_star`` or ``_path`` are
project-relative input files: they must stay inside the project (INVALID_ARGUMENT) and exist
(NOT_FOUND).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from google.protobuf.message import Message

from cryopick.errors import BadInputError
from cryopick.services.runtime.paths import ProjectDir

NON_PARAM_FIELDS = frozenset({"target"})
PATH_SUFFIXES = ("_star", "_path")


def is_path_field(name: str) -> bool:
    """Whether a request field names an input file."""
    return name.endswith(PATH_SUFFIXES)


def request_values(request: Message) -> dict[str, Any]:
    """The parameter fields the caller set, as Python values (unset/empty fields left out)."""
    values: dict[str, Any] = {}
    for fd in request.DESCRIPTOR.fields:
        if fd.name in NON_PARAM_FIELDS:
            continue
        value = getattr(request, fd.name)
        if fd.is_repeated:
            if len(value):
                values[fd.name] = tuple(value)
        elif fd.has_presence:
            if request.HasField(fd.name):
                values[fd.name] = value
        elif value != fd.default_value:
            values[fd.name] = value
    return values


def build_params(request: Message, params_cls: type, project: ProjectDir) -> Any:
    """A ``params_cls`` instance from ``request``, with input paths checked.

    Raises
    ------
    BadInputError
        A path leaves the project, a set field is unknown to ``params_cls``, a required field is
        missing, or ``params_cls.validate()`` refuses the values.
    MissingFileError
        An input file does not exist.
    """
    known = {f.name: f for f in dataclasses.fields(params_cls)}
    kwargs: dict[str, Any] = {}
    for name, value in request_values(request).items():
        if name not in known:
            raise BadInputError(
                f"{type(request).__name__}.{name} is not supported by this build's "
                f"{params_cls.__module__}.Params; leave it unset"
            )
        if is_path_field(name):
            value = project.input_file(value, name)
        kwargs[name] = value
    missing = [
        n for n, f in known.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise BadInputError(f"{type(request).__name__}: required field(s) not set: {', '.join(missing)}")
    try:
        params = params_cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(f"{type(request).__name__}: {exc}") from exc
    validate = getattr(params, "validate", None)
    if callable(validate):
        validate()
    return params
