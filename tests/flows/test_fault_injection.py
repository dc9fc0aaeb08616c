"""Fault injection (issue 11): services SIGKILLed inside their jobs on a seeded schedule, and the flow
process itself SIGKILLed and run again. The chain must finish with the outputs of a clean run.

The services here are a set of their own, supervised by :class:`LocalServices` like the session's,
whose atomic writes wait ``WRITE_DELAY_S`` between writing a temporary file and renaming it
(``slow_writes_service.py``): the quick chain's jobs last tens of milliseconds, too short to hit
at chosen points; slowed down they last long enough that a kill lands where the schedule says,
including between a temporary file's write and its rename and inside the pipeline lock. The
outputs do not change: the clean reference run uses the same services.

Every kill first freezes the service (SIGSTOP), looks at the job directory (the attempt begun, no
exit marker yet: the kill *landed* mid-job) and checks that every job directory marked finished
holds its outputs, byte-identical to the clean run's; then SIGKILLs it (or lets it go on, SIGCONT,
when the job finished before its point came: a miss, counted apart).

Outputs compared with the clean run, byte for byte: every file of every job directory (STAR files,
MRC stacks, Topaz models, the class ranker's arrays, figures, Class2D's checkpoints) and
default_pipeline.star. Every computation is seeded (Class2D's, Topaz's and extraction's random
numbers come from the job's seed, per iteration, epoch or micrograph), per-micrograph outputs
finished before a kill are reused as they are, Topaz training and class ranking start again from the
beginning, and a continued Class2D resumes from its last complete iteration's exact checkpoint
(``.cryopick_resume_itNNN.npz``; from the STAR files' rounded values a few particles would change
class an iteration later, see ``tests/stages/test_class2d_resume.py``): so no tolerance is allowed.
Not compared: ``note.txt``, ``run.out`` and ``run.err`` (logs, appended to as RELION does: a
continued job adds a second "Executing new job", its progress lines and, after an abort, the ABORTED
line) and job.star's ``rlnJobIsContinue`` (1 for a continued job, as RELION writes it).

By default one round kills each of the five services once, in one of its jobs (~25 s), and the flow
process is killed once Class2D has begun (~15 s). ``CRYOPICK_FAULT_ROUNDS=N`` adds N rounds (seeds 12,
13, ...) that kill every job of the chain once or twice (~40-50 s each), and kills the flow process
also as soon as Class2D's directory exists and once Class2D has finished (~12 s each).

Do not edit cryopick's sources while these tests run: a service restarted by the supervisor reports
its code version, which is part of each job's cache key, so an edit gives the retried job a new key
and a new job directory (as it should).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from project_tree import job_dirs, normalised, tree

pytestmark = pytest.mark.slow

ROLES = ("picker", "extractor", "classifier", "ranker", "topaz")
WRITE_DELAY_S = 0.03
N_MICS, PROJECT_SEED = 4, 7
DEFAULT_SEED = 11
EXTRA_ROUNDS = int(os.environ.get("CRYOPICK_FAULT_ROUNDS", "0") or 0)
SEEDS = [DEFAULT_SEED] + [DEFAULT_SEED + 1 + k for k in range(EXTRA_ROUNDS)]
#: Files whose bytes may differ between an interrupted and a clean run (see the module docstring).
TEMPORARY = re.compile(r"^\..+\.tmp\d+$")
HELPER = Path(__file__).with_name("slow_writes_service.py")


# --------------------------------------------------------------------------- services with slow writes


@pytest.fixture(scope="module")
def slow_services(tmp_path_factory, prefect_harness):
    """Five supervised services whose atomic writes are slowed (see the module docstring); their root."""
    from cryopick.flows import launch
    from cryopick.services.runtime.launch import ServiceProcess

    class SlowWrites(ServiceProcess):
        def command(self) -> list[str]:  # python -m cryopick.services.<role> ... -> python HELPER <role> ...
            cmd = super().command()
            assert cmd[1:3] == ["-m", f"cryopick.services.{self.role}"], cmd
            return [cmd[0], str(HELPER), self.role, *cmd[3:]]

    root = tmp_path_factory.mktemp("faults")
    names = [launch.env_var(r) for r in ROLES]
    saved = {n: os.environ.get(n) for n in names}
    for n in names:  # the session's services are configured there; these are started instead
        os.environ.pop(n, None)
    os.environ["CRYOPICK_TEST_WRITE_DELAY_S"] = str(WRITE_DELAY_S)
    mp = pytest.MonkeyPatch()
    mp.setattr(launch, "ServiceProcess", SlowWrites)
    svc = launch.LocalServices(root)
    try:
        svc.start()
    finally:
        mp.undo()
        _restore(saved)
    try:
        yield svc, root
    finally:
        svc.stop()
        _restore(saved)
        os.environ.pop("CRYOPICK_TEST_WRITE_DELAY_S", None)


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _run_flow(svc, project: Path, quick_chain) -> dict:
    from cryopick.flows.params import ServiceAddresses
    from cryopick.flows.particle_picking import particle_picking

    state = particle_picking(project_dir=str(project), service_project=project.name, return_state=True,
                             services=ServiceAddresses(**svc.addresses), **quick_chain)
    assert state.is_completed(), f"flow ended {state.name}: {state.message}"
    return state.result()


# --------------------------------------------------------------------------- what a project holds


def leftovers(root: Path) -> list[str]:
    """Temporary files and locks nothing should leave behind."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if TEMPORARY.match(p.name) or p.name == ".relion_lock")


