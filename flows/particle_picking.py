"""The particle-picking chapter of the RELION tutorial as one Prefect flow.

Select (split; the first subset trains) -> LoG picking on split 1 -> Extract -> Class2D ->
auto-select classes -> Topaz train -> Topaz pick (all micrographs) -> final Extract (FOM > -3).

Each job is a task that calls its gRPC service (``cryopick.flows.tasks``). A step whose
service answers UNIMPLEMENTED stops the flow there: the run ends **Completed** with state
name ``Stopped`` and a message such as ``"Class2D: classifier service says: 2D
classification is not implemented yet"``; the returned report lists the steps not run.
Later steps are added by appending one ``chain.run(...)`` line each.

Run it with ``cryopick run --project DIR`` (starts the services and a temporary Prefect
API) or deploy it with ``prefect.yaml``.
"""

from __future__ import annotations

import os
from typing import Any

from prefect import flow

from cryopick.flows.chain import Chain, ChainStopped
from cryopick.flows.params import (
    AutoSelectParams,
    Class2DParams,
    ExtractParams,
    FinalExtractParams,
    LoGParams,
    ServiceAddresses,
    SubsetParams,
    TopazPickParams,
    TopazTrainParams,
)
from cryopick.flows.tasks import (
    ProjectRef,
    auto_select_classes,
    autopick_log,
    classify_2d,
    extract_final,
    extract_particles,
    node,
    select_subsets,
    topaz_pick,
    topaz_train,
)

STEPS = [t.name for t in (select_subsets, autopick_log, extract_particles, classify_2d, auto_select_classes, topaz_train, topaz_pick, extract_final)]


@flow(name="particle-picking", persist_result=False, log_prints=True)
def particle_picking(
    project_dir: str,
    micrographs_star: str = "CtfFind/job003/micrographs_ctf.star",
    subsets: SubsetParams = SubsetParams(),
    log_picking: LoGParams = LoGParams(),
    extract: ExtractParams = ExtractParams(),
    class2d: Class2DParams = Class2DParams(),
    auto_select: AutoSelectParams = AutoSelectParams(),
    topaz_training: TopazTrainParams = TopazTrainParams(),
    topaz_picking: TopazPickParams = TopazPickParams(),
    final_extract: FinalExtractParams = FinalExtractParams(),
    services: ServiceAddresses = ServiceAddresses(),
    service_project: str = "",
) -> Any:
    """Pick particles in a RELION project, following the tutorial.

    Parameters
    ----------
    project_dir : str
        The RELION project directory (as this flow's machine sees it).
    micrographs_star : str
        Project-relative CTF-corrected micrographs STAR.
    subsets, log_picking, extract, class2d, auto_select, topaz_training, topaz_picking, final_extract
        Job parameters (defaults: the tutorial's values).
    services : ServiceAddresses
        Service addresses; empty fields come from ``CRYOPICK_<ROLE>_ADDRESS``.
    service_project : str
        The project relative to the services' ``--project-root`` ("" = the root itself).

    Returns
    -------
    dict
        ``steps`` (job dirs, results, cached or not), ``stopped_at``, ``message``, ``not_run``.
    """
    project = ProjectRef(project_dir=os.path.abspath(project_dir), service_project=service_project, services=services)
    chain = Chain(project, planned=list(STEPS))
    try:
        split = chain.run(select_subsets, micrographs_star=micrographs_star, params=subsets)
        training_mics = node(split, "MicrographsData", suffix="_split1.star")
        log = chain.run(autopick_log, micrographs_star=training_mics, params=log_picking)
        particles = chain.run(extract_particles, micrographs_star=training_mics, coords_star=node(log, "MicrographsCoords"), params=extract)
        classes = chain.run(classify_2d, particles_star=node(particles, "ParticlesData"), params=class2d)
        selected = chain.run(auto_select_classes, optimiser_star=node(classes, "ProcessData", suffix="_optimiser.star"), params=auto_select)
        model = chain.run(topaz_train, micrographs_star=training_mics, particles_star=node(selected, "ParticlesData"), params=topaz_training)
        picks = chain.run(topaz_pick, micrographs_star=micrographs_star, model_path=node(model, "", suffix=".sav"), params=topaz_picking)
        chain.run(extract_final, micrographs_star=micrographs_star, coords_star=node(picks, "MicrographsCoords"), params=final_extract)
    except ChainStopped:
        pass
    return chain.finish("particle-picking")
