"""RELION job directories: naming, note.txt, run.out/run.err, job.star and exit markers."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.atomic import disk_errors, is_temporary, remove_temporaries
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import list_table, write_star

SUCCESS = "RELION_JOB_EXIT_SUCCESS"
FAILURE = "RELION_JOB_EXIT_FAILURE"
ABORTED = "RELION_JOB_EXIT_ABORTED"
MARKERS = (SUCCESS, FAILURE, ABORTED)
_JOB_COMPONENT = re.compile(r"^job\d{3,}$")


def post_path(name: str) -> str:
    """RELION's pipeline decomposition: the part of ``name`` after its ``jobNNN/`` component.

    ``MotionCorr/job002/Movies/a.mrc`` -> ``Movies/a.mrc``; a path without a
    ``jobNNN`` component is returned whole.
    """
    parts = Path(name).parts
    for k, comp in enumerate(parts[:-1]):
        if _JOB_COMPONENT.match(comp):
            return str(Path(*parts[k + 1 :]))
    return str(Path(name))


def checked_post_path(name: str) -> str:
    """:func:`post_path` of ``name``, refusing one that climbs out (``Movies/../../x.mrc``).

    Per-micrograph outputs are written at the post path inside the job directory, so this
    check, made while reading the inputs, keeps every derived output name inside it.

    Raises
    ------
    BadInputError
        The post path leaves the directory it is joined to.
    """
    post = post_path(name)
    norm = os.path.normpath(post)
    if os.path.isabs(norm) or norm == ".." or norm.startswith("../"):
        raise BadInputError(f"micrograph {name!r}: its outputs would be written at {post}, outside the job directory")
    return post


def per_micrograph_output(job_rel: str, micrograph_name: str, suffix: str) -> str:
    """``<job dir><post(mic) without extension><suffix>``, e.g. ``AutoPick/job006/Movies/a_autopick.star``."""
    post = post_path(micrograph_name)
    stem = str(Path(post).with_suffix(""))
    return f"{job_rel.rstrip('/')}/{stem}{suffix}"


def job_number(job_rel: str) -> int:
    """The NNN of ``Type/jobNNN/``."""
    m = re.search(r"job(\d+)", job_rel)
    if not m:
        raise ValueError(f"{job_rel!r} is not a RELION job directory (Type/jobNNN/)")
    return int(m.group(1))


def existing_job_numbers(project_root: str | os.PathLike) -> list[int]:
    """Numbers of every ``<Type>/jobNNN`` directory under the project root."""
    root = Path(project_root)
    nums = []
    if root.is_dir():
        for type_dir in root.iterdir():
            if type_dir.is_dir() and not type_dir.name.startswith("."):
                for job in type_dir.iterdir():
                    if job.is_dir() and _JOB_COMPONENT.match(job.name):
                        nums.append(int(job.name[3:]))
    return sorted(nums)


#: Files of a job directory that record the job rather than its results.
BOOKKEEPING = frozenset({"job.star", "note.txt", "run.out", "run.err", "job_pipeline.star", "default_pipeline.star",
                         "RELION_OUTPUT_NODES.star", *MARKERS})


class JobDir:
    """A RELION job directory inside a project; every file it hands out lies inside it.

    Parameters
    ----------
    project_root : path-like or ProjectPaths
    rel : str
        Project-relative name, e.g. ``AutoPick/job006/`` (a trailing slash is added).

    Attributes
    ----------
    project : ProjectPaths
    rel : str
        ``Type/jobNNN/`` with a trailing slash.
    """

    def __init__(self, project_root: "str | os.PathLike | ProjectPaths", rel: str):
        self.project = project_root if isinstance(project_root, ProjectPaths) else ProjectPaths(project_root)
        self.rel = rel.rstrip("/") + "/"

    @property
    def project_root(self) -> Path:
        return self.project.root

    @property
    def path(self) -> Path:
        return self.project.root / self.rel

    def file(self, name: str) -> Path:
        """Path of ``name`` inside the job directory (not checked; for reading and markers)."""
        return self.path / name

    def output(self, name: str) -> Path:
        """Checked path of output ``name`` (relative to the job directory), parents created.

        Raises
        ------
        BadInputError
            ``name`` would leave the job directory (``..`` or a symlink pointing out).
        """
        return self.project.output(self.rel, name)

    def item_output(self, micrograph_name: str, suffix: str) -> tuple[str, Path]:
        """RELION's per-micrograph output ``<job><post(mic) without ext><suffix>``, checked.

        Returns
        -------
        rel : str
            Project-relative name, as written into STAR files.
        path : pathlib.Path
            Where to write it.
        """
        rel = per_micrograph_output(self.rel, micrograph_name, suffix)
        return rel, self.output(rel[len(self.rel):])

    def status(self) -> str | None:
        """``"success"``, ``"failure"``, ``"aborted"`` or None (running / never run)."""
        for marker, label in ((SUCCESS, "success"), (FAILURE, "failure"), (ABORTED, "aborted")):
            if self.file(marker).exists():
                return label
        return None

    def results(self) -> list[str]:
        """Names in the job directory other than its bookkeeping files (what a run produced)."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir()
                      if p.name not in BOOKKEEPING and not p.name.startswith(".cryopick") and not is_temporary(p.name))

    def remove_temporaries(self) -> list[Path]:
        """Delete temporary files a killed run left behind (:func:`cryopick.io.atomic.remove_temporaries`).

        Called when the job starts (again): a job directory has one writer, its running job.
        """
        return remove_temporaries(self.path) if self.path.is_dir() else []

    def clear_markers(self) -> None:
        for marker in MARKERS:
            with contextlib.suppress(FileNotFoundError):
                self.file(marker).unlink()

    def begin(self, command: str, type_label: str, options: Mapping[str, object], is_continue: bool = False) -> None:
        """Start (or restart) the job: clear stale markers, append note.txt, write job.star."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.clear_markers()
        note = self.output("note.txt")
        with disk_errors(note), open(note, "a") as fh:
            fh.write(f"\n ++++ Executing new job on {time.ctime()}\n")
            fh.write(" ++++ with the following command(s): \n")
            fh.write(f"{command}\n ++++ \n")
        for name in ("run.out", "run.err"):
            with disk_errors(self.file(name)):
                self.output(name).touch()
        write_star(
            self.output("job.star"),
            {
                "job": list_table({"rlnJobTypeLabel": type_label, "rlnJobIsContinue": int(is_continue), "rlnJobIsTomo": 0}),
                "joboptions_values": {
                    "rlnJobOptionVariable": np.array(list(options.keys()), dtype=object),
                    "rlnJobOptionValue": np.array([_option_text(v) for v in options.values()], dtype=object),
                },
            },
        )

    def log(self, line: str) -> None:
        """Append a line to run.out."""
        self._append("run.out", line)

    def log_error(self, line: str) -> None:
        """Append a line to run.err."""
        self._append("run.err", line)

    def _append(self, name: str, line: str) -> None:
        path = self.output(name)
        with disk_errors(path), open(path, "a") as fh:
            fh.write(line.rstrip("\n") + "\n")

    def mark(self, marker: str) -> None:
        """Touch one exit marker (SUCCESS, FAILURE or ABORTED), removing the others."""
        self.clear_markers()
        with disk_errors(self.file(marker)):
            self.output(marker).touch()


def _option_text(value: object) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)
