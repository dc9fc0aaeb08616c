"""The lifecycle every stage shares, implemented once.

A stage module defines ``Params`` (described fields, :mod:`cryopick.stages.fields`), a
``prepare`` step that reads and checks every input without writing anything, and an
``execute`` step that does the work. ``run = Stage(name, prepare, execute).run`` then gives it
the one public entry point the CLI, the services and the tests call::

    run(params, project_root, job_dir, progress=None, cancel=None) -> StageResult

and :meth:`Stage.run` does, in this order:

1. **Check the job directory** (``<Type>/jobNNN/`` of the stage's job type, inside the
   project, holding no symlink that points out of it). A bad one is refused before anything
   is written.
2. **Validate** the parameters (:func:`~cryopick.stages.fields.check_fields`, then
   ``Params.validate``) and **prepare** (read every input). A failure here writes only the
   failure record: ``run.err``, ``RELION_JOB_EXIT_FAILURE`` and *Failed* in
   ``default_pipeline.star`` (and not even that into a job directory that holds an earlier
   run's results).
3. **Parameter fingerprint**: a job directory belongs to one parameter set. Re-running with
   the same parameters continues the job: items finished earlier are reused
   (:attr:`StageContext.reuse`). Different parameters are refused with an error that lists
   what differs, before anything is written; so is a directory holding results without a
   parameter record. (The rule is "refuse", never "silently redo": nothing is lost.)
4. **Begin**: stale exit markers and the previous run's output nodes are removed,
   ``note.txt`` gets the exact command, ``job.star`` the GUI options, the pipeline *Running*.
5. **Execute**; per-item work goes through :meth:`StageContext.for_each`, and one failure
   policy applies to every stage (:meth:`StageContext.require_items`): items that fail are
   listed, and the job fails unless ``skip_failed_micrographs`` is set.
6. **Finish**: ``RELION_OUTPUT_NODES.star``, the pipeline *Succeeded* with the output nodes,
   then ``RELION_JOB_EXIT_SUCCESS`` last. On cancellation: ``RELION_JOB_EXIT_ABORTED`` and
   *Aborted*; on any error: ``RELION_JOB_EXIT_FAILURE``, the message in ``run.err``, *Failed*
   (each as far as the disk allows: a full disk fails the job with
   :class:`~cryopick.errors.DiskFullError` naming the file, never with a half-written one).

A run that was killed leaves its job directory unfinished (no exit marker) and perhaps some
temporary files (``.<name>.tmp<pid>``); running the job again with the same parameters removes
those and continues it (step 3).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Sequence, TypeVar

import numpy as np

from cryopick.errors import (BadInputError, Cancelled, CryopickError, DependencyError, DiskFullError, MissingFileError,
                             PartialFailure)
from cryopick.io.atomic import write_text_atomic
from cryopick.io.jobdir import ABORTED, FAILURE, SUCCESS, JobDir, checked_post_path
from cryopick.io.mrc import read_header, read_mrc
from cryopick.io.optics import read_micrograph_list
from cryopick.io.paths import ProjectPaths
from cryopick.io.pipeline import register_job
from cryopick.io.star import read_star_raw, write_star
from cryopick.stages import fields as F
from cryopick.stages.registry import StageSpec, stage

__all__ = ["Cancelled", "ItemOutcome", "Progress", "ProgressFn", "Stage", "StageContext", "StageResult",
           "check_cancel", "no_progress"]

FINGERPRINT_FILE = ".cryopick_params.json"
OUTPUT_NODES_FILE = "RELION_OUTPUT_NODES.star"


@dataclass(frozen=True)
class Progress:
    """One progress report.

    Attributes
    ----------
    fraction : float
        Fraction of the job done, 0..1.
    item : str
        Current micrograph or iteration.
    message : str
        A log line (may be empty).
    """

    fraction: float
    item: str = ""
    message: str = ""


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A progress callback that ignores reports."""


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("job cancelled by the caller")


