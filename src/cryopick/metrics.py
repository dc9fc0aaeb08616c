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
from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np

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
    """(xy (m, 2), fom (m,)) from an (m, 2|3) array or coordinate columns (a mapping or DataFrame)."""
    if isinstance(picks, Mapping) or hasattr(picks, "columns"):
        labels = picks.columns if hasattr(picks, "columns") else picks
        xy = np.column_stack([np.asarray(picks["rlnCoordinateX"], dtype=np.float64),
                              np.asarray(picks["rlnCoordinateY"], dtype=np.float64)])
        if "rlnAutopickFigureOfMerit" in labels:
            fom = np.asarray(picks["rlnAutopickFigureOfMerit"], dtype=np.float64)
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
        Each an ndarray (m, 3) of x, y, FOM; (m, 2) of x, y (all FOMs equal); or
        coordinate columns (rlnCoordinateX/Y[, rlnAutopickFigureOfMerit]).
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
