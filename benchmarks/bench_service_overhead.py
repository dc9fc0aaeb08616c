"""What the gRPC service and the Prefect flow add on top of a stage.

The same LoG picking and extraction jobs on the same simulated micrographs, run
(a) by calling the stages in Python, (b) through the picker/extractor services over gRPC,
(c) as Prefect tasks of a flow (services + temporary Prefect API). Each run works on its own
fresh copy of the project (micrographs hard-linked), so nothing is cached. Two projects:

- ``small``: 12 micrographs of 512 x 496 px (a job takes ~0.1-0.3 s: the overhead is most visible);
- ``tutorial``: 10 micrographs of 1920 x 1856 px at 1.77 A/px (the RELION tutorial's size).

For each job it prints the median seconds of (a), (b), (c) and the overhead of (b) and (c) over
(a), in seconds and as a fraction of the job's own time, split into: the stage's own time
inside the service process (from the service log's ``done in`` line), the RPC around it, the
task's artifacts (job table, picks figure / particle montage: rendered after the job, in the
task) and the rest of the task (cache key, job numbering, Prefect task run, progress). Service
and Prefect API start-up (once per ``cryopick run``) are printed apart.

    python benchmarks/bench_service_overhead.py [--preset small|tutorial|both] [--repeats 3]
        [--small-mics 12] [--tutorial-mics 10] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_compile  # noqa: E402

MICS = "CtfFind/job003/micrographs_ctf.star"
JOBS = ("LoG", "Extract")
ROLE_OF = {"LoG": "picker", "Extract": "extractor"}
_DONE = re.compile(r": done in ([0-9.]+) s")


class ServiceLog:
    """The stage times a service logs (``<capability> <job>: done in 0.123 s``) since :meth:`mark`."""

    def __init__(self, path: Path):
        self.path, self.pos = path, 0

    def mark(self) -> None:
        self.pos = self.path.stat().st_size

    def stage_seconds(self) -> list[float]:
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            return [float(x) for x in _DONE.findall(f.read().decode(errors="replace"))]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=("small", "tutorial", "both"), default="both")
    ap.add_argument("--small-mics", type=int, default=12)
    ap.add_argument("--tutorial-mics", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--verbose", action="store_true", help="print every run's times")
    args = ap.parse_args()
    byte_compile()  # whole-process timings without recompiling cryopick's sources (see common.py)

    scratch = Path(tempfile.mkdtemp(prefix="cryopick-bench-overhead-"))
    from cryopick.flows.launch import LocalServices, prefect_api, prepare_prefect_env

    prepare_prefect_env(scratch / "prefect-home")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from cryopick.flows.params import ExtractParams, LoGPickingParams
    from cryopick.stages.registry import stage
    from cryopick.sim.params import SimParams, preset
    from cryopick.synthetic.project import simulate_project

    cases: dict[str, tuple[SimParams, str]] = {}
    if args.preset in ("small", "both"):
        cases["small"] = (SimParams(n_micrographs=args.small_mics, seed=1), "512 x 496 px")
    if args.preset in ("tutorial", "both"):
        cases["tutorial"] = (preset("tutorial").replace(n_micrographs=args.tutorial_mics, seed=1), "1920 x 1856 px")
    for name, (sim, _) in cases.items():
        simulate_project(sim, scratch / f"template-{name}")

    log_p, ext_p = LoGPickingParams(), ExtractParams()
    copies = iter(range(10_000))

    def fresh(case: str) -> Path:
        dst = scratch / f"p{next(copies)}"
        shutil.copytree(scratch / f"template-{case}", dst, copy_function=_link_or_copy)
        return dst

    variants = ("stage", "grpc", "grpc_in_service", "flow", "flow_in_service", "artifacts")
    times = {c: {v: {j: [] for j in JOBS} for v in variants} for c in cases}

    # (a) stages in Python
    from cryopick.io.pipeline import allocate_job
    from cryopick.stages import autopick_log, extract

    for case in cases:
        for _ in range(args.repeats):
            root = fresh(case)
            job = allocate_job(root, "AutoPick")
            t = time.perf_counter()
            autopick_log.run(autopick_log.Params(micrographs_star=MICS, **log_p.model_dump()), root, job)
            times[case]["stage"]["LoG"].append(time.perf_counter() - t)
            ejob = allocate_job(root, "Extract")
            t = time.perf_counter()
            extract.run(extract.Params(micrographs_star=MICS, coords_star=f"{job}autopick.star", **ext_p.model_dump()), root, ejob)
            times[case]["stage"]["Extract"].append(time.perf_counter() - t)

    from cryopick.flows.client import call_job, request_message

    t0 = time.perf_counter()
    with LocalServices(scratch, roles=("picker", "extractor", "classifier", "ranker", "topaz")) as services:
        startup_services = time.perf_counter() - t0
        logs = {role: ServiceLog(scratch / ".cryopick" / "logs" / f"{role}.log") for role in ROLE_OF.values()}

        def in_service(job: str) -> float:
            found = logs[ROLE_OF[job]].stage_seconds()
            return found[-1] if found else float("nan")

        # (b) gRPC
        for case in cases:
            for _ in range(args.repeats):
                root = fresh(case)
                rel = root.name
                job = allocate_job(root, "AutoPick")
                logs["picker"].mark()
                t = time.perf_counter()
                req = request_message(stage("autopick-log"), job, rel, {"micrographs_star": MICS, **log_p.model_dump()})
                call_job("LoG", stage("autopick-log"), req, services.addresses["picker"])
                times[case]["grpc"]["LoG"].append(time.perf_counter() - t)
                times[case]["grpc_in_service"]["LoG"].append(in_service("LoG"))
                ejob = allocate_job(root, "Extract")
                logs["extractor"].mark()
                t = time.perf_counter()
                req = request_message(stage("extract"), ejob, rel,
                                      {"micrographs_star": MICS, "coords_star": f"{job}autopick.star", **ext_p.model_dump()})
                call_job("Extract", stage("extract"), req, services.addresses["extractor"])
                times[case]["grpc"]["Extract"].append(time.perf_counter() - t)
                times[case]["grpc_in_service"]["Extract"].append(in_service("Extract"))

        # (c) Prefect flow
        t0 = time.perf_counter()
        with prefect_api() as _url:
            startup_prefect = time.perf_counter() - t0
            from prefect import flow

            from cryopick.flows import tasks
            from cryopick.flows.params import STEPS
            from cryopick.flows.tasks import ProjectRef, for_project, job_task, node

            publish_s: list[float] = []
            publish = tasks._publish

            def timed_publish(*a, **k):  # the artifacts' share of a task (measured, not changed)
                t = time.perf_counter()
                try:
                    return publish(*a, **k)
                finally:
                    publish_s.append(time.perf_counter() - t)

            tasks._publish = timed_publish

            @flow(name="bench-overhead", persist_result=False)
            def bench(project_dir: str, service_project: str) -> dict:
                project = ProjectRef(project_dir=project_dir, service_project=service_project)
                t = time.perf_counter()
                log = for_project(job_task(STEPS["log_picking"]), project)(
                    project=project, params=log_p, files={"micrographs_star": MICS})
                t_log = time.perf_counter() - t
                t = time.perf_counter()
                for_project(job_task(STEPS["extract"]), project)(
                    project=project, params=ext_p,
                    files={"micrographs_star": MICS, "coords_star": node(log, "MicrographsCoords")})
                return {"LoG": t_log, "Extract": time.perf_counter() - t}

            for case in cases:
                for _ in range(args.repeats):
                    root = fresh(case)
                    publish_s.clear()
                    for log in logs.values():
                        log.mark()
                    r = bench(project_dir=str(root), service_project=root.name)
                    for j in JOBS:
                        times[case]["flow_in_service"][j].append(in_service(j))
                    for j, v in zip(JOBS, publish_s):
                        times[case]["artifacts"][j].append(v)
                    for k, v in r.items():
                        times[case]["flow"][k].append(v)
            tasks._publish = publish

    def pct(x: float, of: float) -> str:
        return f"{x:+7.3f} {x / of:+5.0%}"

    print(f"\nmedian of {args.repeats} runs, seconds per job; overheads also as a fraction of the stage's time")
    print(f"{'case':<20} {'job':<8} {'stage':>6} {'in svc':>6} {'gRPC':>6} {'flow':>6} | {'gRPC ovh':>13} {'flow ovh':>13} |"
          f" {'RPC':>6} {'artif.':>6} {'task rest':>9}")
    for case, (sim, size) in cases.items():
        label = f"{case} {sim.n_micrographs} x {size.split()[0]}px"
        for job in JOBS:
            m = {v: statistics.median(times[case][v][job]) for v in variants}
            s_, g, f, a = m["stage"], m["grpc"], m["flow"], m["artifacts"]
            rpc = statistics.median(x - y for x, y in zip(times[case]["grpc"][job], times[case]["grpc_in_service"][job]))
            rest = statistics.median(x - y - z for x, y, z in zip(times[case]["flow"][job], times[case]["flow_in_service"][job],
                                                                  times[case]["artifacts"][job]))
            print(f"{label:<20} {job:<8} {s_:6.3f} {m['grpc_in_service']:6.3f} {g:6.3f} {f:6.3f} | {pct(g - s_, s_)} "
                  f"{pct(f - s_, s_)} | {rpc:6.3f} {a:6.3f} {rest:9.3f}")
    print("stage: in this process; in svc: the same stage inside the service process (its log), for the gRPC runs;")
    print("RPC = gRPC - in svc; artif. = job table + picks figure / particle montage (in the task, after the job);")
    print("task rest = flow - in svc - artif. (cache key, job numbering, Prefect task run, progress, gRPC call).")
    first = next(iter(cases))
    print(f"first flow run in this process ({first}; pays the one-off imports: Prefect task engine, matplotlib "
          "(preloaded while the first drawn job runs), fonts): "
          + ", ".join(f"{j} {times[first]['flow'][j][0]:.3f} s (artifacts {times[first]['artifacts'][j][0]:.3f} s)" for j in JOBS))
    print(f"start-up (once per `cryopick run`): services {startup_services:.1f} s, Prefect API {startup_prefect:.1f} s")
    if args.verbose:
        for case in cases:
            for v in variants:
                print(f"  {case:<9} {v:<16} " + "  ".join(f"{j}: " + " ".join(f"{x:.3f}" for x in times[case][v][j]) for j in JOBS))
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
