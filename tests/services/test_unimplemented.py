"""A step a service cannot run answers UNIMPLEMENTED, naming the job, and writes nothing.

Every stage is built now, so the two ways a step can still be unavailable are tested: a
build whose stage module has no ``run`` (or is missing), and a request sent to a service that
does not offer it (a wrong address, or an older service version).
"""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest

from cryopick.services.gen import common_pb2, ranker_pb2, ranker_pb2_grpc
from cryopick.services.runtime.client import collect_result
from cryopick.services.runtime.errors import Unimplemented
from cryopick.services.runtime.jobs import load_stage
from cryopick.stages.registry import stage

T = common_pb2.JobTarget(job_dir="X/job001/")


def test_a_stage_without_run_or_module_is_unimplemented_naming_the_job():
    spec = stage("rank")
    assert load_stage(spec).run  # built
    with pytest.raises(Unimplemented, match="Auto-select 2D classes is not implemented yet"):
        load_stage(replace(spec, module_name="cryopick.stages.fields"))  # a module without run
    with pytest.raises(Unimplemented, match=r"not available in this build \(cryopick.stages.no_such_stage is missing\)"):
        load_stage(replace(spec, module_name="cryopick.stages.no_such_stage"))


def test_a_service_asked_for_a_method_it_does_not_offer_answers_unimplemented(project, start_service):
    _, channel = start_service("picker", project)  # the picker has no RankerService
    call = ranker_pb2_grpc.RankerServiceStub(channel).RankClasses(
        ranker_pb2.RankClassesRequest(target=T, optimiser_star="o.star"), timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        collect_result(call)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert not (project / "X").exists()  # no fake output
