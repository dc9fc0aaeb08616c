"""One Prefect task per RELION job; each calls its service over gRPC.

A task run: compute the content cache key (a hit skips everything, including job
numbering), take the job directory for that key (allocated on first use, reused by
retries), call the service, stream its progress into the Prefect logger and a progress
artifact, publish the job's artifacts and return the service's ``Result`` as a plain dict.

Retries (with backoff) only for UNAVAILABLE, DEADLINE_EXCEEDED, a full job queue and a
stream that broke off (service died); never for INVALID_ARGUMENT, NOT_FOUND,
FAILED_PRECONDITION, UNIMPLEMENTED or INTERNAL.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.transactions import get_transaction
from pydantic import BaseModel, ConfigDict

from cryopick.flows import artifacts
from cryopick.flows.caching import RESULTS_DIR, JobContentPolicy, key_for_inputs, key_lacks_service_code
from cryopick.flows.client import ProgressEvent, ServiceCallError, StepNotAvailable, call_job, request_message, resolve_address
from cryopick.flows.jobs import claimed_job, release_job_dir
from cryopick.flows.params import FlowStep, ServiceAddresses

#: Delays (s) between attempts of a job whose service was unavailable.
RETRY_DELAYS_S = [2.0, 4.0, 8.0, 16.0]


class ProjectRef(BaseModel):
    """Where a flow works: the project as the flow sees it and as the services see it.

    Attributes
    ----------
    project_dir : str
        Absolute project directory on the flow's machine (job numbering, caching, figures).
    service_project : str
        ``JobTarget.project``: the project relative to the services' ``--project-root``.
    services : ServiceAddresses
        Addresses of the services (empty fields: ``CRYOPICK_<ROLE>_ADDRESS``).
    rpc_timeout_s : float
        Deadline of one job RPC.
    connect_timeout_s : float
        How long to wait for a (restarting) service before the attempt counts as UNAVAILABLE.
    """

    model_config = ConfigDict(frozen=True)

    project_dir: str
    service_project: str = ""
    services: ServiceAddresses = ServiceAddresses()
    rpc_timeout_s: float = 7 * 24 * 3600.0
    connect_timeout_s: float = 60.0


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only transient service failures."""
    try:
        state.result()
    except ServiceCallError as exc:
        return exc.transient
    except Exception:
        return False
    return False


@functools.lru_cache(maxsize=None)
def job_task(step: FlowStep) -> Any:
    """The Prefect task of a flow step: calls its stage's service, with the job cache policy and retries."""

    def run_job(project: ProjectRef, params: BaseModel, files: dict[str, str]) -> dict[str, Any]:
        return run_step(step, project, files, params)

    run_job.__qualname__ = run_job.__name__ = f"job_{step.key}"
    run_job.__doc__ = f"{step.title}: {step.spec.summary}"
    return task(
        name=step.title,
        task_run_name=step.title,
        cache_policy=JobContentPolicy(step=step.title, stage_module=step.spec.module_name, role=step.spec.role),
        persist_result=True,
        result_serializer="json",
        retries=len(RETRY_DELAYS_S),
        retry_delay_seconds=RETRY_DELAYS_S,
        retry_condition_fn=retry_if_transient,
    )(run_job)


def for_project(task_obj: Any, project: ProjectRef) -> Any:
    """The task with its results (and cache records) stored under the project."""
    return task_obj.with_options(result_storage=Path(project.project_dir) / RESULTS_DIR)


#: A job's progress artifact is created once the job has run this long (s); shorter jobs get none
#: (their table artifact follows at once), which saves two API calls per short task.
PROGRESS_ARTIFACT_AFTER_S = 1.0
#: Least time (s) between two updates of a progress artifact.
PROGRESS_UPDATE_EVERY_S = 1.0


class _ProgressReporter:
    """Progress events -> Prefect logger (log lines) and a progress artifact (fraction, throttled).

    The artifact is created lazily, at the first event after :data:`PROGRESS_ARTIFACT_AFTER_S`.
    """

    def __init__(self, title: str, job_dir: str):
        self.title, self.job_dir, self.logger = title, job_dir, get_run_logger()
        self.artifact_id = None
        self.t0 = time.monotonic()
        self.last_t, self.last_f = self.t0, 0.0

    def __call__(self, ev: ProgressEvent) -> None:
        if ev.log_line:
            self.logger.info("%s%s", f"[{ev.item}] " if ev.item else "", ev.log_line)
        now = time.monotonic()
        fraction = round(100.0 * min(1.0, ev.fraction), 1)
        if self.artifact_id is None:
            if now - self.t0 >= PROGRESS_ARTIFACT_AFTER_S:
                from prefect.artifacts import create_progress_artifact

                self.artifact_id = create_progress_artifact(
                    progress=fraction, key=artifacts.artifact_key(f"{self.title}-progress"),
                    description=f"{self.title}: {self.job_dir}",
                )
                self.last_t, self.last_f = now, ev.fraction
            return
        if ev.fraction >= 1.0 or (now - self.last_t >= PROGRESS_UPDATE_EVERY_S and ev.fraction > self.last_f):
            from prefect.artifacts import update_progress_artifact

            update_progress_artifact(self.artifact_id, progress=fraction)
            self.last_t, self.last_f = now, ev.fraction


