"""``cryopick.v1.InfoService``: what code a service runs, for the callers' cache keys."""

from __future__ import annotations

from typing import Iterable

import grpc

import cryopick
from cryopick.code_version import code_version
from cryopick.services.gen import common_pb2, common_pb2_grpc

SERVICE_NAME = "cryopick.v1.InfoService"


def describe(role: str, stage_modules: Iterable[str]) -> common_pb2.ServiceInfo:
    """The role, cryopick's version and the code version of each stage module the role runs."""
    return common_pb2.ServiceInfo(role=role, package_version=cryopick.__version__,
                                  stage_code_versions={m: code_version(m) for m in stage_modules})


class InfoServicer(common_pb2_grpc.InfoServiceServicer):
    """Answers ``Describe`` with what was computed at start-up (the sources it hashed are the ones loaded)."""

    def __init__(self, role: str, stage_modules: Iterable[str]):
        self.info = describe(role, stage_modules)

    def Describe(self, request: common_pb2.DescribeRequest, context: grpc.ServicerContext) -> common_pb2.ServiceInfo:
        return self.info

    def add_to_server(self, server: grpc.Server) -> None:
        common_pb2_grpc.add_InfoServiceServicer_to_server(self, server)
