"""Project paths: every input resolves inside the project, every output inside its job directory.

RELION names files relative to the project directory, in requests and inside STAR files.
:class:`ProjectPaths` is the one place that turns such a name into a file on disk, and it
refuses anything that leaves the project:

* an input path (a request field or a name inside a STAR file) must resolve inside the
  project, lexically (no ``../`` out, no absolute path elsewhere) and really (no symlink
  pointing out);
* the one exception, asked for explicitly with ``linked_ok=True``: micrographs reached
  through a symlink inside the project (RELION projects often link ``Movies/`` to storage
  elsewhere). They may be read; they are never written;
* a job directory is ``<Type>/jobNNN/`` inside the project;
* every output lies inside its job directory, lexically and really: a ``Movies`` folder in a
  job directory that is a symlink pointing out of it is refused before anything is written.

Violations raise :class:`~cryopick.errors.BadInputError` naming the path and the rule.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from cryopick.errors import BadInputError, MissingFileError

_JOB_DIR = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)/job\d{3,}$")


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _clean(rel: object, what: str) -> str:
    if not isinstance(rel, str) or not rel.strip():
        raise BadInputError(f"{what}: empty path")
    if "\x00" in rel:
        raise BadInputError(f"{what} {rel!r}: path contains a NUL character")
    return rel.strip()


def _existing_ancestor(path: Path) -> Path:
    """``path`` itself if it exists (or is a dangling link), else its nearest existing parent."""
    while not (path.exists() or path.is_symlink()):
        path = path.parent
    return path


class ProjectPaths:
    """Path rules of one project directory.

    Parameters
    ----------
    root : path-like
        The project directory (kept as given, made absolute; symlinks are not resolved,
        so names stay readable in messages).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(os.path.abspath(root))
        self.real = Path(os.path.realpath(self.root))

    # ------------------------------------------------------------------ inputs
    def _lexical(self, rel: str) -> Path:
        given = Path(rel)
        return Path(os.path.normpath(given if given.is_absolute() else self.root / given))

    def names_inside(self, rel: str) -> bool:
        """``rel`` (project-relative or absolute) lies lexically inside the project, symlinks not followed."""
        lexical = self._lexical(rel)
        return _inside(lexical, self.root) or _inside(lexical, self.real)

    def relative(self, rel: str, what: str = "path") -> str:
        """``rel`` as a clean project-relative POSIX path, refusing anything outside the project.

        Absolute paths inside the project are made relative. A symlink pointing out of the
        project is refused (use :meth:`read_path` with ``linked_ok`` for linked-in micrographs).
        """
        rel = _clean(rel, what)
        lexical = self._lexical(rel)
        real = Path(os.path.realpath(lexical))
        if not _inside(real, self.real):
            raise BadInputError(f"{what} {rel!r} resolves to {real}, outside the project directory {self.real}")
        if _inside(lexical, self.root):
            out = os.path.relpath(lexical, self.root)
        elif _inside(lexical, self.real):
            out = os.path.relpath(lexical, self.real)
        else:  # lexically elsewhere but really inside (e.g. through a symlinked root)
            out = os.path.relpath(real, self.real)
        if out == "." or out.startswith(".."):
            raise BadInputError(f"{what} {rel!r} is not a file inside the project directory {self.real}")
        return PurePosixPath(Path(out)).as_posix()

    def input_file(self, rel: str, what: str = "input file") -> str:
        """Like :meth:`relative`, and the file must exist (else :class:`MissingFileError`)."""
        out = self.relative(rel, what)
        if not (self.root / out).exists():
            raise MissingFileError(f"{what} {rel!r} does not exist in the project directory {self.root}")
        return out

    def read_path(self, name: str, what: str = "file", linked_ok: bool = False) -> Path:
        """The absolute path of a project-relative name read from a STAR file or a request.

        Parameters
        ----------
        name : str
            As written in the file, e.g. ``MotionCorr/job002/Movies/a.mrc``.
        what : str
            What it is, for messages ("micrograph", "coordinate file", ...).
        linked_ok : bool
            Allow a name that is lexically inside the project but reaches storage elsewhere
            through a symlink inside the project (linked-in micrographs, read only).

        Raises
        ------
        BadInputError
            The name leaves the project.
        """
        name = _clean(name, what)
        lexical = self._lexical(name)
        if not (_inside(lexical, self.root) or _inside(lexical, self.real)) or lexical in (self.root, self.real):
            raise BadInputError(f"{what} {name!r} lies outside the project directory {self.root}")
        if not linked_ok:
            real = Path(os.path.realpath(lexical))
            if not _inside(real, self.real):
                raise BadInputError(
                    f"{what} {name!r} resolves to {real} through a symlink, outside the project directory {self.real}"
                )
        return lexical

    # ------------------------------------------------------------------ outputs
    def job_dir(self, rel: str, job_type: str | None = None) -> str:
        """Validate an output job directory ``<Type>/jobNNN/``; returns it with a trailing slash.

        Parameters
        ----------
        rel : str
            E.g. ``AutoPick/job006/`` (relative to the project).
        job_type : str, optional
            The RELION job type the directory must belong to (``AutoPick``, ``Extract``...).
        """
        cleaned = _clean(rel, "job directory")
        if not self.names_inside(cleaned):
            raise BadInputError(f"job directory {rel!r} lies outside the project directory {self.root}; "
                                f"outputs are written only inside the project")
        norm = os.path.normpath(cleaned) if not Path(cleaned).is_absolute() else cleaned
        m = _JOB_DIR.match(norm)
        if not m:
            raise BadInputError(
                f"job directory {rel!r} is not a RELION job directory '<Type>/jobNNN/' relative to the project"
            )
        if job_type is not None and m.group(1) != job_type:
            raise BadInputError(f"job directory {rel!r}: this job writes {job_type}/jobNNN/ directories, not {m.group(1)}/")
        where = _existing_ancestor(self.root / norm)
        real = Path(os.path.realpath(where))
        if not _inside(real, self.real):
            raise BadInputError(f"job directory {rel!r}: {where} resolves to {real}, outside the project directory {self.real}")
        return norm + "/"

    def check_job_tree(self, job_rel: str) -> None:
        """Refuse a job directory holding a symlink that points out of it (before anything is written)."""
        job_path = self.root / job_rel
        if not job_path.is_dir():
            return
        job_real = Path(os.path.realpath(job_path))
        for dirpath, dirnames, filenames in os.walk(job_path):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                if path.is_symlink() and not _inside(Path(os.path.realpath(path)), job_real):
                    raise BadInputError(
                        f"{path.relative_to(self.root)} is a symlink to {os.path.realpath(path)}, outside the job "
                        f"directory {job_rel}; outputs are never written through it"
                    )

    def output(self, job_rel: str, rel: str) -> Path:
        """The absolute path of output ``rel`` of job ``job_rel``, its parent directories created.

        Refuses (before creating anything) a path that leaves the job directory lexically or
        through a symlink, and an existing output that is itself a symlink.
        """
        job_path = Path(os.path.normpath(self.root / job_rel))
        target = Path(os.path.normpath(job_path / rel))
        if not _inside(target, job_path) or target == job_path:
            raise BadInputError(f"output {rel!r} of {job_rel} would lie outside its job directory")
        job_real = Path(os.path.realpath(job_path))
        where = _existing_ancestor(target.parent)
        bound = job_real if _inside(where, job_path) else self.real  # a job directory not made yet: its parent
        if not _inside(Path(os.path.realpath(where)), bound):
            raise BadInputError(
                f"output {rel!r} of {job_rel}: {where} resolves to {os.path.realpath(where)}, outside the job directory"
            )
        if target.is_symlink():
            raise BadInputError(f"output {rel!r} of {job_rel} is a symlink; refusing to write through it")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
