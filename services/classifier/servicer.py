"""ClassifierService: 2D classification (not implemented yet: answers UNIMPLEMENTED)."""

from __future__ import annotations

import grpc

from cryopick.services.gen import classifier_pb2_grpc
from cryopick.services.runtime.jobs import JobRunner
from cryopick.services.runtime.server import Role


class ClassifierServicer(classifier_pb2_grpc.ClassifierServiceServicer):
    def __init__(self, runner: JobRunner):
        self.runner = runner

    def Classify2D(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "2D classification is not implemented yet")


ROLE = Role("classifier", "cryopick.v1.ClassifierService", classifier_pb2_grpc.add_ClassifierServiceServicer_to_server,
            ClassifierServicer)