def finished_but_incomplete(root: Path, reference: "Reference") -> list[str]:
    """Job directories marked finished whose output nodes are missing or differ from the clean run's."""
    bad = []
    for job in job_dirs(root):
        if not (root / job / "RELION_JOB_EXIT_SUCCESS").exists():
            continue
        nodes = reference.nodes.get(job)
        if nodes is None:
            if not (reference.root / job).is_dir():  # else one of the project's own (simulated) jobs
                bad.append(f"{job}: finished, but the clean run has no such job")
            continue
        for node in nodes:
            path = root / node
            if not path.is_file() or hashlib.sha256(normalised(root, node, path.read_bytes())).hexdigest() != reference.files[node]:
                bad.append(f"{job}: finished, but {node} is {'missing' if not path.is_file() else 'not the clean run’s'}")
    return bad


@dataclass
class Reference:
    """The clean run: steps, job directories, file digests, each job's output nodes and duration."""

    root: Path
    steps: list[dict]
    files: dict[str, str]
    nodes: dict[str, list[str]]
    duration_s: dict[str, float]
    role: dict[str, str]


@pytest.fixture(scope="module")
def reference(slow_services, make_project, quick_chain) -> Reference:
    from cryopick.flows.params import STEPS

    svc, root = slow_services
    project = make_project(root, "clean", n_mics=N_MICS, seed=PROJECT_SEED)
    t0 = time.monotonic()
    report = _run_flow(svc, project, quick_chain)
    print(f"\nclean reference run: {time.monotonic() - t0:.1f} s")
    roles = {s.title: s.spec.role for s in STEPS.values()}
    steps = report["steps"]
    nodes = {s["job_dir"]: [p for p, _ in s["result"]["output_nodes"]] for s in steps}
    duration = {}
    for s in steps:
        job = project / s["job_dir"]
        duration[s["job_dir"]] = (job / "RELION_JOB_EXIT_SUCCESS").stat().st_mtime - (job / "note.txt").stat().st_mtime
    return Reference(project, steps, tree(project), nodes, duration, {s["job_dir"]: roles[s["step"]] for s in steps})


# --------------------------------------------------------------------------- the killer


def attempts(job: Path) -> int:
    """How many times the job has begun (each run of a stage appends one block to note.txt)."""
    try:
        return (job / "note.txt").read_text().count("Executing new job")
    except OSError:
        return 0


def ended(job: Path) -> bool:
    return any((job / m).exists() for m in ("RELION_JOB_EXIT_SUCCESS", "RELION_JOB_EXIT_FAILURE", "RELION_JOB_EXIT_ABORTED"))


def files_in(job: Path) -> set[str]:
    return {str(p) for p in job.rglob("*") if p.is_file()}