@dataclass
class StageResult:
    """What a stage returns: where its outputs are and a few numbers.

    Attributes
    ----------
    job_dir : str
        Project-relative job directory, e.g. ``AutoPick/job006/``.
    output_nodes : list[tuple[str, str]]
        ``(project-relative path, RELION node type label)``.
    counts : dict[str, int]
        E.g. ``{"micrographs": 10, "picks": 1043}``.
    summary : dict[str, float]
        Summary figures (mean FOM, ...).
    failures : dict[str, str]
        Items (micrographs) that failed, with the reason (only with ``skip_failed_micrographs``).
    figures : list[str]
        Project-relative paths of images a person wants to see.
    """

    job_dir: str
    output_nodes: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)


T = TypeVar("T")
R = TypeVar("R")


@dataclass
class ItemOutcome(Generic[R]):
    """What :meth:`StageContext.for_each` did.

    Attributes
    ----------
    done : list
        Results of the items that worked, in input order.
    failures : dict[str, str]
        Item name -> why it failed, in input order.
    errors : dict[str, CryopickError]
        The exceptions themselves.
    total : int
        Number of items.
    """

    done: list[R]
    failures: dict[str, str]
    errors: dict[str, CryopickError]
    total: int


@dataclass
class StageContext:
    """What :meth:`Stage.run` hands the stage's ``execute`` step.

    Attributes
    ----------
    spec : StageSpec
    params : Params
    project : ProjectPaths
        Input path rules (:meth:`ProjectPaths.read_path`).
    job : JobDir
        The job directory; every output path comes from :meth:`JobDir.output` /
        :meth:`JobDir.item_output`, which keep it inside.
    progress : ProgressFn
    cancel : threading.Event or None
    reuse : bool
        An earlier run with the same parameters left items behind that may be reused.
    """

    spec: StageSpec
    params: Any
    project: ProjectPaths
    job: JobDir
    progress: ProgressFn
    cancel: threading.Event | None
    reuse: bool

    @property
    def root(self) -> Path:
        return self.project.root

    def log(self, line: str) -> None:
        self.job.log(line)

    def check_cancel(self) -> None:
        check_cancel(self.cancel)

    def micrograph_path(self, name: str) -> Path:
        """Where micrograph ``name`` (as written in a STAR file) is read from (linked-in allowed)."""
        return self.project.read_path(name, "micrograph", linked_ok=True)

    def read_micrograph(self, name: str, buffer: Callable[[tuple[int, int]], np.ndarray] | None = None) -> np.ndarray:
        """Micrograph ``name`` as a (ny, nx) float32 array, read into ``buffer((ny, nx))`` when given.

        Raises
        ------
        MissingFileError, BadInputError
            Missing or unreadable file, a stack instead of one micrograph, NaN or infinite pixels,
            or every pixel equal (nothing to pick or normalise); the message names the file.
        """
        path = self.micrograph_path(name)
        hdr = read_header(path)
        if hdr.nz != 1:
            raise BadInputError(f"{path}: is a stack of {hdr.nz} images, expected one micrograph")
        mic = read_mrc(path, out=buffer((hdr.ny, hdr.nx)) if buffer else None)  # refuses NaN and infinity
        lo, hi = float(mic.min()), float(mic.max())
        if lo == hi:
            raise BadInputError(f"{path}: every pixel is {lo:g} (a blank micrograph: nothing to pick or extract)")
        return mic

    def for_each(
        self,
        items: Sequence[T],
        work: Callable[[T], R],
        name: Callable[[T], str],
        threads: int = 1,
        note: Callable[[R], str] | None = None,
    ) -> ItemOutcome[R]:
        """Run ``work`` on every item in ``threads`` threads; report and log in input order.

        A :class:`~cryopick.errors.CryopickError` fails that item only (logged to run.err; its
        message names the item, see :func:`naming_item`); :class:`Cancelled` and
        :class:`~cryopick.errors.DiskFullError` stop the job; any other exception is a bug and fails the job.
        """
        done: list[R] = []
        failures: dict[str, str] = {}
        errors: dict[str, CryopickError] = {}
        n = len(items)

        def guarded(item: T) -> R:
            self.check_cancel()
            return work(item)

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            futures = [pool.submit(guarded, item) for item in items]
            try:
                for k, (item, fut) in enumerate(zip(items, futures), start=1):
                    label = name(item)
                    try:
                        res = fut.result()
                    except (Cancelled, DiskFullError):  # stop the job: not a problem of this item
                        raise
                    except CryopickError as exc:
                        exc = naming_item(exc, label)
                        failures[label], errors[label] = str(exc), exc
                        self.job.log_error(f"ERROR: {label}: {exc}")
                        self.progress(Progress(k / n, label, f"FAILED {label}: {exc}"))
                        continue
                    done.append(res)
                    line = f"{label}: {note(res)}" if note else label
                    self.job.log(" " + line)
                    self.progress(Progress(k / n, label, line))
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return ItemOutcome(done, failures, errors, n)

    def require_items(self, outcome: ItemOutcome, what: str = "micrographs") -> None:
        """The failure policy: failed items fail the job unless ``skip_failed_micrographs`` is set.

        Raises
        ------
        CryopickError
            The item's own error when one item failed; :class:`MissingFileError` when every
            item failed for a missing file; else :class:`PartialFailure` listing them all.
            Also when every item failed even with ``skip_failed_micrographs``.
        """
        if not outcome.failures:
            return
        if getattr(self.params, "skip_failed_micrographs", False) and outcome.done:
            self.job.log(f" + {len(outcome.failures)} {what} failed and were skipped (see run.err)")
            return
        if len(outcome.errors) == 1:
            raise next(iter(outcome.errors.values()))
        listing = "; ".join(outcome.failures.values())
        message = f"{len(outcome.failures)} of {outcome.total} {what} failed: {listing}"
        if not outcome.done and all(isinstance(e, MissingFileError) for e in outcome.errors.values()):
            raise MissingFileError(message)
        raise PartialFailure(message, outcome.failures)