def run_step(step: FlowStep, project: ProjectRef, files: dict[str, str], params: BaseModel) -> dict[str, Any]:
    """Body shared by every job task (see the module docstring)."""
    logger = get_run_logger()
    spec = step.spec
    inputs = {"project": project, "params": params, "files": files}
    txn = get_transaction()
    key = txn.key if txn is not None and txn.key else key_for_inputs(step.title, spec.module_name, inputs)
    root = Path(project.project_dir)
    address = resolve_address(spec.role, project.services.model_dump())
    if key_lacks_service_code(key):  # no job directory for a key that will change once the service answers
        raise ServiceCallError(step.title, spec.role, "UNAVAILABLE",
                               f"the service at {address} did not say which code version it runs (is it up?)")
    with claimed_job(root, spec.job_type, key) as claim:
        if claim.finished is not None:
            logger.info("%s: %s was finished by a concurrent run of this project; using its result",
                        step.title, claim.finished["job_dir"])
            return claim.finished
        job_dir = claim.job_dir
        logger.info("%s: %s %s (service %s at %s)", step.title, "continuing" if claim.reused else "running", job_dir,
                    spec.role, address)
        request = request_message(spec, job_dir, project.service_project, {**files, **params.model_dump()})
        artifacts.preload()  # once per process: matplotlib's import overlaps this job instead of following a drawn one
        try:
            result = call_job(
                step.title, spec, request, address,
                on_progress=_ProgressReporter(step.title, job_dir),
                timeout_s=project.rpc_timeout_s, connect_timeout_s=project.connect_timeout_s,
            )
        except StepNotAvailable:
            release_job_dir(root, job_dir, key)
            raise
        except ServiceCallError as exc:
            logger.warning("%s (%s)", exc, "will retry" if exc.transient else "not retried")
            if exc.transient:
                raise  # the retry continues in this job directory
            # a job the service could not even begin leaves its directory empty: give it back, so the
            # corrected run does not find an unexplained empty jobNNN/
            release_job_dir(root, job_dir, key)
            raise _with_hint(exc, project) from None
        claim.done(result)
    _publish(step, root, result, params)
    return result


def _with_hint(exc: ServiceCallError, project: ProjectRef) -> ServiceCallError:
    """``exc``, with a hint when the services looked for the project's files at their root."""
    if exc.code != "NOT_FOUND" or project.service_project:
        return exc
    return ServiceCallError(exc.step, exc.role, exc.code, (
        f"{exc.details} (the services look for the project at their --project-root; if {project.project_dir} lies "
        f"under it, set the flow parameter service_project to the project's path relative to that root)"))


def _publish(step: FlowStep, root: Path, result: dict[str, Any], params: BaseModel) -> None:
    """The job's card: its figures drawn (a picture must never fail a finished job), then one artifact."""
    logger = get_run_logger()
    job_dir = root / result["job_dir"]
    pictures: list[tuple[str, Path]] = []
    try:
        coords = node(result, "MicrographsCoords", required=False)
        curves = [f for f in result.get("figures", []) if f.endswith("training_curves.png")]
        if curves:
            test = result.get("summary", {})
            best = ("a pretrained network" if test.get("best_is_pretrained") else
                    f"epoch {test.get('best_epoch', float('nan')):.0f}")
            pictures.append((f"Topaz training curves (last epoch: held-out per-pixel AUPRC "
                             f"{test.get('test_auprc', float('nan')):.3f}, topaz's measure: every pixel within the "
                             f"training radius of a labelled particle is a positive; model_best.sav is {best}, "
                             f"AUPRC {test.get('best_test_auprc', float('nan')):.3f}; see model_selection.txt)",
                             root / curves[0]))
        elif coords and step.spec.job_type == "AutoPick":
            diameter = float(getattr(params, "diameter_max_angstrom", getattr(params, "particle_diameter_angstrom", 180.0)))
            png = job_dir / "picks_by_fom.png"
            if artifacts.picks_figure(root, coords, png, diameter):
                pictures.append(("picks on the best, median and worst micrograph (by mean FOM), coloured by FOM "
                                 "(blue high, red low); FOM and picks-per-micrograph histograms", png))
        particles = node(result, "ParticlesData", required=False)
        if particles and step.spec.job_type == "Extract":
            png = job_dir / "particles_montage.png"
            if artifacts.particles_montage(root, particles, png):
                pictures.append((f"{result.get('counts', {}).get('particles', '?')} particles extracted", png))
        if particles and step.spec.job_type == "Class2D":
            model = node(result, "ProcessData", "_optimiser.star").replace("_optimiser.star", "_model.star")
            png = job_dir / "class_gallery_counts.png"
            if artifacts.class_gallery(root, particles, model, png):
                pictures.append(("class averages by class distribution, particle count under each", png))
        if step.spec.job_type == "Select" and node(result, "ImagesData", required=False):
            png = job_dir / "class_scores.png"
            if artifacts.ranked_gallery(root, f"{result['job_dir']}rank_model.star",
                                        f"{result['job_dir']}backup_selection.star", png):
                pictures.append(("class averages by decreasing score (green: selected, red: not)", png))
    except Exception as exc:  # a picture must never fail a finished job
        logger.warning("%s: could not draw the job's figure: %s", step.title, exc)
    artifacts.publish_card(step.title, result, params.model_dump(), pictures, root)


def node(result: dict[str, Any], label_prefix: str, suffix: str = "", required: bool = True) -> str:
    """The last output node of a result whose type label starts with ``label_prefix`` (and path ends with ``suffix``)."""
    found = [p for p, label in result.get("output_nodes", []) if label.startswith(label_prefix) and p.endswith(suffix)]
    if not found:
        if required:
            raise ValueError(f"job {result.get('job_dir')} has no {label_prefix} output node {suffix}".rstrip())
        return ""
    return found[-1]
