"""The disk fills up while a job writes (issue 11, fault injection): the job fails with one clear
error naming the file and "No space left on device", nothing half-written or finished-looking is
left, the inputs are untouched, and the pipeline records the job as Failed when there is room for it.

Two ways, through the CLI (``cryopick.cli.main``):

- **A simulated disk** (:class:`FakeDisk`): every file opened for writing under the project shares
  a fixed number of free bytes; a write past them writes what fits and raises ``OSError(ENOSPC)``,
  as write(2) does; deleting a file gives its bytes back. A clean run of the job is recorded first,
  then the job is run once per file it writes, with the disk filling up in the middle of that file
  (extraction, LoG picking and Class2D: every write of the job).
- **A real full file system**: a 1 MiB-free tmpfs holding the project (root only; skipped where
  ``mount`` is not allowed).
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cryopick.cli import main
from cryopick.io.atomic import is_temporary
from cryopick.io.pipeline import read_pipeline
from cryopick.stages import autopick_log, extract
from cryopick.synthetic.project import SimParams, simulate_project

MICS = "CtfFind/job003/micrographs_ctf.star"
COORDS = "AutoPick/job004/autopick.star"
PARTICLES = "Extract/job005/particles.star"
#: stage -> (job type, CLI arguments, the output whose presence would make a failed job look finished).
#: Class2D has none besides the exit marker: like RELION's, its per-iteration files are kept when it
#: fails (complete, written atomically), and a continued job resumes from the last complete iteration.
STAGES = {
    "extract": ("Extract", ["--i", MICS, "--coords", COORDS, "--box", "64"], "particles.star"),
    "autopick-log": ("AutoPick", ["--i", MICS, "--diam-min", "150", "--diam-max", "180"], "autopick.star"),
    "class2d": ("Class2D", ["--i", PARTICLES, "--classes", "2", "--iter", "1", "--threads", "1"], None),
}
_real_open = builtins.open


@pytest.fixture(scope="module")
def base_project(tmp_path_factory) -> Path:
    """A simulated project, LoG-picked and extracted: the inputs of the three stages (read-only)."""
    root = simulate_project(SimParams(n_micrographs=3, seed=5, particles_per_mic=30),
                            tmp_path_factory.mktemp("diskfull")).project_root
    autopick_log.run(autopick_log.Params(MICS, 150, 180), root, "AutoPick/job004/")
    extract.run(extract.Params(MICS, COORDS, box_size_px=64), root, "Extract/job005/")
    return root


def digests(root: Path, job: str) -> dict[str, str]:
    """Every file of the project but the job's own, the pipeline and RELION's .Nodes markers."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith((job, ".Nodes/", "default_pipeline.star"))}


# --------------------------------------------------------------------------- the simulated disk


@dataclass
class FakeDisk:
    """Free space shared by the files written under ``root`` (see the module docstring).

    ``free=None`` records instead: :attr:`writes` lists ``(file, bytes in use before the write)``.
    """

    root: str
    free: int | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    writes: list[tuple[str, int]] = field(default_factory=list)
    full_at: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mine(self, file) -> str | None:
        if not isinstance(file, (str, bytes, os.PathLike)):
            return None
        path = os.path.abspath(os.fsdecode(file))
        return path if path.startswith(self.root + os.sep) else None

    def used(self) -> int:
        return sum(self.sizes.values())

    def open(self, file, mode="r", *args, **kwargs):
        f = _real_open(file, mode, *args, **kwargs)
        path = self.mine(file)
        if path is None or not any(c in mode for c in "wax+"):
            return f
        with self.lock:
            if "w" in mode:
                self.sizes[path] = 0
            else:
                self.sizes.setdefault(path, 0)  # bytes there before the disk filled are not counted
        return _Counted(f, self, path)

    def write(self, path: str, data, real_write):
        raw = data.encode() if isinstance(data, str) else memoryview(data).cast("B")
        with self.lock:
            self.writes.append((path, self.used()))
            room = None if self.free is None else self.free - self.used()
            if room is not None and len(raw) > room:
                if room > 0:
                    part = raw[:room]
                    real_write(part.decode(errors="ignore") if isinstance(data, str) else part)
                    self.sizes[path] = self.sizes.get(path, 0) + room
                self.full_at = self.full_at or path
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.sizes[path] = self.sizes.get(path, 0) + len(raw)
        return real_write(data)

    def forget(self, file) -> None:
        path = self.mine(file)
        if path is not None:
            with self.lock:
                self.sizes.pop(path, None)

    def moved(self, src, dst) -> None:
        s, d = self.mine(src), self.mine(dst)
        with self.lock:
            n = self.sizes.pop(s, 0) if s else 0
            if d:
                self.sizes[d] = n


