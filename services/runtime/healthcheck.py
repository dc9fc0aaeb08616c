"""Exit 0 if a service reports SERVING: ``python -m cryopick.services.runtime.healthcheck HOST:PORT [SERVICE]``.

For container health checks (compose, Kubernetes exec probes). Over TLS when ``CRYOPICK_TLS_CA`` is
set (and with a client certificate from ``CRYOPICK_TLS_CLIENT_CERT``/``_KEY`` for mutual TLS).
"""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cryopick.services.runtime.tls import open_channel


def check(address: str, service: str = "", timeout: float = 5.0) -> bool:
    """Whether the health service at ``address`` reports ``service`` ("" = overall) SERVING."""
    try:
        with open_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not 1 <= len(argv) <= 2:
        sys.stderr.write(__doc__.splitlines()[0] + "\n")
        return 2
    ok = check(*argv)
    sys.stderr.write(f"{argv[0]}: {'SERVING' if ok else 'not serving'}\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