@dataclass
class Kill:
    """One scheduled kill: the service running ``job``, in the job's ``attempt``-th run, once the
    trigger fires: ``("delay", s)`` s after the attempt began, ``("files", k)`` when k files have
    appeared in the job directory since it began, or ``("lock", n)`` when the service takes the
    project's pipeline lock for the n-th time in the attempt (1: to record the job Running, 2: Succeeded)."""

    job: str
    role: str
    attempt: int
    trigger: tuple[str, float]
    outcome: str = "pending"  # landed / missed: ... / not reached
    at: str = ""  # the newest file of the attempt when it was killed
    in_lock: bool = False  # killed while holding the pipeline lock
    unrenamed: bool = False  # killed with a written temporary file not yet renamed


def schedule(rng: random.Random, reference: Reference, every_job: bool) -> list[Kill]:
    """Kills in chain order. Default: each service once, in one of its jobs; ``every_job``: every job
    once or twice (the retried attempt too)."""
    jobs = [s["job_dir"] for s in reference.steps]
    if every_job:
        chosen = {job: rng.choice((1, 1, 2)) for job in jobs}
    else:
        chosen = {rng.choice([j for j in jobs if reference.role[j] == role]): 1 for role in ROLES}
    kills = []
    for job in jobs:
        for attempt in range(1, chosen.get(job, 0) + 1):
            n_files = len([f for f in reference.files if f.startswith(job)])
            r = rng.random()
            if r < 0.2:  # while the service holds the pipeline lock: registering the job Running (1) or Succeeded (2)
                trigger = ("lock", rng.choice((1, 2)))
            elif attempt == 1 and r < 0.6:
                trigger = ("files", rng.randint(1, max(1, n_files // 2)))
            else:
                trigger = ("delay", round(rng.uniform(0.0, 0.8) * reference.duration_s[job], 3))
            kills.append(Kill(job, reference.role[job], attempt, trigger))
    if not any(k.trigger[0] == "lock" for k in kills):  # every round kills a lock holder at least once
        rng.choice(kills).trigger = ("lock", 1)
    return kills


def lock_holder(root: Path) -> int | None:
    """The pid of the cryopick process holding the project's pipeline lock (None: no lock, or not cryopick's)."""
    try:
        m = re.match(r"cryopick pid (\d+) ", (root / ".relion_lock" / "lock_default_pipeline.star").read_text())
    except OSError:
        return None
    return int(m.group(1)) if m else None


class Killer(threading.Thread):
    """Carries out a kill schedule while the flow runs (see the module docstring)."""

    def __init__(self, services, project: Path, kills: list[Kill], reference: Reference):
        super().__init__(daemon=True, name="fault-injector")
        self.services, self.project, self.kills, self.reference = services, project, kills, reference
        self.stop = threading.Event()
        self.broken: list[str] = []  # finished-but-incomplete job directories seen while a service was frozen
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for kill in self.kills:
                self._carry_out(kill)
                if self.stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def _wait(self, ready) -> bool:
        while not self.stop.is_set():
            if ready():
                return True
            time.sleep(0.001)
        return False

    def _carry_out(self, kill: Kill) -> None:
        job = self.project / kill.job
        if not self._wait(lambda: attempts(job) >= kill.attempt or (job / "RELION_JOB_EXIT_SUCCESS").exists()):
            kill.outcome = "not reached"
            return
        if attempts(job) != kill.attempt or ended(job):
            kill.outcome = "missed: the attempt was over"
            return
        t0, before = time.monotonic(), files_in(job)
        kind, value = kill.trigger
        if kind == "delay":
            fired = self._wait(lambda: time.monotonic() - t0 >= value or ended(job))
        elif kind == "files":
            fired = self._wait(lambda: len(files_in(job) - before) >= value or ended(job))
        else:  # the value-th time in this attempt that the service takes the pipeline lock
            seen = {"holds": 0, "held": False}

            def lock_taken() -> bool:
                held = lock_holder(self.project) == self.services.services[kill.role].proc.pid
                seen["holds"] += held and not seen["held"]
                seen["held"] = held
                return (held and seen["holds"] >= value) or ended(job)

            fired = self._wait(lock_taken)
        if not fired:
            kill.outcome = "not reached"
            return
        proc = self.services.services[kill.role].proc
        os.kill(proc.pid, signal.SIGSTOP)
        while kind == "lock" and lock_holder(self.project) != proc.pid and not ended(job):
            os.kill(proc.pid, signal.SIGCONT)  # released it before being frozen: the next time it takes it
            if not self._wait(lambda: lock_holder(self.project) == proc.pid or ended(job)):
                kill.outcome = "not reached"
                return
            os.kill(proc.pid, signal.SIGSTOP)
        mid_job = attempts(job) == kill.attempt and not ended(job)
        self.broken += finished_but_incomplete(self.project, self.reference)
        if mid_job:
            new = sorted(files_in(job) - before, key=lambda f: os.stat(f).st_mtime_ns if os.path.exists(f) else 0)
            kill.at = os.path.relpath(new[-1], job) if new else "(no new file yet)"
            kill.in_lock = lock_holder(self.project) == proc.pid
            kill.unrenamed = any(TEMPORARY.match(p.name) for p in self.project.rglob("*"))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kill.outcome = "landed"
        else:
            os.kill(proc.pid, signal.SIGCONT)
            kill.outcome = "missed: the attempt ended first"


# --------------------------------------------------------------------------- 1. seeded SIGKILLs of every service


@pytest.mark.parametrize("seed", SEEDS)
def test_services_killed_on_a_seeded_schedule(seed, slow_services, reference, make_project, quick_chain):
    from prefect.client.orchestration import get_client

    svc, root = slow_services
    project = make_project(root, f"faults{seed}", n_mics=N_MICS, seed=PROJECT_SEED)
    kills = schedule(random.Random(seed), reference, every_job=seed != DEFAULT_SEED)
    restarts_before = {r: svc.services[r].restarts for r in ROLES}
    killer = Killer(svc, project, kills, reference)
    t0 = time.monotonic()
    killer.start()
    try:
        report = _run_flow(svc, project, quick_chain)
    finally:
        killer.stop.set()
        killer.join(timeout=10)
    elapsed = time.monotonic() - t0
    assert killer.error is None, f"the fault injector failed: {killer.error!r}"

    landed = [k for k in kills if k.outcome == "landed"]
    print(f"\nseed {seed}: {len(kills)} kills scheduled, {len(landed)} landed mid-job and were survived "
          f"({sum(k.unrenamed for k in landed)} with a temporary file not yet renamed, {sum(k.in_lock for k in landed)} "
          f"inside the pipeline lock); flow {elapsed:.1f} s (clean run: see above)")
    for k in kills:
        print(f"  {k.role:<10} {k.job:<18} attempt {k.attempt} {k.trigger[0]}={k.trigger[1]:<6} {k.outcome}"
              f"{'  after ' + k.at if k.at else ''}{' (pipeline lock held)' if k.in_lock else ''}")
    # kills landed mid-job: at least one per service (by default, exactly one in each service)
    if seed == DEFAULT_SEED:
        assert sorted(k.role for k in landed) == sorted(ROLES)
    assert len(landed) >= len(ROLES)
    assert any(k.in_lock for k in landed)  # one kill at least left the pipeline lock behind
    # the supervisor restarted each killed service once per kill
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
            svc.services[r].restarts - restarts_before[r] < sum(k.role == r for k in landed) for r in ROLES):
        time.sleep(0.2)
    for r in ROLES:
        assert svc.services[r].restarts - restarts_before[r] == sum(k.role == r for k in landed), (r, svc.events[-5:])

    # the same steps in the same job directories, no extra job numbers
    assert [(s["step"], s["job_dir"]) for s in report["steps"]] == [(s["step"], s["job_dir"]) for s in reference.steps]
    assert job_dirs(project) == job_dirs(reference.root)
    # each killed job was retried by its task
    with get_client(sync_client=True) as client:
        for s in report["steps"]:
            n_landed = sum(k.job == s["job_dir"] for k in landed)
            if n_landed:
                assert client.read_task_run(s["task_run_id"]).run_count >= n_landed + 1, s["step"]
    # no job directory was ever marked finished while half-written
    assert killer.broken == []
    assert finished_but_incomplete(project, reference) == []
    # outputs equal the clean run's, byte for byte; nothing temporary left behind
    assert leftovers(project) == []
    got = tree(project)
    assert sorted(got) == sorted(reference.files)
    assert [f for f in sorted(got) if got[f] != reference.files[f]] == []


# --------------------------------------------------------------------------- 2. the flow process killed


def _flow_process(svc, project: Path, quick_chain, out: Path) -> subprocess.Popen:
    """``cryopick run`` on ``project`` against these services and the session's Prefect server."""
    import prefect.settings

    params = {k: v.model_dump(mode="json") for k, v in quick_chain.items()}
    params["service_project"] = project.name
    params_file = project.parent / f"{project.name}-params.json"
    params_file.write_text(json.dumps(params))
    env = {**os.environ, "PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value(),
           **{f"CRYOPICK_{r.upper()}_ADDRESS": a for r, a in svc.addresses.items()}}
    return subprocess.Popen([sys.executable, "-m", "cryopick", "run", "--project", str(project), "--params",
                             str(params_file), "--quiet"], env=env, stdout=open(out, "wb"), stderr=subprocess.STDOUT)


def _mtimes(root: Path, jobs: list[str]) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for job in jobs for p in sorted((root / job).rglob("*"))}


#: When the flow process is killed, relative to the Class2D job: once it has begun (the default), as soon as
#: its directory exists (the flow allocating it or calling the service) and once it has finished (before
#: or while the flow records its result). The last two run with CRYOPICK_FAULT_ROUNDS.
FLOW_KILLS = ["begun"] + (["allocated", "finished"] if EXTRA_ROUNDS else [])


@pytest.mark.parametrize("when", FLOW_KILLS)
def test_flow_process_killed_mid_chain_and_run_again(when, slow_services, reference, make_project, quick_chain,
                                                     tmp_path):
    """SIGKILL ``cryopick run`` during the Class2D step, run it again: the finished jobs are cached (untouched, no
    new numbers), Class2D is finished in the job directory the first run had given it, the outputs equal the
    clean run's."""
    svc, root = slow_services
    project = make_project(root, f"flowkill-{when}", n_mics=N_MICS, seed=PROJECT_SEED)
    steps = [s["job_dir"] for s in reference.steps]
    class2d = next(s["job_dir"] for s in reference.steps if s["step"] == "Class2D")
    before_class2d = steps[: steps.index(class2d)]
    reached = {"allocated": lambda: (project / class2d).is_dir(),
               "begun": lambda: attempts(project / class2d) >= 1,
               "finished": lambda: (project / class2d / "RELION_JOB_EXIT_SUCCESS").exists()}[when]

    t0 = time.monotonic()
    first = _flow_process(svc, project, quick_chain, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 180
        while not reached() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = time.monotonic() - t0
    state_at_kill = ("finished" if (project / class2d / "RELION_JOB_EXIT_SUCCESS").exists() else
                     f"begun {attempts(project / class2d)}x" if attempts(project / class2d) else "not begun")
    if when == "begun":
        assert state_at_kill == "begun 1x"  # killed mid-step
    finished = _mtimes(project, before_class2d)
    assert all((project / j / "RELION_JOB_EXIT_SUCCESS").exists() for j in before_class2d)

    second = _flow_process(svc, project, quick_chain, tmp_path / "second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()[-3000:]
    log = (tmp_path / "second.log").read_text()
    print(f"\nflow process killed {killed_at:.1f} s in, Class2D {state_at_kill}; the second run took "
          f"{time.monotonic() - t0 - killed_at:.1f} s, Class2D begun {attempts(project / class2d)}x in all; "
          f"run.err: {(project / class2d / 'run.err').read_text().strip() or '-'}\n"
          f"{log[log.find('cryopick run: flow'):log.find('Final particle set')]}")

    # the finished steps were cached: their job directories untouched, no new numbers
    for job in before_class2d:
        assert re.search(rf"{re.escape(job)}\s+cached", log), f"{job} was not reported cached:\n{log}"
    assert _mtimes(project, before_class2d) == finished
    # Class2D finished in the job directory the first run had given it (the flow's key -> directory record)
    assert re.search(rf"Class2D\s+{re.escape(class2d)}\s+(completed|cached)", log), log
    assert job_dirs(project) == job_dirs(reference.root)
    assert finished_but_incomplete(project, reference) == []
    assert leftovers(project) == []
    got = tree(project)
    assert sorted(got) == sorted(reference.files)
    assert [f for f in sorted(got) if got[f] != reference.files[f]] == []