def prefixed(exc: CryopickError, prefix: str) -> CryopickError:
    """``exc`` with ``prefix`` (a file or item name) in front of its message: same class, the
    original as its cause; an error class with other constructor arguments is returned as it is."""
    try:
        named = type(exc)(f"{prefix}: {exc}")
    except TypeError:
        return exc
    named.__cause__ = exc
    return named


def naming_item(exc: CryopickError, label: str) -> CryopickError:
    """``exc`` naming ``label`` (the item: usually a micrograph's name), prefixed unless it already does."""
    return exc if label in str(exc) else prefixed(exc, label)


def read_micrographs(project: ProjectPaths, star_rel: str) -> tuple[list[str], float]:
    """A micrographs STAR's names and pixel size, checked: not empty, every name in the project.

    Raises
    ------
    MissingFileError, BadInputError
        Naming the file and the problem.
    """
    star = project.read_path(star_rel, "micrographs STAR")
    names, pixel_size_angstrom = read_micrograph_list(star)
    if not names:
        raise BadInputError(f"{star}: the micrograph list is empty")
    refuse_duplicate_micrographs(star, names)
    check_micrograph_names(project, names, star)
    return names, pixel_size_angstrom


def resolve_device(choice: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is an error.

    Raises
    ------
    DependencyError
        ``cuda`` asked for and no CUDA device is available.
    """
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise DependencyError("--device cuda: no CUDA device is available to torch on this machine")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def refuse_duplicate_micrographs(star: object, names: Sequence[str]) -> None:
    """A micrographs STAR names each micrograph once (RELION keys micrographs by name); a repeated
    name would process that micrograph twice and list its particles twice.

    Raises
    ------
    BadInputError
        Naming the file, how many names repeat and the first few of them.
    """
    repeated = [name for name, count in Counter(names).items() if count > 1]  # in order of first appearance
    if repeated:
        shown = ", ".join(repeated[:3]) + (f" and {len(repeated) - 3} more" if len(repeated) > 3 else "")
        raise BadInputError(f"{star}: {len(repeated)} micrograph name(s) appear more than once in data_micrographs "
                            f"({shown}); each micrograph must be listed once")


def check_micrograph_names(project: ProjectPaths, names: Sequence[str], listed_in: object = None) -> None:
    """Every micrograph lies in the project (or is linked in) and its per-micrograph outputs stay in the job.

    Called by ``prepare`` steps, so a bad name is refused before anything is written; the error
    names the STAR file ``listed_in`` that lists it, when given.
    """
    for name in names:
        try:
            project.read_path(name, "micrograph", linked_ok=True)
            checked_post_path(name)
        except CryopickError as exc:
            if listed_in is None:
                raise
            raise prefixed(exc, str(listed_in)) from None


Prepare = Callable[[Any, ProjectPaths], Any]
Execute = Callable[[StageContext, Any], StageResult]


@dataclass(frozen=True)
class Stage:
    """The behaviour of one registered stage (see the module docstring).

    Attributes
    ----------
    name : str
        Registry name (:func:`cryopick.stages.registry.stage`).
    prepare : callable
        ``(params, project) -> plan``: read and check every input; must not write.
        A plan with a ``fingerprint_extra`` dict adds derived values (e.g. the pixel size
        read from the optics table) to the parameter fingerprint.
    execute : callable
        ``(context, plan) -> StageResult``.
    job_options : callable, optional
        ``params -> dict``: ``job.star`` options beyond the fields' own (fixed or derived ones).
    process_label : callable, optional
        ``params -> str``: a process label other than the registry's (re-extraction).
    """

    name: str
    prepare: Prepare
    execute: Execute
    job_options: Callable[[Any], dict[str, Any]] | None = None
    process_label: Callable[[Any], str] | None = None

    @property
    def spec(self) -> StageSpec:
        return stage(self.name)

    def run(
        self,
        params: Any,
        project_root: str | Path,
        job_dir: str,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> StageResult:
        """Run the job into ``job_dir`` of the project at ``project_root`` (see the module docstring).

        Raises
        ------
        BadInputError, MissingFileError, DependencyError, ResourceError
            Bad parameters, inputs or job directory; failed items (see
            :meth:`StageContext.require_items`). The message names the file and the problem.
        Cancelled
            ``cancel`` was set.
        """
        spec = self.spec
        project = ProjectPaths(project_root)
        job_rel = project.job_dir(job_dir, spec.job_type)
        project.check_job_tree(job_rel)
        job = JobDir(project, job_rel)
        label = self.process_label(params) if self.process_label else spec.process_label
        try:
            F.check_fields(params)
            validate = getattr(params, "validate", None)
            if callable(validate):
                validate()
            plan = self.prepare(params, project)
        except CryopickError as exc:
            if not isinstance(exc, Cancelled) and not job.results():
                _record_failure(job, label, exc)
            raise
        fingerprint = {**F.fingerprint(params), **getattr(plan, "fingerprint_extra", {})}
        reuse = _check_fingerprint(job, fingerprint)
        inputs = _input_nodes(params, project)
        is_continue = job.file("job.star").exists()
        job.remove_temporaries()  # of a run that was killed while writing
        _remove_previous_outputs(job)
        options = {**F.job_options(params), **(self.job_options(params) if self.job_options else {})}
        result = None
        try:
            job.begin(F.command_line(spec.name, params, job_rel), label, options, is_continue=is_continue)
            write_text_atomic(job.output(FINGERPRINT_FILE), json.dumps(fingerprint, sort_keys=True) + "\n")
            register_job(project.root, job_rel, label, "Running", inputs=inputs)
            ctx = StageContext(spec, params, project, job, progress or no_progress, cancel, reuse)
            ctx.check_cancel()
            result = self.execute(ctx, plan)
            _check_result(spec, params, result)
            _write_output_nodes(job, result.output_nodes)
            register_job(project.root, job_rel, label, "Succeeded", inputs=inputs, outputs=result.output_nodes)
            job.mark(SUCCESS)
        except BaseException as exc:
            # best effort: on a full disk these writes may fail too, and must not hide ``exc``
            aborted = isinstance(exc, Cancelled)
            if result is not None:  # failed while finishing (e.g. disk full): its output nodes must not look finished
                _remove_outputs(job, [n for n, _ in result.output_nodes])
            with contextlib.suppress(Exception):
                job.log_error(f"{'ABORTED' if aborted else 'ERROR'}: {exc}")
            with contextlib.suppress(Exception):
                job.mark(ABORTED if aborted else FAILURE)
            with contextlib.suppress(Exception):
                register_job(project.root, job_rel, label, "Aborted" if aborted else "Failed", inputs=inputs)
            raise
        return result


def _record_failure(job: JobDir, label: str, exc: BaseException) -> None:
    """A job that failed before it began: run.err, the FAILURE marker, *Failed* in the pipeline."""
    with contextlib.suppress(Exception):
        job.path.mkdir(parents=True, exist_ok=True)
        job.log_error(f"ERROR: {exc}")
        job.mark(FAILURE)
        register_job(job.project.root, job.rel, label, "Failed")


def _check_fingerprint(job: JobDir, fingerprint: dict[str, Any]) -> bool:
    """True if an earlier run with these parameters may be continued; raises if it may not."""
    path = job.file(FINGERPRINT_FILE)
    if not path.exists():
        if job.results():
            raise BadInputError(
                f"{job.rel} already holds results ({', '.join(job.results()[:3])}, ...) without a cryopick "
                f"parameter record; run the job in a new job directory"
            )
        return False
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        raise BadInputError(f"{path}: unreadable parameter record; run the job in a new job directory") from None
    if previous != json.loads(json.dumps(fingerprint, sort_keys=True)):
        changed = sorted(k for k in set(previous) | set(fingerprint) if previous.get(k) != F.to_jsonable(fingerprint.get(k)))
        detail = ", ".join(f"{k}: {previous.get(k)!r} -> {fingerprint.get(k)!r}" for k in changed)
        raise BadInputError(
            f"{job.rel} was run with different parameters ({detail}); a job directory holds one parameter set, "
            f"so run these parameters in a new job directory (or delete {job.rel} first)"
        )
    return True


def _input_nodes(params: Any, project: ProjectPaths) -> list[tuple[str, str]]:
    """``(project-relative path, node label)`` of the input files given."""
    out = []
    for f in F.fields_of(type(params)):
        if not f.is_input:
            continue
        value = getattr(params, f.name)
        for rel in (value if isinstance(value, tuple) else (value,)):
            if rel:
                out.append((project.relative(rel, f.info.cli), f.info.node or "UnknownNodeType"))
    return out


def _remove_previous_outputs(job: JobDir) -> None:
    """Delete the output nodes of an earlier run of this job, so a failed re-run never looks finished."""
    listing = job.file(OUTPUT_NODES_FILE)
    if not listing.exists():
        return
    with contextlib.suppress(CryopickError):
        table = read_star_raw(listing).get("output_nodes")
        _remove_outputs(job, [str(n) for n in (table.columns.get("rlnPipeLineNodeName", []) if table is not None else [])])
    listing.unlink(missing_ok=True)


def _remove_outputs(job: JobDir, nodes: Sequence[str]) -> None:
    """Delete the project-relative output ``nodes`` that lie in ``job`` (and its node listing), best effort."""
    for rel in nodes:
        if rel.startswith(job.rel):
            with contextlib.suppress(CryopickError, OSError):
                job.output(rel[len(job.rel):]).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        job.file(OUTPUT_NODES_FILE).unlink(missing_ok=True)


def _check_result(spec: StageSpec, params: Any, result: StageResult) -> None:
    """The stage kept its contract (a broken one is a bug: the job fails)."""
    unknown = [label for _, label in result.output_nodes if label not in spec.outputs]
    if unknown:
        raise RuntimeError(f"{spec.name}: output node types {unknown} are not declared in the stage registry")
    if result.failures and not getattr(params, "skip_failed_micrographs", False):
        raise RuntimeError(f"{spec.name}: returned failed items without skip_failed_micrographs")


def _write_output_nodes(job: JobDir, nodes: list[tuple[str, str]]) -> None:
    write_star(job.output(OUTPUT_NODES_FILE), {"output_nodes": {
        "rlnPipeLineNodeName": np.array([n for n, _ in nodes], dtype=object),
        "rlnPipeLineNodeTypeLabel": np.array([t for _, t in nodes], dtype=object),
    }})
