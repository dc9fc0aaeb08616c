"""What every cryopick gRPC service shares: paths, error mapping, job slots, the stage-to-RPC helper and the server."""
