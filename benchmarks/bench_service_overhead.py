"""What the gRPC service and the Prefect flow add on top of a stage.

The same LoG picking and extraction jobs on the same simulated micrographs, run
(a) by calling the stages in Python, (b) through the picker/extractor services over gRPC,
(c) as Prefect tasks of a flow (services + temporary Prefect API). Each variant works on its
own fresh copy of the project, so nothing is cached. Prints seconds per job and the overhead
fraction relative to (a). Service and Prefect start-up are reported separately.

    python benchmarks/bench_service_overhead.py [--n-mics 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

MICS = "CtfFind/job003/micrographs_ctf.star"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-mics", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="cryopick-bench-overhead-"))
    from cryopick.flows.launch import LocalServices, prefect_api, prepare_prefect_env

    prepare_prefect_env(scratch / "prefect-home")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from cryopick.flows.params import ExtractParams, LoGParams
    from cryopick.sim.params import SimParams
    from cryopick.sim.project import simulate_project

    template = scratch / "template"
    simulate_project(SimParams(n_micrographs=args.n_mics, seed=1), template)
    log_p, ext_p = LoGParams(), ExtractParams()
    copies = iter(range(10_000))

    def fresh() -> Path:
        dst = scratch / f"p{next(copies)}"
        shutil.copytree(template, dst)
        return dst

    times: dict[str, dict[str, list[float]]] = {v: {"LoG": [], "Extract": []} for v in ("stage", "grpc", "flow")}

    # (a) stages in Python
    from cryopick.io.pipeline import allocate_job
    from cryopick.stages import autopick_log, extract

    for _ in range(args.repeats):
        root = fresh()
        job = allocate_job(root, "AutoPick")
        t = time.perf_counter()
        autopick_log.run(autopick_log.Params(micrographs_star=MICS, **log_p.model_dump()), root, job)
        times["stage"]["LoG"].append(time.perf_counter() - t)
        ejob = allocate_job(root, "Extract")
        t = time.perf_counter()
        extract.run(extract.Params(micrographs_star=MICS, coords_star=f"{job}autopick.star", **ext_p.model_dump()), root, ejob)
        times["stage"]["Extract"].append(time.perf_counter() - t)

    from cryopick.flows.client import call_job, request_message

    t0 = time.perf_counter()
    with LocalServices(scratch, roles=("picker", "extractor", "classifier", "ranker", "topaz")) as services:
        startup_services = time.perf_counter() - t0
        # (b) gRPC
        for _ in range(args.repeats):
            root = fresh()
            rel = root.name
            job = allocate_job(root, "AutoPick")
            t = time.perf_counter()
            req = request_message("picker", "PickLoGRequest", job, rel, {"micrographs_star": MICS, **log_p.model_dump()})
            call_job("LoG", "picker", "PickLoG", req, services.addresses["picker"])
            times["grpc"]["LoG"].append(time.perf_counter() - t)
            ejob = allocate_job(root, "Extract")
            t = time.perf_counter()
            req = request_message("extractor", "ExtractRequest", ejob, rel,
                                  {"micrographs_star": MICS, "coords_star": f"{job}autopick.star", **ext_p.model_dump()})
            call_job("Extract", "extractor", "Extract", req, services.addresses["extractor"])
            times["grpc"]["Extract"].append(time.perf_counter() - t)

        # (c) Prefect flow
        t0 = time.perf_counter()
        with prefect_api() as _url:
            startup_prefect = time.perf_counter() - t0
            from prefect import flow

            from cryopick.flows.tasks import ProjectRef, autopick_log as log_task, extract_particles, for_project, node

            @flow(name="bench-overhead", persist_result=False)
            def bench(project_dir: str, service_project: str) -> dict:
                project = ProjectRef(project_dir=project_dir, service_project=service_project)
                t = time.perf_counter()
                log = for_project(log_task, project)(project=project, micrographs_star=MICS, params=log_p)
                t_log = time.perf_counter() - t
                t = time.perf_counter()
                for_project(extract_particles, project)(project=project, micrographs_star=MICS,
                                                        coords_star=node(log, "MicrographsCoords"), params=ext_p)
                return {"LoG": t_log, "Extract": time.perf_counter() - t}

            for _ in range(args.repeats):
                root = fresh()
                r = bench(project_dir=str(root), service_project=root.name)
                for k, v in r.items():
                    times["flow"][k].append(v)

    print(f"\n{args.n_mics} simulated micrographs 512 x 496 px, median of {args.repeats} (s); overhead vs. stage")
    print(f"{'job':<8} {'stage':>8} {'gRPC':>8} {'flow':>8} {'gRPC ovh':>9} {'flow ovh':>9}")
    for job in ("LoG", "Extract"):
        s, g, f = (statistics.median(times[v][job]) for v in ("stage", "grpc", "flow"))
        print(f"{job:<8} {s:8.3f} {g:8.3f} {f:8.3f} {(g - s) / s:9.1%} {(f - s) / s:9.1%}")
    print(f"start-up (once per `cryopick run`): services {startup_services:.1f} s, Prefect API {startup_prefect:.1f} s")
    print("flow times include the task's artifacts (table, picks figure, particle montage).")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
