"""Smoke RPCs for containers/smoke.sh: Select -> LoG picking -> Extract through running services.

    python containers/smoke_rpc.py PROJECT PICKER_ADDRESS EXTRACTOR_ADDRESS

Allocates the job directories on the host (as the flow does), calls the services over gRPC with
the client helpers of ``cryopick.services.runtime.client`` and prints one line per job with
its counts and wall time. Exits non-zero (with the status code) if an RPC fails.
"""

from __future__ import annotations

import sys
import time

import grpc

from cryopick.io.pipeline import allocate_job
from cryopick.services.gen import common_pb2, extractor_pb2, extractor_pb2_grpc, picker_pb2, picker_pb2_grpc
from cryopick.services.runtime.client import collect_result
from cryopick.services.runtime.tls import open_channel

MICROGRAPHS = "CtfFind/job003/micrographs_ctf.star"  # written by `cryopick simulate`


def _call(label: str, rpc, request) -> common_pb2.Result:
    t0 = time.perf_counter()
    try:
        result = collect_result(rpc(request, timeout=300))
    except grpc.RpcError as exc:
        print(f"smoke: {label} failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        raise SystemExit(1) from None
    counts = ", ".join(f"{k} {v:g}" for k, v in result.counts.items())
    print(f"smoke: {label:<8} {result.job_dir:<18} {time.perf_counter() - t0:5.2f} s  {counts}", flush=True)
    return result


def _node(result: common_pb2.Result, type_label_part: str, suffix: str = "") -> str:
    for node in result.output_nodes:
        if type_label_part in node.type_label and node.path.endswith(suffix):
            return node.path
    raise SystemExit(f"smoke: {result.job_dir} has no {type_label_part} output node ({list(result.output_nodes)})")


def main(project: str, picker: str, extractor: str) -> int:
    def target(process: str) -> common_pb2.JobTarget:
        return common_pb2.JobTarget(job_dir=allocate_job(project, process))

    with open_channel(picker) as pch, open_channel(extractor) as ech:
        pick = picker_pb2_grpc.PickerServiceStub(pch)
        ext = extractor_pb2_grpc.ExtractorServiceStub(ech)
        split = _call("Select", pick.SelectSubsets, picker_pb2.SelectSubsetsRequest(
            target=target("Select"), micrographs_star=MICROGRAPHS, split_size=2))
        mics = _node(split, "MicrographsData", "_split1.star")
        log = _call("AutoPick", pick.PickLoG, picker_pb2.PickLoGRequest(
            target=target("AutoPick"), micrographs_star=mics,
            diameter_min_angstrom=150, diameter_max_angstrom=180, threads=1))
        _call("Extract", ext.Extract, extractor_pb2.ExtractRequest(
            target=target("Extract"), micrographs_star=mics, coords_star=_node(log, "MicrographsCoords"),
            box_size_px=64, threads=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    raise SystemExit(main(*sys.argv[1:]))
