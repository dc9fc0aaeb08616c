"""Client-side helpers for callers of the services (flows, tests, scripts)."""

from __future__ import annotations

from typing import Callable, Iterable

from cryopick.services.gen import common_pb2


def collect_result(
    events: Iterable[common_pb2.JobEvent],
    on_progress: Callable[[common_pb2.Progress], None] | None = None,
) -> common_pb2.Result:
    """Consume a job's event stream and return its ``Result``.

    Raises
    ------
    grpc.RpcError
        The job failed (``.code()``, ``.details()``).
    RuntimeError
        The stream ended without a result (a protocol violation).
    """
    for event in events:
        kind = event.WhichOneof("event")
        if kind == "progress":
            if on_progress is not None:
                on_progress(event.progress)
        elif kind == "result":
            return event.result
    raise RuntimeError("job event stream ended without a result")
