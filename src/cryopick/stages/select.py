"""Subset selection: RELION's Select job, "Subsets" tab ("Split into subsets? Yes").

Follows ``relion_star_handler --split`` (relion_spec.md §7.1): with only a subset size S,
M = ceil(n/S) subsets; with only a number M, S = ceil(n/M); with both, exactly M subsets
of S (items beyond M·S dropped). Item i goes to subset floor(i/S), optionally after a
seeded shuffle. Writes ``<job>/micrographs_split<k>.star`` (or ``movies_``/``particles_``)
with the input's optics table. The tutorial takes the first 10 micrographs to train the pickers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io import nodes
from cryopick.io.optics import OpticsStar, read_optics_star, write_optics_star
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import read_star_raw
from cryopick.stages.base import Progress, Stage, StageContext, StageResult, refuse_duplicate_micrographs
from cryopick.stages.fields import input_file, param

_NODE_OF = {"micrographs": nodes.MICROGRAPHS, "movies": nodes.MOVIES, "particles": nodes.PARTICLES}


@dataclass(frozen=True)
class Params:
    """Select job, "Subsets" tab."""

    micrographs_star: str = input_file(help="Select from micrographs/movies/particles STAR", cli="--i",
                                       node=nodes.MICROGRAPHS, job_option="fn_mic")
    split_size: int = param(100, help="Subset size", cli="--split-size", relion="--size_split",
                            relion_default=100, job_option="split_size", minimum=-1)
    nr_split: int = param(-1, help="Number of subsets (-1: as many as needed)", cli="--nr-split",
                          relion="--nr_split", relion_default=-1, job_option="nr_split", minimum=-1)
    random_order: bool = param(False, help="Randomise order?", cli="--random-order", relion="--random_order",
                               relion_default=False, job_option="do_random")
    seed: int = param(1, help="Random seed of the shuffle", cli="--seed", relion="--random_seed")

    def validate(self) -> None:
        if self.split_size <= 0 and self.nr_split <= 0:
            raise BadInputError("subset selection: give a positive subset size (--split-size) or number of subsets (--nr-split)")
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


@dataclass
class _Plan:
    star: OpticsStar
    kind: str
    subsets: list[np.ndarray]


def data_kind(tables: object, path: object) -> str:
    """Which data table a STAR file holds: ``micrographs``, ``movies`` or ``particles``."""
    for kind in ("micrographs", "movies", "particles"):
        if kind in tables:
            return kind
    raise BadInputError(f"{path}: no data_micrographs, data_movies or data_particles table")


def _prepare(params: Params, project: ProjectPaths) -> _Plan:
    src = project.read_path(params.micrographs_star, "input STAR file")
    kind = data_kind(read_star_raw(src), src)
    star = read_optics_star(src, kind)
    if kind == "micrographs":
        if "rlnMicrographName" not in star.data.columns:
            raise BadInputError(f"{src}: table data_micrographs lacks label _rlnMicrographName")
        refuse_duplicate_micrographs(src, [str(n) for n in star.data["rlnMicrographName"]])
    n = len(star.data)
    order = np.random.default_rng(params.seed).permutation(n) if params.random_order else None
    try:
        subsets = split_indices(n, params.split_size, params.nr_split, order)
    except BadInputError as exc:
        raise BadInputError(f"{src}: {exc}") from None
    return _Plan(star, kind, subsets)


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    outputs = []
    for k, rows in enumerate(plan.subsets, start=1):
        name = f"{plan.kind}_split{k}.star"
        write_optics_star(ctx.job.output(name), plan.star.with_data(plan.star.data.iloc[rows]))
        outputs.append((f"{ctx.job.rel}{name}", _NODE_OF[plan.kind]))
        ctx.log(f" Written {ctx.job.rel}{name} with {len(rows)} items")
        ctx.progress(Progress(k / len(plan.subsets), f"{ctx.job.rel}{name}", f"subset {k}: {len(rows)} items"))
    return StageResult(
        job_dir=ctx.job.rel,
        output_nodes=outputs,
        counts={"items": len(plan.star.data), "subsets": len(plan.subsets), "first_subset_items": int(len(plan.subsets[0]))},
    )


run = Stage("select", _prepare, _execute, job_options=lambda p: {"do_split": True}).run
