"""RELION job directories: naming, note.txt, run.out/run.err, job.star and exit markers."""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from cryopick.errors import Cancelled
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


@dataclass
class JobDir:
    """A RELION job directory inside a project.

    Attributes
    ----------
    project_root : pathlib.Path
    rel : str
        Project-relative name with trailing slash, e.g. ``AutoPick/job006/``.
    """

    project_root: Path
    rel: str

    def __post_init__(self) -> None:
        self.project_root = Path(self.project_root)
        self.rel = self.rel.rstrip("/") + "/"

    @property
    def path(self) -> Path:
        return self.project_root / self.rel

    def file(self, name: str) -> Path:
        return self.path / name

    def status(self) -> str | None:
        """``"success"``, ``"failure"``, ``"aborted"`` or None (running / never run)."""
        for marker, label in ((SUCCESS, "success"), (FAILURE, "failure"), (ABORTED, "aborted")):
            if self.file(marker).exists():
                return label
        return None

    def begin(self, command: str, type_label: str, options: Mapping[str, object], is_continue: bool = False) -> None:
        """Start (or restart) the job: clear stale markers, append note.txt, write job.star."""
        self.path.mkdir(parents=True, exist_ok=True)
        for marker in MARKERS:
            with contextlib.suppress(FileNotFoundError):
                self.file(marker).unlink()
        with open(self.file("note.txt"), "a") as fh:
            fh.write(f"\n ++++ Executing new job on {time.ctime()}\n")
            fh.write(" ++++ with the following command(s): \n")
            fh.write(f"{command}\n ++++ \n")
        self.file("run.out").touch()
        self.file("run.err").touch()
        write_star(
            self.file("job.star"),
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
        with open(self.file("run.out"), "a") as fh:
            fh.write(line.rstrip("\n") + "\n")

    def log_error(self, line: str) -> None:
        """Append a line to run.err."""
        with open(self.file("run.err"), "a") as fh:
            fh.write(line.rstrip("\n") + "\n")

    def succeed(self) -> None:
        self.file(SUCCESS).touch()

    def fail(self, message: str) -> None:
        self.log_error(message)
        self.file(FAILURE).touch()

    def abort(self, message: str) -> None:
        self.log_error(message)
        self.file(ABORTED).touch()

    @contextlib.contextmanager
    def running(self) -> Iterator["JobDir"]:
        """Mark the job succeeded, or failed / aborted (message in run.err) if the body raises."""
        try:
            yield self
        except Cancelled as exc:
            self.abort(f"ABORTED: {exc}")
            raise
        except BaseException as exc:
            self.fail(f"ERROR: {exc}")
            raise
        self.succeed()


def _option_text(value: object) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)
