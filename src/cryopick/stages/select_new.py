"""Select new micrographs: the micrographs of a growing STAR file not in earlier selections.

For facility processing while data are collected: each run takes the micrographs that
on-the-fly CTF estimation has added since the micrograph lists in ``--exclude`` (earlier
runs' ``micrographs_new.star``) and writes them, with the optics table, to
``<job>/micrographs_new.star`` — a Select job RELION's GUI shows like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryopick.errors import BadInputError
from cryopick.io import nodes
from cryopick.io.optics import OpticsStar, micrograph_names, read_optics_star, write_optics_star
from cryopick.io.paths import ProjectPaths
from cryopick.stages.base import Progress, Stage, StageContext, StageResult, refuse_duplicate_micrographs
from cryopick.stages.fields import input_file

OUTPUT = "micrographs_new.star"


@dataclass(frozen=True)
class Params:
    """Select job: the micrographs not processed before."""

    micrographs_star: str = input_file(help="Micrographs STAR (e.g. the growing output of CTF estimation)", cli="--i",
                                       node=nodes.MICROGRAPHS, job_option="fn_mic")
    processed_stars: tuple[str, ...] = input_file(help="Micrograph lists processed before (micrographs left out)",
                                                  cli="--exclude", node=nodes.MICROGRAPHS, many=True)


@dataclass
class _Plan:
    star: OpticsStar
    keep: list[bool]
    excluded: int


def _prepare(params: Params, project: ProjectPaths) -> _Plan:
    src = project.read_path(params.micrographs_star, "micrographs STAR")
    star = read_optics_star(src, "micrographs")
    if "rlnMicrographName" not in star.data.columns:
        raise BadInputError(f"{src}: table data_micrographs lacks label _rlnMicrographName")
    done: set[str] = set()
    for rel in params.processed_stars:
        done.update(micrograph_names(project.read_path(rel, "processed micrographs STAR")))
    names = [str(n) for n in star.data["rlnMicrographName"]]
    refuse_duplicate_micrographs(src, names)
    keep = [n not in done for n in names]
    if not any(keep):
        raise BadInputError(f"{src}: no micrographs beyond the {len(params.processed_stars)} processed list(s)")
    return _Plan(star, keep, len(names) - sum(keep))


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    new = plan.star.with_data(plan.star.data[plan.keep])
    write_optics_star(ctx.job.output(OUTPUT), new)
    ctx.log(f" {len(new.data)} new micrographs ({plan.excluded} processed before) -> {ctx.job.rel}{OUTPUT}")
    ctx.progress(Progress(1.0, OUTPUT, f"{len(new.data)} new micrographs"))
    return StageResult(
        job_dir=ctx.job.rel,
        output_nodes=[(f"{ctx.job.rel}{OUTPUT}", nodes.MICROGRAPHS)],
        counts={"micrographs": len(new.data), "processed_before": plan.excluded},
    )


run = Stage("select-new", _prepare, _execute).run
