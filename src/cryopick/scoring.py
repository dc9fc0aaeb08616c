"""Score a picking job's files against a ground-truth STAR (``cryopick score-picks``)."""

from __future__ import annotations

import os
from pathlib import Path

from cryopick.io.picks import infer_project_root, read_picks, read_truth
from cryopick.metrics import DEFAULT_RADIUS_ANGSTROM, PickScore, score_picks


def score_pick_files(
    truth_star: str | os.PathLike,
    picks_star: str | os.PathLike,
    project_root: str | os.PathLike | None = None,
    radius_angstrom: float | None = None,
    only_picked_micrographs: bool = True,
) -> PickScore:
    """Score an ``autopick.star`` against a truth STAR.

    Parameters
    ----------
    truth_star, picks_star : path-like
    project_root : path-like, optional
        Root the coordinate-file paths are relative to (default: inferred from
        ``<root>/<Type>/jobNNN/autopick.star``, else the current directory).
    radius_angstrom : float, optional
        Default: half the particle diameter if the truth records it, else 50 Å.
    only_picked_micrographs : bool
        Score only micrographs listed in ``picks_star`` (the picker's input), so a
        picker run on a subset is not charged with the other micrographs' particles.
    """
    truth = read_truth(truth_star)
    if project_root is None:
        project_root = infer_project_root(picks_star) or Path.cwd()
    picks = read_picks(picks_star, project_root)
    if radius_angstrom is None:
        radius_angstrom = 0.5 * truth.diameter_angstrom if truth.diameter_angstrom else DEFAULT_RADIUS_ANGSTROM
    xy = truth.xy_by_mic
    if only_picked_micrographs:
        xy = {m: v for m, v in xy.items() if m in picks}
    return score_picks(xy, picks, radius_angstrom / truth.pixel_size_angstrom)
