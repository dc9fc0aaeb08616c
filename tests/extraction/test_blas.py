"""OpenBLAS is single-threaded inside single_threaded_blas() and restored afterwards."""

import threading

import numpy as np  # noqa: F401  (loads numpy's OpenBLAS)
import pytest

from cryopick.extraction.blas import single_threaded_blas

threadpoolctl = pytest.importorskip("threadpoolctl")


def _openblas_threads():
    info = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
    if not info:
        pytest.skip("numpy does not use OpenBLAS here")
    return [i["num_threads"] for i in info]


def test_limited_inside_restored_after_even_when_entered_and_left_in_different_threads():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _openblas_threads()
        assert max(before) == 2
        with single_threaded_blas():
            assert _openblas_threads() == [1] * len(before)
        assert _openblas_threads() == before

        # a worker thread enters first, the main thread enters, the worker leaves first, then the main thread
        entered, release, seen = threading.Event(), threading.Event(), []

        def worker():
            with single_threaded_blas():
                seen.append(_openblas_threads())
                entered.set()
                release.wait(10)

        t = threading.Thread(target=worker)
        t.start()
        assert entered.wait(10)
        assert seen == [[1] * len(before)]
        with single_threaded_blas():
            release.set()
            t.join(10)
            assert _openblas_threads() == [1] * len(before)  # still one extraction inside
        assert _openblas_threads() == before
