"""``cryopick.v1.InfoService``: every service says which code it runs for each of its stages."""

from __future__ import annotations

import pytest

import cryopick
from cryopick.code_version import code_version
from cryopick.services.gen import common_pb2, common_pb2_grpc
from cryopick.stages.registry import stages_of_role


@pytest.mark.parametrize("role", ["picker", "extractor", "ranker"])
def test_describe_names_the_code_version_of_every_stage_the_role_runs(start_service, project, role):
    _, channel = start_service(role, project)
    info = common_pb2_grpc.InfoServiceStub(channel).Describe(common_pb2.DescribeRequest(), timeout=10)
    modules = {s.module_name for s in stages_of_role(role)}
    assert info.role == role and info.package_version == cryopick.__version__
    assert dict(info.stage_code_versions) == {m: code_version(m) for m in modules}
    assert len(set(info.stage_code_versions.values())) == len(modules)  # each stage has its own
