"""``cryopick score-picks``: precision, recall, F1 and average precision of picks vs. ground truth."""

from __future__ import annotations

import argparse
import json

from cryopick.scoring import score_pick_files



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--truth", required=True, help="ground-truth particles STAR (e.g. GroundTruth/particles.star)")
    p.add_argument("--picks", required=True, help="coordinate list, e.g. AutoPick/job004/autopick.star")
    p.add_argument("--radius-angstrom", type=float,
                   help="matching radius (default: half the particle diameter from the truth, else 50 A)")
    p.add_argument("--project-root",
                   help="directory the coordinate-file paths are relative to "
                        "(default: inferred from <root>/<Type>/jobNNN/autopick.star, else the current directory)")
    p.add_argument("--all-truth-micrographs", action="store_true",
                   help="also count particles on micrographs the picks file does not list")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")


def _fmt(v: float | None) -> str:
    return "   nan" if v is None or v != v else f"{v:6.3f}"


def main(args: argparse.Namespace) -> int:
    score = score_pick_files(args.truth, args.picks, args.project_root, args.radius_angstrom,
                             only_picked_micrographs=not args.all_truth_micrographs)
    if args.json:
        print(json.dumps(score.to_dict(), indent=2))
        return 0
    print(f"radius {score.radius_px:.1f} px; {score.n_true} true particles, {score.n_picks} picks, "
          f"{score.n_matched} matched")
    print(f"{'micrograph':<48} {'true':>5} {'picks':>6} {'P':>6} {'R':>6} {'F1':>6} {'AP':>6}")
    for mic, s in score.per_micrograph.items():
        print(f"{mic:<48} {s.n_true:>5} {s.n_picks:>6} {_fmt(s.precision)} {_fmt(s.recall)} "
              f"{_fmt(s.f1)} {_fmt(s.average_precision)}")
    print(f"{'overall':<48} {score.n_true:>5} {score.n_picks:>6} {_fmt(score.precision)} {_fmt(score.recall)} "
          f"{_fmt(score.f1)} {_fmt(score.average_precision)}")
    return 0
