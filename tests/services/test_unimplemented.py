"""Stages without a ``run`` yet answer UNIMPLEMENTED, naming the job, and write nothing."""

from __future__ import annotations

import grpc
import pytest

from cryopick.services.gen import common_pb2, ranker_pb2, ranker_pb2_grpc
from cryopick.services.runtime.client import collect_result

T = common_pb2.JobTarget(job_dir="X/job001/")
CASES = [
    ("ranker", lambda ch: ranker_pb2_grpc.RankerServiceStub(ch).RankClasses(
        ranker_pb2.RankClassesRequest(target=T, optimiser_star="o.star"), timeout=10), "Auto-select 2D classes"),
]


@pytest.mark.parametrize("role,call,capability", CASES, ids=["rank"])
def test_unimplemented_names_the_capability(project, start_service, role, call, capability):
    _, channel = start_service(role, project)
    with pytest.raises(grpc.RpcError) as err:
        collect_result(call(channel))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert capability in err.value.details() and "not implemented yet" in err.value.details()
    assert not (project / "X").exists()  # no fake output
