"""gRPC health checking (``grpc.health.v1``): NOT_SERVING until models are loaded, and again during shutdown."""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Health:
    """The health servicer of one server, tracking the overall status ``""`` and one service name."""

    def __init__(self, service_name: str):
        self.service_name = service_name
        self.servicer = health.HealthServicer(experimental_non_blocking=True)
        self._set(NOT_SERVING)

    def _set(self, status) -> None:
        for name in ("", self.service_name):
            self.servicer.set(name, status)

    def add_to_server(self, server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)

    def serving(self) -> None:
        """Models are loaded: accept jobs."""
        self._set(SERVING)

    def shutting_down(self) -> None:
        """Report NOT_SERVING from now on (shutdown has begun)."""
        self.servicer.enter_graceful_shutdown()
