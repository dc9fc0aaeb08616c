"""Load: K flow runs at once against one set of services, and a full job queue shedding load.

**Part 1, throughput.** K simulated projects (``--n-mics`` micrographs of 512 x 496 px each,
seeds 100..100+K-1), the ``particle-picking`` flow with the short chain of the flow tests
(Select → LoG → Extract → Class2D 2 classes × 1 iteration → auto-selection → Topaz training
1 epoch → Topaz picking → final extraction; ``--route pretrained``: Select → Topaz picking
with the pretrained network → final extraction). Every service is the ``cryopick run`` default:
one job at a time, eight queued. First each project runs alone, one after another; then a
fresh copy of every project runs at once (K flow runs in K threads of this process, against the
same services and Prefect API). Printed: wall time of each phase, micrographs per minute,
per-run latency (min / median / max), and the checks that nothing was lost or mixed up: every
run completed, job numbers unique in each ``default_pipeline.star``, every process listed once
and Succeeded, and every STAR/MRC output of a concurrent run byte-identical to the lone run of
the same project. Peak memory (VmHWM) of each service process and of the flow process.

**Part 2, shedding.** A picker with ``--max-concurrent-jobs 1 --max-queued-jobs 2`` gets
``--burst`` LoG picking jobs at once (each on all micrographs of one project). Printed: how
many ran, how many were refused with RESOURCE_EXHAUSTED, that the refused ones wrote nothing,
and the picker's peak memory before and after the burst.

Usage: ``python benchmarks/bench_load.py [--k 4] [--n-mics 4] [--route chain|pretrained]
[--burst 12] [--keep]``. Writes ``bench_out/bench_load.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MICS = "CtfFind/job003/micrographs_ctf.star"


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def outputs(root: Path, jobs: dict[str, str]) -> dict[str, str]:
    """sha256 of every STAR/MRC output of the given jobs (job.star, which records the run, excluded)."""
    found = {}
    for job in sorted(set(jobs.values())):
        for p in sorted((root / job).rglob("*")):
            if p.is_file() and p.suffix in (".star", ".mrc", ".mrcs") and p.name != "job.star":
                found[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def pipeline_problems(root: Path, jobs: dict[str, str]) -> list[str]:
    from cryopick.io.pipeline import read_pipeline

    p = read_pipeline(root)
    names = [row[0] for row in p.processes]
    problems = []
    if len(names) != len(set(names)):
        problems.append("a process is listed twice")
    numbers = [int(n.rstrip("/").rsplit("job", 1)[1]) for n in names]
    if len(numbers) != len(set(numbers)):
        problems.append("a job number is used twice")
    if numbers and p.job_counter <= max(numbers):
        problems.append("job counter not above every job")
    status = {row[0]: row[3] for row in p.processes}
    problems += [f"{j} is {status.get(j, 'missing')}" for j in jobs.values() if status.get(j) != "Succeeded"]
    return problems


def flow_params(route: str) -> dict:
    from cryopick.flows.params import AutoSelectParams, Class2dParams, TopazTrainingParams

    if route == "pretrained":
        return {"topaz_route": "pretrained"}
    return {"class2d": Class2dParams(nr_classes=2, nr_iter=1, threads=2),
            "auto_select": AutoSelectParams(select_min_nr_classes=1),
            "topaz_training": TopazTrainingParams(nr_epochs=1, epoch_size=4, minibatch_size=32,
                                                  nr_particles_per_micrograph=30)}


def run_flow(root_of_services: Path, name: str, params: dict) -> tuple[float, dict[str, str]]:
    from cryopick.flows.particle_picking import particle_picking

    t = time.perf_counter()
    state = particle_picking(project_dir=str(root_of_services / name), service_project=name, return_state=True, **params)
    dt = time.perf_counter() - t
    if not state.is_completed():
        raise RuntimeError(f"flow run on {name} ended {state.name}: {state.message}")
    return dt, {s["step"]: s["job_dir"] for s in state.result()["steps"]}


def throughput(scratch: Path, services, args) -> dict:
    from cryopick.sim.params import SimParams
    from cryopick.synthetic.project import simulate_project

    params = flow_params(args.route)
    names = [f"p{k}" for k in range(args.k)]
    for k, name in enumerate(names):
        simulate_project(SimParams(n_micrographs=args.n_mics, seed=100 + k), scratch / "template" / name)
        shutil.copytree(scratch / "template" / name, scratch / f"{name}_alone")
        shutil.copytree(scratch / "template" / name, scratch / f"{name}_together")
    pids = {role: svc.proc.pid for role, svc in services.services.items()}

    t0 = time.perf_counter()
    alone = {name: run_flow(scratch, f"{name}_alone", params) for name in names}
    wall_alone = time.perf_counter() - t0
    peak_after_alone = {role: peak_rss_mb(pid) for role, pid in pids.items()}

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.k) as pool:
        futures = {name: pool.submit(run_flow, scratch, f"{name}_together", params) for name in names}
        together = {name: f.result() for name, f in futures.items()}
    wall_together = time.perf_counter() - t0
    peak_after_together = {role: peak_rss_mb(pid) for role, pid in pids.items()}

    mismatches, problems = [], []
    for name in names:
        (_, jobs_a), (_, jobs_t) = alone[name], together[name]
        if jobs_a != jobs_t:
            mismatches.append(f"{name}: job directories differ ({jobs_a} vs {jobs_t})")
        out_a, out_t = outputs(scratch / f"{name}_alone", jobs_a), outputs(scratch / f"{name}_together", jobs_t)
        mismatches += [f"{name}: {f} differs" for f in sorted(set(out_a) | set(out_t)) if out_a.get(f) != out_t.get(f)]
        problems += [f"{name}: {p}" for p in pipeline_problems(scratch / f"{name}_together", jobs_t)]
    mics = args.k * args.n_mics
    lat_a = [dt for dt, _ in alone.values()]
    lat_t = [dt for dt, _ in together.values()]
    return {
        "k": args.k, "n_mics": args.n_mics, "route": args.route,
        "alone": {"wall_s": wall_alone, "mics_per_min": 60 * mics / wall_alone,
                  "latency_s": [min(lat_a), statistics.median(lat_a), max(lat_a)]},
        "together": {"wall_s": wall_together, "mics_per_min": 60 * mics / wall_together,
                     "latency_s": [min(lat_t), statistics.median(lat_t), max(lat_t)]},
        "outputs_compared": sum(len(outputs(scratch / f"{n}_together", together[n][1])) for n in names),
        "mismatches": mismatches, "pipeline_problems": problems,
        "peak_mb_after_alone": peak_after_alone, "peak_mb_after_together": peak_after_together,
        "flow_process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def shedding(scratch: Path, args) -> dict:
    import grpc

    from cryopick.flows.client import call_job, request_message
    from cryopick.io.pipeline import allocate_job
    from cryopick.services.runtime.launch import start_local_service
    from cryopick.sim.params import SimParams
    from cryopick.stages.registry import stage
    from cryopick.synthetic.project import simulate_project

    root = scratch / "burst"
    simulate_project(SimParams(n_micrographs=args.n_mics, seed=7), root / "p")
    picker = start_local_service("picker", root, extra_args=("--max-concurrent-jobs", "1", "--max-queued-jobs", "2"))
    try:
        before = peak_rss_mb(picker.proc.pid)
        spec = stage("autopick-log")
        jobs = [allocate_job(root / "p", "AutoPick") for _ in range(args.burst)]
        barrier = threading.Barrier(args.burst)

        def one(job: str) -> str:
            request = request_message(spec, job, "p", {"micrographs_star": MICS, "diameter_min_angstrom": 150,
                                                       "diameter_max_angstrom": 180})
            barrier.wait()
            try:
                call_job("LoG", spec, request, picker.address, connect_timeout_s=30)
                return "OK"
            except Exception as exc:  # noqa: BLE001 - the outcome is the datum
                return getattr(exc, "code", type(exc).__name__)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.burst) as pool:
            outcomes = list(pool.map(one, jobs))
        wall = time.perf_counter() - t0
        after = peak_rss_mb(picker.proc.pid)
    finally:
        picker.stop()
    refused = [j for j, o in zip(jobs, outcomes) if o == "RESOURCE_EXHAUSTED"]
    wrote = [j for j in refused if any((root / "p" / j).iterdir())]
    finished = [j for j, o in zip(jobs, outcomes) if o == "OK" and (root / "p" / j / "RELION_JOB_EXIT_SUCCESS").exists()]
    del grpc
    return {"burst": args.burst, "outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))},
            "finished_ok": len(finished), "refused_that_wrote_something": wrote, "wall_s": wall,
            "picker_peak_mb_before": before, "picker_peak_mb_after": after}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=4, help="projects run at once (default 4)")
    ap.add_argument("--n-mics", type=int, default=4, help="micrographs per project (default 4)")
    ap.add_argument("--route", choices=("chain", "pretrained"), default="chain")
    ap.add_argument("--burst", type=int, default=12, help="LoG jobs sent at once to a picker queueing 2 (default 12)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="cryopick-bench-load-"))
    from cryopick.flows.launch import LocalServices, prefect_api, prepare_prefect_env

    prepare_prefect_env(scratch / "prefect-home")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    try:
        with LocalServices(scratch) as services, prefect_api():
            load = throughput(scratch, services, args)
        shed = shedding(scratch, args)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    a, t = load["alone"], load["together"]
    print(f"\nLoad: {args.k} projects x {args.n_mics} micrographs (512 x 496 px), route {args.route}, "
          "services: 1 job at a time, 8 queued")
    print(f"{'':28s}{'wall s':>9s}{'mics/min':>10s}{'latency min/median/max s':>28s}")
    for label, r in (("one after another", a), (f"{args.k} at once", t)):
        lat = "/".join(f"{x:.1f}" for x in r["latency_s"])
        print(f"{label:28s}{r['wall_s']:9.1f}{r['mics_per_min']:10.1f}{lat:>28s}")
    print(f"throughput ratio (at once / one after another): {t['mics_per_min'] / a['mics_per_min']:.2f}x")
    print(f"outputs compared with the lone runs: {load['outputs_compared']} files, "
          f"{len(load['mismatches'])} differ; pipeline problems: {len(load['pipeline_problems'])}")
    for line in load["mismatches"][:10] + load["pipeline_problems"][:10]:
        print("  ", line)
    print("peak memory (VmHWM, MB) after the lone runs -> after the concurrent runs:")
    for role in load["peak_mb_after_alone"]:
        print(f"  {role:12s}{load['peak_mb_after_alone'][role]:8.0f} -> {load['peak_mb_after_together'][role]:8.0f}")
    print(f"  {'flow process':12s}{load['flow_process_peak_mb']:8.0f} (both phases)")
    print(f"\nShedding: {shed['burst']} LoG jobs at once to a picker with 1 running + 2 queued: {shed['outcomes']}; "
          f"{shed['finished_ok']} finished, refused ones that wrote anything: {len(shed['refused_that_wrote_something'])}; "
          f"picker peak {shed['picker_peak_mb_before']:.0f} -> {shed['picker_peak_mb_after']:.0f} MB, {shed['wall_s']:.1f} s")
    out = Path(__file__).resolve().parent.parent / "bench_out" / "bench_load.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"load": load, "shedding": shed}, indent=2) + "\n")
    ok = not load["mismatches"] and not load["pipeline_problems"] and not shed["refused_that_wrote_something"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