class _Counted:
    """A file object whose writes go through :meth:`FakeDisk.write`."""

    def __init__(self, f, disk: FakeDisk, path: str):
        self._f, self._disk, self._path = f, disk, path

    def write(self, data):
        return self._disk.write(self._path, data, self._f.write)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)

    def __iter__(self):
        return iter(self._f)

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.fixture
def fake_disk(monkeypatch):
    """``install(root, free)``: the simulated disk under ``root`` for the rest of the test."""

    def install(root: Path, free: int | None) -> FakeDisk:
        disk = FakeDisk(str(root), free)
        real_unlink, real_replace, real_rename = os.unlink, os.replace, os.rename

        def unlink(path, *a, **k):
            real_unlink(path, *a, **k)
            disk.forget(path)

        def replace(src, dst, *a, **k):
            real_replace(src, dst, *a, **k)
            disk.moved(src, dst)

        def rename(src, dst, *a, **k):
            real_rename(src, dst, *a, **k)
            disk.moved(src, dst)

        monkeypatch.setattr(builtins, "open", disk.open)
        monkeypatch.setattr(io, "open", disk.open)
        monkeypatch.setattr(os, "unlink", unlink)
        monkeypatch.setattr(os, "remove", unlink)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(os, "rename", rename)
        return disk

    return install


def _run(stage: str, root: Path, job: str, capsys) -> tuple[int, str]:
    _, args, _ = STAGES[stage]
    rc = main([stage, *args, "--o", job, "--project-root", str(root), "--quiet"])
    return rc, capsys.readouterr().err.strip()


