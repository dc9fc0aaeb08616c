"""The one generic helper: turn a stage + a request into a streaming RPC.

A servicer method is one line (:mod:`cryopick.services.runtime.roles` writes them from the
stage registry)::

    def PickLoG(self, request, context):
        return self.runner.stream(request, context, stage("autopick-log"))

:meth:`JobRunner.stream` validates the target and parameters, waits for a job slot, runs the
stage's ``run(params, project_root, job_dir, progress, cancel)`` in a worker thread, streams the
stage's progress reports as ``JobEvent.progress`` and ends with ``JobEvent.result`` — or with a
status code mapped from the stage's exception. The stage's ``cancel`` event is set when the RPC
ends early: client cancel or disconnect, deadline, or server shutdown after the grace period.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import grpc

from cryopick.services.gen import common_pb2
from cryopick.services.runtime.errors import Unimplemented, status_for
from cryopick.services.runtime.params import build_params
from cryopick.services.runtime.paths import ProjectDir
from cryopick.services.runtime.slots import JobSlots
from cryopick.stages.base import Progress, StageResult
from cryopick.stages.registry import StageSpec

log = logging.getLogger(__name__)

QUEUED_LINE = "queued: waiting for a free job slot"
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class JobInfo:
    """What :attr:`JobRunner.stage_hook` is told about a job just before its stage runs."""

    stage: str
    project_root: Path
    job_dir: str
    params: Any
    cancel: threading.Event


def result_message(result: StageResult) -> common_pb2.Result:
    """A stage result as a ``Result`` message."""
    return common_pb2.Result(
        job_dir=result.job_dir,
        output_nodes=[common_pb2.OutputNode(path=p, type_label=t) for p, t in result.output_nodes],
        counts={k: int(v) for k, v in result.counts.items()},
        summary={k: float(v) for k, v in result.summary.items()},
        failures={k: str(v) for k, v in result.failures.items()},
        figures=list(result.figures),
    )


def progress_message(p: Progress) -> common_pb2.JobEvent:
    """A stage progress report as a ``JobEvent``."""
    fraction = float(p.fraction) if math.isfinite(p.fraction) else 0.0
    return common_pb2.JobEvent(
        progress=common_pb2.Progress(fraction=min(max(fraction, 0.0), 1.0), item=str(p.item), log_line=str(p.message))
    )


def load_stage(spec: StageSpec):
    """The stage's module; a stage without a ``run`` (or module) yet is UNIMPLEMENTED, naming the job."""
    try:
        module = spec.module()
    except ModuleNotFoundError as exc:
        if exc.name and spec.module_name.startswith(exc.name):
            raise Unimplemented(f"{spec.title} is not available in this build ({spec.module_name} is missing)") from exc
        raise
    if not callable(getattr(module, "run", None)):
        raise Unimplemented(f"{spec.title} is not implemented yet")
    return module


class JobRunner:
    """Runs stage jobs for one service: project paths, job slots, worker threads, cancellation.

    Parameters
    ----------
    service_root : path
        ``--project-root``; request paths resolve inside ``service_root/<target.project>``.
    slots : JobSlots
        Concurrency limit and queue.
    """

    def __init__(self, service_root: str | Path, slots: JobSlots | None = None):
        self.service_root = Path(service_root)
        self.slots = slots or JobSlots()
        #: Test seam: called in the worker thread, after the slot is taken and before the stage runs.
        self.stage_hook: Callable[[JobInfo], None] | None = None
        self._workers: set[threading.Thread] = set()
        self._lock = threading.Lock()

    # -- the helper ------------------------------------------------------------------------
    def stream(self, request: Any, context: grpc.ServicerContext, spec: StageSpec) -> Iterator[common_pb2.JobEvent]:
        """Run stage ``spec`` for ``request``; see the module doc."""
        cancel = threading.Event()
        if not context.add_callback(cancel.set):  # RPC over: client cancel/disconnect, deadline, shutdown
            cancel.set()  # it already was
        try:
            module = load_stage(spec)
            project = ProjectDir.open(self.service_root, request.target.project)
            job_dir = project.job_dir(request.target.job_dir, spec.job_type)
            params = build_params(request, module.Params)
        except Exception as exc:  # noqa: BLE001 - mapped to a status
            self._abort(context, exc)
            return

        def stop() -> bool:
            if not context.is_active() or _deadline_passed(context):
                cancel.set()
            return cancel.is_set()

        try:
            ticket = self.slots.enter()
        except Exception as exc:  # noqa: BLE001
            self._abort(context, exc)
            return
        if ticket is not None:
            # gRPC may never resume this generator once the RPC ends, so leave the queue from the callback
            if not context.add_callback(lambda: self.slots.drop(ticket)):
                self.slots.drop(ticket)
            log.info("%s %s: queued (%d waiting)", spec.title, job_dir, self.slots.waiting)
            yield common_pb2.JobEvent(progress=common_pb2.Progress(fraction=0.0, item=job_dir, log_line=QUEUED_LINE))
            if not self.slots.wait(ticket, stop):
                log.info("%s %s: left the queue (cancelled)", spec.title, job_dir)
                return

        events: queue.Queue = queue.Queue()
        info = JobInfo(spec.name, project.path, job_dir, params, cancel)
        worker = threading.Thread(target=self._work, args=(module, info, events), name=f"job-{job_dir}", daemon=True)
        with self._lock:
            self._workers.add(worker)
        log.info("%s %s: started %s", spec.title, job_dir, params)
        worker.start()
        t0 = time.monotonic()
        while True:
            try:
                kind, payload = events.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                stop()
                continue
            if kind == "progress":
                yield progress_message(payload)
            elif kind == "result":
                log.info("%s %s: done in %.3f s", spec.title, job_dir, time.monotonic() - t0)
                yield common_pb2.JobEvent(result=result_message(payload))
                return
            else:
                log.info("%s %s: failed after %.1f s: %s", spec.title, job_dir, time.monotonic() - t0, payload)
                self._abort(context, payload)
                return

    # -- internals -------------------------------------------------------------------------
    def _work(self, module, info: JobInfo, events: queue.Queue) -> None:
        try:
            if self.stage_hook is not None:
                self.stage_hook(info)
            result = module.run(
                info.params, info.project_root, info.job_dir,
                progress=lambda p: events.put(("progress", p)), cancel=info.cancel,
            )
            events.put(("result", result))
        except BaseException as exc:  # noqa: BLE001 - handed to the RPC thread
            events.put(("error", exc))
        finally:
            self.slots.leave()
            with self._lock:
                self._workers.discard(threading.current_thread())

    @staticmethod
    def _abort(context: grpc.ServicerContext, exc: BaseException) -> None:
        code, message = status_for(exc)
        if context.is_active():
            context.abort(code, message)

    def cancel_all_and_wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for running stage threads (their cancel events are set by gRPC on stop)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            workers = list(self._workers)
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in workers)


def _deadline_passed(context: grpc.ServicerContext) -> bool:
    remaining = context.time_remaining()
    return remaining is not None and remaining <= 0
