"""What every stage shares: progress reports, cancellation and the result it returns."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from cryopick.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One progress report.

    Attributes
    ----------
    fraction : float
        Fraction of the job done, 0..1.
    item : str
        Current micrograph or iteration.
    message : str
        A log line (may be empty).
    """

    fraction: float
    item: str = ""
    message: str = ""


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A progress callback that ignores reports."""


__all__ = ["Cancelled", "Progress", "ProgressFn", "StageResult", "check_cancel", "no_progress"]


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("job cancelled by the caller")


@dataclass
class StageResult:
    """What a stage returns: where its outputs are and a few numbers.

    Attributes
    ----------
    job_dir : str
        Project-relative job directory, e.g. ``AutoPick/job006/``.
    output_nodes : list[tuple[str, str]]
        ``(project-relative path, RELION node type label)``.
    counts : dict[str, int]
        E.g. ``{"micrographs": 10, "picks": 1043}``.
    summary : dict[str, float]
        Summary figures (mean FOM, ...).
    failures : dict[str, str]
        Items (micrographs) that failed, with the reason.
    figures : list[str]
        Project-relative paths of images a person wants to see.
    """

    job_dir: str
    output_nodes: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
