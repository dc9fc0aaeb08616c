"""Subset selection: split a micrographs (or particles) STAR into subsets, as RELION's Select job.

Follows ``relion_star_handler --split`` (relion_spec.md §7.1): with only a subset size S,
M = ceil(n/S) subsets; with only a number M, S = ceil(n/M); with both, exactly M subsets
of S (items beyond M·S dropped). Item i goes to subset floor(i/S), optionally after a
seeded shuffle. Outputs ``<job>/micrographs_split<k>.star`` with the same optics table,
and ``RELION_OUTPUT_NODES.star``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import BadInputError
from cryopick.io.coords import resolve
from cryopick.io.jobdir import JobDir
from cryopick.io.optics import read_optics_star, write_optics_star
from cryopick.io.pipeline import register_job
from cryopick.io.star import write_star
from cryopick.stages.base import Progress, ProgressFn, StageResult, check_cancel, no_progress

TYPE_LABEL = "relion.select.split"
_NODE_LABELS = {
    "micrographs": "MicrographsData.star.relion",
    "movies": "MicrographMoviesData.star.relion",
    "particles": "ParticlesData.star.relion",
}


@dataclass(frozen=True)
class Params:
    """Split parameters (RELION GUI: Select job, "Subsets" tab).

    Attributes
    ----------
    micrographs_star : str
        Project-relative input STAR (micrographs, movies or particles).
    split_size : int
        Items per subset (-1: derive from ``nr_split``).
    nr_split : int
        Number of subsets (-1: derive from ``split_size``).
    random_order : bool
        Shuffle before splitting.
    seed : int
        Random seed for the shuffle.
    """

    micrographs_star: str
    split_size: int = 10
    nr_split: int = -1
    random_order: bool = False
    seed: int = 1

    def validate(self) -> None:
        if self.split_size <= 0 and self.nr_split <= 0:
            raise BadInputError("subset selection: give a positive subset size or number of subsets")
        if self.split_size == 0 or self.nr_split == 0:
            raise BadInputError("subset selection: subset size and number of subsets must not be 0")


def split_indices(n: int, split_size: int, nr_split: int, order: np.ndarray | None = None) -> list[np.ndarray]:
    """Row indices of each subset.

    Parameters
    ----------
    n : int
        Number of items.
    split_size, nr_split : int
        As in :class:`Params` (-1 = derive).
    order : ndarray, shape (n,), optional
        Processing order (a permutation); identity if None.

    Returns
    -------
    list of ndarray
        One array of row indices per subset, in subset order.
    """
    if n == 0:
        raise BadInputError("subset selection: the input has no items")
    if split_size > 0 and nr_split > 0:
        size, count = split_size, nr_split
    elif split_size > 0:
        size, count = split_size, math.ceil(n / split_size)
    else:
        size, count = math.ceil(n / nr_split), nr_split
    order = np.arange(n) if order is None else np.asarray(order)
    return [order[k * size : min((k + 1) * size, n)] for k in range(count) if k * size < n]


def _data_kind(path: Path) -> str:
    from cryopick.io.star import read_star

    names = set(read_star(path))
    for kind in ("micrographs", "movies", "particles"):
        if kind in names:
            return kind
    raise BadInputError(f"{path}: no data_micrographs, data_movies or data_particles table")


def run(
    params: Params,
    project_root: str | Path,
    job_dir: str,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> StageResult:
    """Split the input STAR into subsets; write a complete Select job directory."""
    progress = progress or no_progress
    root = Path(project_root)
    job = JobDir(root, job_dir)
    command = (
        f"cryopick select --i {params.micrographs_star} --o {job.rel} --split-size {params.split_size} "
        f"--nr-split {params.nr_split}" + (f" --random-order --seed {params.seed}" if params.random_order else "")
    )
    job.begin(command, TYPE_LABEL, {"fn_mic": params.micrographs_star, "do_split": True, **asdict(params)})
    with job.running():
        params.validate()
        check_cancel(cancel)
        src = resolve(root, params.micrographs_star)
        kind = _data_kind(src)
        star = read_optics_star(src, kind)
        n = len(star.data)
        order = np.random.default_rng(params.seed).permutation(n) if params.random_order else None
        subsets = split_indices(n, params.split_size, params.nr_split, order)
        stem = {"micrographs": "micrographs", "movies": "movies", "particles": "particles"}[kind]
        outputs = []
        for k, rows in enumerate(subsets, start=1):
            rel = f"{job.rel}{stem}_split{k}.star"
            write_optics_star(root / rel, star.with_data(star.data.iloc[rows]))
            outputs.append((rel, _NODE_LABELS[kind]))
            job.log(f" Written {rel} with {len(rows)} items")
            progress(Progress(k / len(subsets), rel, f"subset {k}: {len(rows)} items"))
        write_star(
            job.file("RELION_OUTPUT_NODES.star"),
            {
                "output_nodes": pd.DataFrame(
                    {
                        "rlnPipeLineNodeName": np.array([o[0] for o in outputs], dtype=object),
                        "rlnPipeLineNodeTypeLabel": np.array([o[1] for o in outputs], dtype=object),
                    }
                )
            },
        )
        register_job(root, job.rel, TYPE_LABEL, "Succeeded", inputs=[(params.micrographs_star, _NODE_LABELS[kind])], outputs=outputs)
    return StageResult(
        job_dir=job.rel,
        output_nodes=outputs,
        counts={"items": n, "subsets": len(subsets), "first_subset_items": int(len(subsets[0]))},
    )