def _cut_points(stage: str, base_project: Path, tmp_path: Path, fake_disk, capsys) -> tuple[list[tuple[str, int]], Path]:
    """A clean run on a recording disk: for each file the job writes, the free space that runs out in its middle."""
    job_type = STAGES[stage][0]
    root = tmp_path / "clean"
    shutil.copytree(base_project, root, symlinks=True)
    disk = fake_disk(root, None)
    rc, err = _run(stage, root, f"{job_type}/job010/", capsys)
    assert rc == 0, err
    final: dict[str, int] = {}
    for path in disk.sizes:
        final[path] = disk.sizes[path]
    cuts, seen = [], set()
    for path, used_before in disk.writes:
        name = os.path.relpath(_final_name(path), root)  # the file, not its temporary name
        if name in seen:
            continue
        seen.add(name)
        size = final.get(path) or final.get(_final_name(path), 0)
        cuts.append((name, used_before + max(1, size // 2)))
    return cuts, root


def _final_name(path: str) -> str:
    head, name = os.path.split(path)
    return os.path.join(head, name[1:].rsplit(".tmp", 1)[0]) if is_temporary(name) else path


def check_failed_cleanly(stage: str, root: Path, job: str, rc: int, err: str, before: dict[str, str],
                         room_to_record: bool) -> None:
    """The assertions every disk-full run must pass (module docstring)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith(f"cryopick {stage}: error: "), err
    assert "No space left on device" in err and str(root) in err, err  # names the file
    finished_output = STAGES[stage][2]
    assert finished_output is None or not (root / job / finished_output).exists()
    assert not (root / job / "RELION_OUTPUT_NODES.star").exists()
    assert not (root / job / "RELION_JOB_EXIT_SUCCESS").exists()
    temporaries = [p for p in root.rglob("*") if is_temporary(p.name)]
    assert temporaries == []
    assert digests(root, job) == before  # inputs unchanged
    status = {p[0]: p[3] for p in read_pipeline(root).processes}  # and the pipeline readable, never half-written
    assert status.get(job) != "Succeeded"
    if room_to_record:
        assert status.get(job) == "Failed"
        assert (root / job / "RELION_JOB_EXIT_FAILURE").exists()
        assert "No space left on device" in (root / job / "run.err").read_text()


# --------------------------------------------------------------------------- every write of three stages


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGES))
def test_disk_full_in_every_write_of_a_job(stage, base_project, tmp_path, fake_disk, capsys):
    cuts, clean = _cut_points(stage, base_project, tmp_path, fake_disk, capsys)
    job = f"{STAGES[stage][0]}/job010/"
    recorded, outcomes = 0, []
    for k, (name, free) in enumerate(cuts):
        root = tmp_path / f"cut{k}"
        shutil.copytree(base_project, root, symlinks=True)
        before = digests(root, job)
        disk = fake_disk(root, free)
        rc, err = _run(stage, root, job, capsys)
        disk.free = None  # room again for the checks
        # room to record the failure: the failed file's bytes came back and the pipeline fits in them
        room = free - disk.used() > 2 * (clean / "default_pipeline.star").stat().st_size
        check_failed_cleanly(stage, root, job, rc, err, before, room)
        recorded += room
        outcomes.append(f"{name} ({'Failed recorded' if room else 'no room to record'})")
    print(f"\n{stage}: the disk filled up in each of the {len(cuts)} files the job writes; every run failed "
          f"cleanly, {recorded} with room left to record the failure: " + "; ".join(outcomes))
    assert recorded >= 1


def test_disk_full_in_a_particle_stack_fails_extraction_clearly(base_project, tmp_path, fake_disk, capsys):
    """The common case, always run: the disk fills up while the first particle stack is written."""
    root = tmp_path / "p"
    shutil.copytree(base_project, root, symlinks=True)
    job = "Extract/job010/"
    before = digests(root, job)
    disk = fake_disk(root, 40_000)  # a stack of ~30 64x64 float32 particles needs ~0.5 MB
    rc, err = _run("extract", root, job, capsys)
    disk.free = None
    assert disk.full_at.endswith(".mrcs.tmp" + str(os.getpid())), disk.full_at
    check_failed_cleanly("extract", root, job, rc, err, before, room_to_record=True)
    assert ".mrcs: No space left on device" in err
    print(f"\n{err}")


# --------------------------------------------------------------------------- a real full file system


@pytest.fixture
def small_filesystem(tmp_path):
    """A tmpfs mounted at ``tmp_path/disk`` (``mount(size)`` -> path); skipped where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(size_bytes: int) -> Path:
        point = tmp_path / "disk"
        point.mkdir()
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a small tmpfs needs root")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(point)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["extract", "class2d"])
def test_real_disk_full(stage, base_project, small_filesystem, capsys):
    """The project on a tmpfs whose free space runs out in the middle of a particle stack or of Class2D's
    second iteration, with room enough, once the half-written file is removed, to record the failure."""
    size = sum(p.stat().st_size for p in base_project.rglob("*") if p.is_file())
    point = small_filesystem(size + (4 << 20))
    root = point / "project"
    shutil.copytree(base_project, root, symlinks=True)
    job = f"{STAGES[stage][0]}/job010/"
    st = os.statvfs(point)
    free = st.f_bavail * st.f_frsize
    if stage == "extract":  # the first micrograph's files, the bookkeeping, then half the second stack
        movies = base_project / "Extract/job005/Movies"
        want_free = sum((movies / n).stat().st_size for n in ("mic_001.mrcs", "mic_001_extract.star")) + 40_000 \
            + (movies / "mic_002.mrcs").stat().st_size // 2
    else:
        want_free = 200_000  # Class2D's two iterations (0 and 1) write ~270 kB
    with open(point / "filler", "wb") as fh:  # fill the disk up to ``want_free``
        fh.write(b"\0" * max(0, free - want_free))
    before = digests(root, job)
    rc, err = _run(stage, root, job, capsys)
    (point / "filler").unlink()
    check_failed_cleanly(stage, root, job, rc, err, before, room_to_record=True)
    print(f"\n{err}")
