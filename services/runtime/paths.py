"""Resolve request paths and refuse anything that leaves the project directory.

Every path in a request is relative to the project directory (``--project-root`` joined with
``JobTarget.project``). A path that resolves outside it — ``../``, an absolute path elsewhere,
or a symlink pointing out — raises :class:`~cryopick.errors.BadInputError` (INVALID_ARGUMENT).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryopick.errors import BadInputError, MissingFileError

_JOB_DIR = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/job\d{3,}$")


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _clean(rel: str, what: str) -> str:
    if not isinstance(rel, str) or not rel.strip():
        raise BadInputError(f"{what}: empty path")
    if "\x00" in rel:
        raise BadInputError(f"{what} {rel!r}: path contains a NUL character")
    return rel.strip()


@dataclass(frozen=True)
class ProjectDir:
    """A project directory whose real location is known.

    Attributes
    ----------
    path : pathlib.Path
        The project directory as configured (not symlink-resolved).
    real : pathlib.Path
        Its symlink-free location; every request path must resolve inside it.
    """

    path: Path
    real: Path

    @classmethod
    def open(cls, service_root: str | os.PathLike, project: str = "") -> "ProjectDir":
        """The project ``project`` (relative to ``service_root``; "" = the root itself).

        Raises
        ------
        BadInputError
            ``project`` leaves the service root.
        MissingFileError
            The project directory does not exist.
        """
        root = Path(os.path.abspath(service_root))
        root_real = Path(os.path.realpath(root))
        if project:
            rel = _clean(project, "project")
            candidate = Path(os.path.normpath(root / rel))
            real = Path(os.path.realpath(candidate))
            if not _inside(real, root_real) or not _inside(candidate, root):
                raise BadInputError(f"project {project!r} resolves to {real}, outside the service root {root_real}")
        else:
            candidate, real = root, root_real
        if not real.is_dir():
            raise MissingFileError(f"project directory {candidate} does not exist")
        return cls(candidate, real)

    def relative(self, rel: str, what: str = "path") -> str:
        """Check ``rel`` stays inside the project and return it as a clean project-relative path.

        Absolute paths inside the project are made relative.
        """
        rel = _clean(rel, what)
        given = Path(rel)
        lexical = Path(os.path.normpath(given if given.is_absolute() else self.path / given))
        real = Path(os.path.realpath(lexical))
        if not _inside(real, self.real):
            raise BadInputError(f"{what} {rel!r} resolves to {real}, outside the project directory {self.real}")
        if _inside(lexical, self.path):
            out = os.path.relpath(lexical, self.path)
        elif _inside(lexical, self.real):
            out = os.path.relpath(lexical, self.real)
        else:  # lexically elsewhere but really inside (e.g. via a symlinked root): use the real location
            out = os.path.relpath(real, self.real)
        if out == "." or out.startswith(".."):
            raise BadInputError(f"{what} {rel!r} is not a file inside the project directory {self.real}")
        return PurePosixPath(Path(out)).as_posix()

    def input_file(self, rel: str, what: str = "input file") -> str:
        """Like :meth:`relative`, and the file must exist (else MissingFileError)."""
        out = self.relative(rel, what)
        if not (self.path / out).exists():
            raise MissingFileError(f"{what} {rel!r} does not exist in the project directory {self.path}")
        return out

    def job_dir(self, rel: str) -> str:
        """Validate an output job directory: ``Type/jobNNN/`` inside the project; returns it with a trailing slash."""
        cleaned = _clean(rel, "job_dir")
        norm = os.path.normpath(cleaned) if not Path(cleaned).is_absolute() else cleaned
        if not _JOB_DIR.match(norm):
            raise BadInputError(f"job_dir {rel!r} is not a RELION job directory 'Type/jobNNN/' relative to the project")
        self.relative(norm, "job_dir")  # refuses a job dir (or its type dir) that is a symlink out
        return norm + "/"

    def absolute(self, rel: str) -> Path:
        """The absolute path of a project-relative path."""
        return self.path / rel
