"""The project a request names, inside the service's ``--project-root``.

``JobTarget.project`` is relative to the service root; everything inside the project follows
the library's path rules (:class:`cryopick.io.paths.ProjectPaths`): request paths and
names inside STAR files stay in the project, outputs stay in their job directory. A
project that resolves outside the service root raises
:class:`~cryopick.errors.BadInputError` (INVALID_ARGUMENT).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.paths import ProjectPaths, _clean, _inside


class ProjectDir(ProjectPaths):
    """A project directory inside the service root (see :class:`ProjectPaths` for the path rules).

    Attributes
    ----------
    path : pathlib.Path
        The project directory as configured (not symlink-resolved).
    real : pathlib.Path
        Its symlink-free location.
    """

    @property
    def path(self) -> Path:
        return self.root

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
        return cls(candidate)
