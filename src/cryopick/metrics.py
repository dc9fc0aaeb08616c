"""Scoring particle picks against ground truth.

Matching (per micrograph): picks are taken in descending figure of merit (ties keep
their input order); each pick matches the nearest *unmatched* true particle within
``radius_px``, so every true particle is matched at most once and a second pick on
the same particle is a false positive.

Scores (overall = all micrographs pooled, and per micrograph):

* precision = TP / picks, recall = TP / true particles, F1 = 2·TP / (picks + true);
* average precision (AP): the area under the precision–recall curve over the FOM
  ranking, ``Σ_k (R_k − R_{k−1})·P_k`` taken at each distinct FOM threshold (tied
  FOMs enter together), recall normalised by the number of true particles — so AP is
  1 only if every particle is found and ranked above every false pick.

Undefined values (precision without picks, recall/AP without true particles) are NaN.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from cryopick.errors import BadInputError

DEFAULT_RADIUS_ANGSTROM = 50.0


@dataclass(frozen=True)
class MicrographScore:
    """Counts and scores of one set of picks (a micrograph or all of them).

    Attributes
    ----------
    n_true, n_picks, n_matched : int
    precision, recall, f1, average_precision : float
        NaN when undefined (see module docstring).
    """

    n_true: int
    n_picks: int
    n_matched: int
    precision: float
    recall: float
    f1: float
    average_precision: float


@dataclass(frozen=True)
class PickScore(MicrographScore):
    """Overall score plus the per-micrograph breakdown.

    Attributes
    ----------
    radius_px : float
        Matching radius used.
    per_micrograph : dict[str, MicrographScore]
    """

    radius_px: float = 0.0
    per_micrograph: dict[str, MicrographScore] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-friendly dict (NaN -> None)."""

        def clean(d: dict) -> dict:
            return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}

        out = clean({k: v for k, v in asdict(self).items() if k != "per_micrograph"})
        out["per_micrograph"] = {m: clean(asdict(s)) for m, s in self.per_micrograph.items()}
        return out


def _as_picks(picks) -> tuple[np.ndarray, np.ndarray]:
    """(xy (m, 2), fom (m,)) from an (m, 2|3) array or a coordinate DataFrame."""
    if isinstance(picks, pd.DataFrame):
        xy = picks[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(dtype=np.float64)
        if "rlnAutopickFigureOfMerit" in picks.columns:
            fom = picks["rlnAutopickFigureOfMerit"].to_numpy(dtype=np.float64)
        else:
            fom = np.zeros(len(xy))
        return xy, fom
    a = np.asarray(picks, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 2)), np.zeros(0)
    if a.ndim != 2 or a.shape[1] not in (2, 3):
        raise BadInputError(f"picks must be an (m, 2) or (m, 3) array of x, y[, fom] (got shape {a.shape})")
    return a[:, :2], (a[:, 2] if a.shape[1] == 3 else np.zeros(len(a)))


def match_picks(truth_xy: np.ndarray, pick_xy: np.ndarray, pick_fom: np.ndarray, radius_px: float) -> np.ndarray:
    """Greedy matching in descending FOM.

    Parameters
    ----------
    truth_xy : ndarray, shape (n, 2)
    pick_xy : ndarray, shape (m, 2)
    pick_fom : ndarray, shape (m,)
    radius_px : float

    Returns
    -------
    ndarray, shape (m,), int
        Index of the matched true particle for each pick, −1 if unmatched.
    """
    truth_xy = np.asarray(truth_xy, dtype=np.float64).reshape(-1, 2)
    m = len(pick_xy)
    out = np.full(m, -1, dtype=np.int64)
    if m == 0 or len(truth_xy) == 0:
        return out
    taken = np.zeros(len(truth_xy), dtype=bool)
    order = np.argsort(-np.asarray(pick_fom, dtype=np.float64), kind="stable")
    d = np.hypot(pick_xy[:, None, 0] - truth_xy[None, :, 0], pick_xy[:, None, 1] - truth_xy[None, :, 1])
    for p in order:
        cand = np.where(~taken & (d[p] <= radius_px))[0]
        if cand.size:
            t = cand[np.argmin(d[p, cand])]
            taken[t] = True
            out[p] = t
    return out


