"""Generated gRPC/protobuf code for cryopick.v1 — do not edit; run ``make protos``."""
