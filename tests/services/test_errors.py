"""Exception -> status code mapping."""

from __future__ import annotations

import grpc
import pytest

from cryopick.errors import BadInputError, DependencyError, MissingFileError, PartialFailure, ResourceError
from cryopick.services.runtime.errors import Unimplemented, status_for
from cryopick.stages.base import Cancelled


@pytest.mark.parametrize("exc,code", [
    (BadInputError("mic.mrc: mode 7"), grpc.StatusCode.INVALID_ARGUMENT),
    (MissingFileError("a.star does not exist"), grpc.StatusCode.NOT_FOUND),
    (DependencyError("topaz model missing"), grpc.StatusCode.FAILED_PRECONDITION),
    (ResourceError("need 30 GB"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (MemoryError(), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Cancelled("job cancelled by the caller"), grpc.StatusCode.CANCELLED),
    (Unimplemented("x is not implemented yet"), grpc.StatusCode.UNIMPLEMENTED),
    (ZeroDivisionError("division by zero"), grpc.StatusCode.INTERNAL),
    (KeyError("rlnFoo"), grpc.StatusCode.INTERNAL),
])
def test_status_for(exc, code, caplog):
    got, message = status_for(exc)
    assert got == code
    assert message  # never empty
    if code == grpc.StatusCode.INTERNAL:
        assert "Traceback" in caplog.text or caplog.records[-1].exc_info is not None
    else:
        assert str(exc) in message or isinstance(exc, MemoryError)


def test_partial_failure_lists_items():
    code, message = status_for(PartialFailure("2 of 3 micrographs failed", {"a.mrc": "truncated", "b.mrc": "NaN"}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "a.mrc: truncated" in message and "b.mrc: NaN" in message
