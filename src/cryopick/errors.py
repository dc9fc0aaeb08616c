"""Typed exceptions raised by library code.

Services map them to gRPC status codes (see ``services/runtime/errors.py``):
``BadInputError`` -> INVALID_ARGUMENT, ``MissingFileError`` -> NOT_FOUND,
``DependencyError`` -> FAILED_PRECONDITION, ``ResourceError`` (and ``DiskFullError``) -> RESOURCE_EXHAUSTED.
Messages name the file and the problem in words a microscopist understands.
"""

from __future__ import annotations


class CryopickError(Exception):
    """Base class of every error cryopick raises on purpose."""


class BadInputError(CryopickError, ValueError):
    """An input file or parameter is malformed or inconsistent."""


class MissingFileError(CryopickError, FileNotFoundError):
    """A file that an input names does not exist."""


class DependencyError(CryopickError, RuntimeError):
    """A model, executable or optional dependency is not available."""


class ResourceError(CryopickError, MemoryError):
    """Not enough memory (or another resource) to do the job."""


class DiskFullError(ResourceError):
    """A write failed for lack of space (ENOSPC, EDQUOT, EFBIG); the message names the file.

    Not a problem of one micrograph: a job stops at the first one instead of skipping items.
    """


class Cancelled(CryopickError):
    """The caller asked the job to stop (e.g. the gRPC client went away)."""


class PartialFailure(BadInputError):
    """Some items of a job failed while the rest succeeded.

    Parameters
    ----------
    message : str
        Human-readable summary.
    failures : dict[str, str]
        Item name (e.g. micrograph) -> reason it failed.
    """

    def __init__(self, message: str, failures: dict[str, str]):
        super().__init__(message)
        self.failures = dict(failures)
