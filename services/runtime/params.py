"""Turn a request message into a stage ``Params`` object.

The request fields mirror the ``Params`` fields one for one (same names; a test walks the
stage registry to keep them so). A scalar field declared ``optional`` in the proto and left
unset means "use the Params default"; an empty string or empty repeated field likewise.
Checking the values, and the input files they name, is the stage's job
(:mod:`cryopick.stages.base`): it refuses bad ones with a message naming the file, and records
the job as failed.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from cryopick.errors import BadInputError
from cryopick.stages.fields import coerce, fields_of

NON_PARAM_FIELDS = frozenset({"target"})


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


def build_params(request: Message, params_cls: type) -> Any:
    """A ``params_cls`` instance from ``request``.

    Raises
    ------
    BadInputError
        A set field is unknown to ``params_cls`` or a required field is missing.
    """
    known = {f.name: f for f in fields_of(params_cls)}
    kwargs: dict[str, Any] = {}
    for name, value in request_values(request).items():
        if name not in known:
            raise BadInputError(
                f"{type(request).__name__}.{name} is not supported by this build's "
                f"{params_cls.__module__}.Params; leave it unset"
            )
        kwargs[name] = coerce(params_cls, name, value)
    missing = [n for n, f in known.items() if f.required and n not in kwargs]
    if missing:
        raise BadInputError(f"{type(request).__name__}: required field(s) not set: {', '.join(missing)}")
    return params_cls(**kwargs)
