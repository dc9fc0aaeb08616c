"""RankerService: automatic 2D class selection (not implemented yet: answers UNIMPLEMENTED)."""

from __future__ import annotations

import grpc

from cryopick.services.gen import ranker_pb2_grpc
from cryopick.services.runtime.jobs import JobRunner
from cryopick.services.runtime.server import Role


class RankerServicer(ranker_pb2_grpc.RankerServiceServicer):
    def __init__(self, runner: JobRunner):
        self.runner = runner

    def RankClasses(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "automatic 2D class ranking is not implemented yet")


ROLE = Role("ranker", "cryopick.v1.RankerService", ranker_pb2_grpc.add_RankerServiceServicer_to_server, RankerServicer)
