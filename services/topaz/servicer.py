"""TopazService: Topaz training and picking (not implemented yet: answers UNIMPLEMENTED)."""

from __future__ import annotations

import grpc

from cryopick.services.gen import topaz_pb2_grpc
from cryopick.services.runtime.jobs import JobRunner
from cryopick.services.runtime.server import Role


class TopazServicer(topaz_pb2_grpc.TopazServiceServicer):
    def __init__(self, runner: JobRunner):
        self.runner = runner

    def Train(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Topaz training is not implemented yet")

    def Pick(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Topaz picking is not implemented yet")


ROLE = Role("topaz", "cryopick.v1.TopazService", topaz_pb2_grpc.add_TopazServiceServicer_to_server, TopazServicer)
