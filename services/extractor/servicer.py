"""ExtractorService: particle extraction and re-extraction."""

from __future__ import annotations

from cryopick.services.gen import extractor_pb2_grpc
from cryopick.services.runtime.jobs import JobRunner
from cryopick.services.runtime.server import Role


class ExtractorServicer(extractor_pb2_grpc.ExtractorServiceServicer):
    def __init__(self, runner: JobRunner):
        self.runner = runner

    def Extract(self, request, context):
        return self.runner.stream(request, context, "cryopick.stages.extract", "particle extraction")


ROLE = Role("extractor", "cryopick.v1.ExtractorService", extractor_pb2_grpc.add_ExtractorServiceServicer_to_server,
            ExtractorServicer, stages=("cryopick.stages.extract",))
