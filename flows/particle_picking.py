"""The particle-picking chapter of the RELION tutorial as one Prefect flow.

Select (split; the first subset trains) -> LoG picking on split 1 -> Extract -> Class2D ->
auto-select classes -> Topaz train -> Topaz pick (all micrographs) -> final Extract (FOM > -3).
``topaz_route`` also offers training on the LoG picks (no 2D steps) and the tutorial's shortcut,
picking with Topaz's pretrained network straight away.

Each job is a task that calls its gRPC service (``cryopick.flows.tasks``). A step whose
service answers UNIMPLEMENTED (a service without that stage) stops the flow there: the run
ends **Cancelled**, named ``Incomplete``, with a message such as ``"INCOMPLETE: stopped at
Auto-select 2D classes: ranker service says: Method not found!; not run: Topaz training,
..."``; the state's data is the report.

Run it with ``cryopick run --project DIR`` (starts the services and a temporary Prefect
API) or deploy it with ``prefect.yaml``.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from prefect import flow

from cryopick.flows.chain import Chain, ChainStopped
from cryopick.flows.params import (
    STEPS,
    AutoSelectParams,
    Class2dParams,
    ExtractParams,
    FinalExtractParams,
    LoGPickingParams,
    ServiceAddresses,
    SubsetsParams,
    TopazPickingParams,
    TopazTrainingParams,
)
from cryopick.flows.placeholder import refused_run
from cryopick.flows.tasks import ProjectRef, node
from cryopick.io.topaz_model import BEST_MODEL
from cryopick.stages.presets import TUTORIAL

#: The chapter's steps, in order: the tutorial preset's steps (flow parameter names).
CHAPTER = tuple(TUTORIAL)
#: What Topaz trains on, or whether it trains at all (``topaz_route``), and the steps each route runs.
TOPAZ_ROUTES = {
    "selected_classes": CHAPTER,
    "log_picks": ("subsets", "log_picking", "topaz_training", "topaz_picking", "final_extract"),
    "pretrained": ("topaz_picking", "final_extract"),
}


@flow(name="particle-picking", persist_result=False, log_prints=True)
def particle_picking(
    project_dir: str,
    micrographs_star: str = "CtfFind/job003/micrographs_ctf.star",
    subsets: SubsetsParams = SubsetsParams(),
    log_picking: LoGPickingParams = LoGPickingParams(),
    extract: ExtractParams = ExtractParams(),
    class2d: Class2dParams = Class2dParams(),
    auto_select: AutoSelectParams = AutoSelectParams(),
    topaz_training: TopazTrainingParams = TopazTrainingParams(),
    topaz_picking: TopazPickingParams = TopazPickingParams(),
    final_extract: FinalExtractParams = FinalExtractParams(),
    services: ServiceAddresses = ServiceAddresses(),
    service_project: str = "",
    topaz_route: Literal["selected_classes", "log_picks", "pretrained"] = "selected_classes",
    final_threshold: Literal["min_fom", "expected_count"] = "min_fom",
) -> Any:
    """Pick particles in a RELION project, following the tutorial.

    (Google style, unlike the rest of cryopick: the Prefect UI shows these as the parameters'
    descriptions, and Prefect reads only this style.)

    Args:
        project_dir: The RELION project directory, as the machine running this flow sees it.
        micrographs_star: The CTF-corrected micrographs STAR, relative to the project.
        subsets: Subset selection job (the first subset, 10 micrographs, trains).
        log_picking: Laplacian-of-Gaussian auto-picking job on the training subset.
        extract: Particle extraction job of the LoG picks.
        class2d: 2D classification job.
        auto_select: Automatic selection of good 2D classes (class scores 0 to 1).
        topaz_training: Topaz training job.
        topaz_picking: Topaz picking job on every micrograph.
        final_extract: Final particle extraction (keeps picks above its minimum FOM).
        services: host:port of each service; an empty field uses CRYOPICK_<ROLE>_ADDRESS.
        service_project: The project's path relative to the services' --project-root ("" = the
            root itself). Set it when the project lies under that root.
        topaz_route: selected_classes (the tutorial): Topaz trains on the particles of the good 2D
            classes. log_picks: Topaz trains on the LoG picks of the training subset (no 2D steps).
            pretrained (the tutorial's shortcut): Topaz's pretrained network picks every micrograph
            straight away, with no LoG, 2D or training steps.
        final_threshold: min_fom (the tutorial): the final extraction keeps picks above
            final_extract.min_fom (-3). expected_count: above the FOM that keeps
            topaz_picking.nr_particles_per_micrograph picks per micrograph on average; for a
            retrained network, whose scores are not on the pretrained network's scale.

    Returns:
        The run's report: steps (job directories, results, cached or not), stopped_at, message,
        not_run. A run on the deployment's placeholder project ends Cancelled before any job.
    """
    if (refusal := refused_run(project_dir)) is not None:
        return refusal
    if final_threshold == "expected_count" and topaz_picking.nr_particles_per_micrograph <= 0:
        raise ValueError("final_threshold 'expected_count' needs topaz_picking.nr_particles_per_micrograph "
                         "(the expected particles per micrograph) above 0")
    project = ProjectRef(project_dir=os.path.abspath(project_dir), service_project=service_project, services=services)
    chain = Chain(project, planned=[STEPS[k].title for k in TOPAZ_ROUTES[topaz_route]])
    try:
        model_path = ""
        if topaz_route != "pretrained":
            split = chain.run("subsets", subsets, micrographs_star=micrographs_star)
            training_mics = node(split, "MicrographsData", suffix="_split1.star")
            log = chain.run("log_picking", log_picking, micrographs_star=training_mics)
            training = {"coords_star": node(log, "MicrographsCoords")}
            if topaz_route == "selected_classes":
                particles = chain.run("extract", extract, micrographs_star=training_mics, coords_star=training["coords_star"])
                classes = chain.run("class2d", class2d, particles_star=node(particles, "ParticlesData"))
                selected = chain.run("auto_select", auto_select,
                                     optimiser_star=node(classes, "ProcessData", suffix="_optimiser.star"))
                training = {"particles_star": node(selected, "ParticlesData")}
            model = chain.run("topaz_training", topaz_training, micrographs_star=training_mics, **training)
            model_path = model["job_dir"] + BEST_MODEL  # the best on held-out micrographs, not RELION's last epoch
        picks = chain.run("topaz_picking", topaz_picking, micrographs_star=micrographs_star, model_path=model_path)
        if final_threshold == "expected_count":
            final_extract = final_extract.model_copy(update={"min_fom": picks["summary"]["fom_at_expected_count"]})
        chain.run("final_extract", final_extract, micrographs_star=micrographs_star,
                  coords_star=node(picks, "MicrographsCoords"))
    except ChainStopped:
        pass
    return chain.finish("particle-picking")