def _score(n_true: int, fom: np.ndarray, tp: np.ndarray) -> MicrographScore:
    n_picks = len(fom)
    n_matched = int(tp.sum())
    precision = n_matched / n_picks if n_picks else math.nan
    recall = n_matched / n_true if n_true else math.nan
    f1 = 2.0 * n_matched / (n_picks + n_true) if (n_picks + n_true) else math.nan
    if n_true == 0:
        ap = math.nan
    elif n_picks == 0:
        ap = 0.0
    else:
        order = np.argsort(-fom, kind="stable")
        f, t = fom[order], tp[order].astype(np.float64)
        cum_tp = np.cumsum(t)
        # last index of each group of tied FOMs = one threshold
        last = np.r_[np.nonzero(np.diff(f))[0], len(f) - 1]
        prec = cum_tp[last] / (last + 1)
        rec = cum_tp[last] / n_true
        ap = float(np.sum(np.diff(np.r_[0.0, rec]) * prec))
    return MicrographScore(n_true, n_picks, n_matched, precision, recall, f1, ap)


def score_picks(
    truth_xy_by_mic: Mapping[str, np.ndarray],
    picks_by_mic: Mapping[str, object],
    radius_px: float,
) -> PickScore:
    """Score picks against the truth, overall and per micrograph.

    Parameters
    ----------
    truth_xy_by_mic : mapping micrograph name -> ndarray, shape (n, 2)
        True particle centres (x, y) in px.
    picks_by_mic : mapping micrograph name -> picks
        Each an ndarray (m, 3) of x, y, FOM; (m, 2) of x, y (all FOMs equal); or a
        coordinate DataFrame (rlnCoordinateX/Y[, rlnAutopickFigureOfMerit]).
    radius_px : float
        Matching radius.

    Returns
    -------
    PickScore
        Micrographs are the union of both mappings' keys; a micrograph missing from
        one side has no true particles / no picks.
    """
    if not radius_px > 0:
        raise BadInputError(f"matching radius must be positive (got {radius_px} px)")
    mics = list(dict.fromkeys(list(truth_xy_by_mic) + list(picks_by_mic)))
    per: dict[str, MicrographScore] = {}
    all_fom, all_tp, n_true_total = [], [], 0
    for mic in mics:
        truth = np.asarray(truth_xy_by_mic.get(mic, np.zeros((0, 2))), dtype=np.float64).reshape(-1, 2)
        xy, fom = _as_picks(picks_by_mic.get(mic, np.zeros((0, 3))))
        tp = match_picks(truth, xy, fom, radius_px) >= 0
        per[mic] = _score(len(truth), fom, tp)
        all_fom.append(fom)
        all_tp.append(tp)
        n_true_total += len(truth)
    fom = np.concatenate(all_fom) if all_fom else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, dtype=bool)
    overall = _score(n_true_total, fom, tp)
    return PickScore(**asdict(overall), radius_px=float(radius_px), per_micrograph=per)


# ----------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Truth:
    """Ground truth read from a particles STAR.

    Attributes
    ----------
    xy_by_mic : dict[str, ndarray (n, 2)]
    pixel_size_angstrom : float
    diameter_angstrom : float or None
        From the simulator's ``data_simulation`` table, if present.
    """

    xy_by_mic: dict[str, np.ndarray]
    pixel_size_angstrom: float
    diameter_angstrom: float | None


def read_truth(path: str | os.PathLike) -> Truth:
    """Read true particle positions (``GroundTruth/particles.star`` or any particles STAR
    with rlnMicrographName, rlnCoordinateX/Y and a micrograph pixel size in data_optics)."""
    from cryopick.io.optics import micrograph_pixel_size, read_optics_star

    star = read_optics_star(path, "particles")
    for lab in ("rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY"):
        if lab not in star.data.columns:
            raise BadInputError(f"{path}: data_particles lacks _{lab}")
    pix = micrograph_pixel_size(star)
    xy = {
        str(m): g[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(dtype=np.float64)
        for m, g in star.data.groupby("rlnMicrographName", sort=False)
    }
    diameter = None
    sim = star.extra.get("simulation")
    if sim is not None and "cryopickParticleDiameterAngstrom" in sim.columns:
        diameter = float(sim["cryopickParticleDiameterAngstrom"].iloc[0])
    return Truth(xy, pix, diameter)


def infer_project_root(picks_star: str | os.PathLike) -> Path | None:
    """``<root>/<Type>/jobNNN/autopick.star`` -> ``<root>``; None if not in a job directory."""
    p = Path(picks_star).resolve()
    if re.fullmatch(r"job\d{3,}", p.parent.name):
        return p.parent.parent.parent
    return None


def read_picks(picks_star: str | os.PathLike, project_root: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Per-micrograph picks from an ``autopick.star`` coordinate-file list.

    Raises
    ------
    MissingFileError
        A listed coordinate file does not exist.
    """
    from cryopick.io.coords import read_coordinate_list, read_coordinates, resolve

    listing = read_coordinate_list(picks_star)
    out: dict[str, pd.DataFrame] = {}
    for mic, rel in zip(listing["rlnMicrographName"], listing["rlnMicrographCoordinates"]):
        out[str(mic)] = read_coordinates(resolve(project_root, str(rel)))
    return out


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
