"""Keep numpy's OpenBLAS single-threaded while micrographs are processed in parallel threads.

The rescaling products (:mod:`cryopick.extraction.rescale`) run on BLAS. OpenBLAS
starts its own thread pool per call; called from several Python threads at once,
on a machine with other work, its spinning threads multiply the run time (measured:
5x on 2 busy cores). Parallelism comes from the micrograph threads instead, so
OpenBLAS is limited to one thread while any extraction runs (a process-wide
setting of OpenBLAS, restored when the last one finishes, whichever thread that
is). Other BLAS libraries (e.g. torch's) are left alone.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from threadpoolctl import OpenBLASController, ThreadpoolController

_lock = threading.Lock()
_depth = 0
_limiter = None


def _release_control() -> None:
    """Let any thread set OpenBLAS limits next (threadpoolctl >= 3.6 lets only one thread do so)."""
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def _limit_openblas():
    _release_control()
    limiter = ThreadpoolController().select(internal_api="openblas").limit(limits=1)
    _release_control()
    return limiter


def _restore(limiter) -> None:
    _release_control()  # the last extraction to finish may run in another thread than the first
    limiter.restore_original_limits()
    _release_control()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit OpenBLAS to one thread inside the block (re-entrant across threads, reference-counted)."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = _limit_openblas()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _restore(_limiter)
                _limiter = None
