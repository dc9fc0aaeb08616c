"""What every AutoPick job writes besides its coordinates: ``summary.star`` and ``logfile.pdf``."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cryopick.io.star import write_star
from cryopick.report.pdf import BarChart, write_bar_charts
from cryopick.stages.base import StageContext


def mean_fom_chart(foms: Sequence[np.ndarray]) -> BarChart:
    """Mean figure of merit per micrograph (for non-negative figures of merit, such as LoG's)."""
    means = np.array([float(f.mean()) if len(f) else 0.0 for f in foms])
    return BarChart("Mean figure of merit per micrograph", "micrograph (input order)", "mean FOM", np.maximum(means, 0.0))


def write_autopick_reports(ctx: StageContext, micrographs: Sequence[str], foms: Sequence[np.ndarray], fom_name: str,
                           per_micrograph: BarChart) -> None:
    """Per-micrograph summary table and the picking log (picks per micrograph, FOM histogram, ``per_micrograph``).

    Parameters
    ----------
    micrographs : sequence of str, length M
    foms : sequence of np.ndarray, length M, each shape (n_i,)
        Figures of merit of each micrograph's picks.
    fom_name : str
        What the figure of merit is, for the histogram's title ("LoG response", "Topaz score").
    per_micrograph : BarChart
        The third panel, one bar per micrograph.
    """
    names = np.array(list(micrographs), dtype=object)
    counts = np.array([len(f) for f in foms], dtype=np.int64)
    means = np.array([float(f.mean()) if len(f) else 0.0 for f in foms])
    write_star(
        ctx.job.output("summary.star"),
        {"autopick_summary": {"rlnMicrographName": names, "rlnAutopickFigureOfMerit": means, "rlnGroupNrParticles": counts}},
    )
    all_fom = np.concatenate(list(foms)) if len(foms) else np.zeros(0)
    if all_fom.size:
        lo, hi = float(all_fom.min()), float(all_fom.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, 31)
        hist = np.histogram(all_fom, bins=edges)[0]
    else:
        edges, hist = np.array([0.0, 1.0]), np.zeros(1)
    write_bar_charts(
        ctx.job.output("logfile.pdf"),
        [
            BarChart("Number of picks per micrograph", "micrograph (input order)", "picks", counts.astype(float)),
            BarChart(f"Histogram of figures of merit ({fom_name})", "figure of merit", "picks", hist.astype(float), edges),
            per_micrograph,
        ],
        heading=f"{ctx.job.rel}: {int(counts.sum())} picks on {len(foms)} micrographs",
    )
