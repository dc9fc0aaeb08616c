"""PickerService: subset selection and Laplacian-of-Gaussian picking."""

from __future__ import annotations

from cryopick.services.gen import picker_pb2_grpc
from cryopick.services.runtime.jobs import JobRunner
from cryopick.services.runtime.server import Role


class PickerServicer(picker_pb2_grpc.PickerServiceServicer):
    def __init__(self, runner: JobRunner):
        self.runner = runner

    def SelectSubsets(self, request, context):
        return self.runner.stream(request, context, "cryopick.stages.select", "subset selection")

    def PickLoG(self, request, context):
        return self.runner.stream(request, context, "cryopick.stages.autopick_log", "LoG picking")


ROLE = Role("picker", "cryopick.v1.PickerService", picker_pb2_grpc.add_PickerServiceServicer_to_server, PickerServicer,
            stages=("cryopick.stages.select", "cryopick.stages.autopick_log"))
