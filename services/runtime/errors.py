"""Map exceptions raised by stages to gRPC status codes (ARCHITECTURE.md, "Errors")."""

from __future__ import annotations

import logging

import grpc

from cryopick.errors import BadInputError, Cancelled, DependencyError, PartialFailure

log = logging.getLogger(__name__)


class Unimplemented(Exception):
    """A capability this build does not have yet (-> UNIMPLEMENTED)."""


# Order matters: the first matching class wins (ResourceError is a MemoryError,
# MissingFileError is a FileNotFoundError, BadInputError is a ValueError).
_MAPPING: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (BadInputError, grpc.StatusCode.INVALID_ARGUMENT),
    (FileNotFoundError, grpc.StatusCode.NOT_FOUND),
    (DependencyError, grpc.StatusCode.FAILED_PRECONDITION),
    (MemoryError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (Unimplemented, grpc.StatusCode.UNIMPLEMENTED),
)


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message for ``exc``.

    BadInputError -> INVALID_ARGUMENT, MissingFileError (any FileNotFoundError) -> NOT_FOUND,
    DependencyError -> FAILED_PRECONDITION, ResourceError / MemoryError -> RESOURCE_EXHAUSTED,
    Cancelled -> CANCELLED, Unimplemented -> UNIMPLEMENTED; PartialFailure is a BadInputError
    (INVALID_ARGUMENT) whose message lists the failed items, anything else -> INTERNAL (the traceback is logged here).
    """
    for cls, code in _MAPPING:
        if isinstance(exc, cls):
            message = str(exc) or type(exc).__name__
            if isinstance(exc, PartialFailure) and exc.failures:
                items = "; ".join(f"{k}: {v}" for k, v in list(exc.failures.items())[:10])
                more = len(exc.failures) - 10
                message += f" ({items}{f'; and {more} more' if more > 0 else ''})"
            if isinstance(exc, MemoryError) and not str(exc):
                message = "out of memory"
            return code, message
    log.error("internal error", exc_info=(type(exc), exc, exc.__traceback__))
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"
