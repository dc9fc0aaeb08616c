"""``cryopick run``: the whole particle-picking chain on a project, with local services and Prefect.

Starts the five services on 127.0.0.1 (unless ``CRYOPICK_<ROLE>_ADDRESS`` is set), a
temporary local Prefect API (unless ``PREFECT_API_URL`` is set; its database is kept in
``<project>/.cryopick/prefect-home`` so the runs and artifacts can be browsed later), runs
the ``particle-picking`` flow and stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

import yaml

from cryopick.errors import BadInputError, MissingFileError
from cryopick.flows.launch import LocalServices, prefect_api, prepare_prefect_env
from cryopick.stages.presets import preset_overrides



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, help="RELION project directory")
    parser.add_argument("--params", help="YAML or JSON file of flow parameters, e.g. {log_picking: {threshold_stddev: 0.5}}")
    parser.add_argument("--micrographs", help="micrographs STAR (project-relative); default CtfFind/job003/micrographs_ctf.star")
    parser.add_argument("--preset", default="tutorial", choices=("tutorial", "tutorial-cpu"),
                        help="job parameters: the tutorial's (default), or the tutorial's with Topaz training settings "
                             "for a CPU (tutorial-cpu: minutes instead of hours without a GPU)")
    parser.add_argument("--quiet", action="store_true", help="less Prefect logging on the terminal")


def load_params(path: str | None) -> dict:
    """Flow parameters from a YAML or JSON file (a mapping)."""
    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{path}: parameter file not found")
    text = p.read_text()
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except Exception as exc:
        raise BadInputError(f"{path}: cannot parse flow parameters: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: expected a mapping of flow parameters, got {type(data).__name__}")
    return data


def flow_parameters(params_file: str | None, preset: str) -> dict:
    """The ``particle-picking`` parameters of ``--params FILE`` over those of ``--preset`` (the file wins)."""
    params = load_params(params_file)
    for step, values in preset_overrides(preset).items():
        params[step] = {**values, **(params.get(step) or {})}
    return params


def main(args: argparse.Namespace) -> int:
    project = Path(args.project).resolve()
    if not project.is_dir():
        raise MissingFileError(f"{args.project}: project directory not found")
    params = flow_parameters(args.params, args.preset)
    if args.micrographs:
        params["micrographs_star"] = args.micrographs
    params.pop("project_dir", None)

    # Prefect reads its settings when first imported: configure it before any import.
    local_api = not os.environ.get("PREFECT_API_URL")
    if local_api:
        prepare_prefect_env(project / ".cryopick" / "prefect-home")
    if args.quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from cryopick.flows.particle_picking import particle_picking

    print(f"cryopick run: starting services for {project} ...", flush=True)
    _stop_on_sigterm()
    try:
        with LocalServices(project) as services, prefect_api() as api_url:
            for role, address in services.addresses.items():
                origin = "started" if role in services.services else "configured"
                print(f"  {role:<10} {address} ({origin})", flush=True)
            print(f"  Prefect API {api_url}", flush=True)
            state = particle_picking(project_dir=str(project), return_state=True, **params)
            restarts = [e for e in services.events]
    except KeyboardInterrupt:
        print("cryopick run: interrupted; services stopped", file=sys.stderr)
        return 130
    return _report(project, state, restarts, local_api)


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, ``timeout``, a service manager) ends the run as Ctrl-C does: the services and the
    Prefect API it started are stopped on the way out, not left running."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _report(project: Path, state, events: list[str], local_api: bool) -> int:
    print()
    for e in events:
        print(f"  supervisor: {e}")
    if state.is_failed() or state.is_crashed():
        print(f"cryopick run: flow {state.name}: {state.message}", file=sys.stderr)
        return 1
    report = state.result(raise_on_failure=False)  # an incomplete run (Cancelled "Incomplete") carries its report
    if state.is_cancelled():
        print(f"cryopick run: {state.message}")
    else:
        print(f"cryopick run: flow {state.name}")
    for s in report["steps"]:
        counts = ", ".join(f"{k} {v}" for k, v in ((s.get("result") or {}).get("counts") or {}).items())
        tag = "cached" if s["cached"] else s["state"].lower()
        print(f"  {s['step']:<24} {s['job_dir'] or '-':<18} {tag:<14} {counts}")
        job = project / (s["job_dir"] or "-")
        for png in sorted(job.glob("*.png")) if s["job_dir"] else []:
            print(f"  {'':<24} figure: {png}")
    for name in report.get("not_run", []):
        print(f"  {name:<24} {'-':<18} not run")
    final = [s for s in report["steps"] if s["step"] == "Final extraction" and s.get("result")]
    if final:
        result = final[-1]["result"]
        particles = [p for p, label in result.get("output_nodes", []) if label.startswith("ParticlesData")]
        print(f"\nFinal particle set: {project / particles[0]} ({result['counts'].get('particles', '?')} particles)"
              if particles else "")
    print(f"\nOutputs: {project} (RELION job directories; default_pipeline.star is current)")
    print(f"Service logs: {project / '.cryopick' / 'logs'}")
    if local_api:
        home = os.environ.get("PREFECT_HOME", "")
        print(f"Prefect runs and artifacts: stored in {home}; browse them with\n"
              f"  PREFECT_HOME={home} prefect server start   # then open http://127.0.0.1:4200")
    return 0
