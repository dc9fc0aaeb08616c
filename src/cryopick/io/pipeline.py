"""RELION's ``default_pipeline.star``: job numbering, processes, nodes and edges.

Edits hold RELION's lock (``.relion_lock/lock_default_pipeline.star``) so the RELION
GUI and cryopick never write the pipeline at the same time.

A process killed while it holds the lock would leave it behind, and every later job of the
project would wait for it, then fail. So cryopick's lock file says who holds it (``cryopick pid
N on HOST``) and its holder keeps an ``flock`` on it, which the kernel (or the NFS server) drops
when the holder dies: a waiter that can take that flock knows the holder is gone and removes the
lock, with the holder's half-written ``default_pipeline.star`` temporary file (see
:func:`pipeline_lock`). RELION's own locks, which carry no such mark, are never broken.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from cryopick.errors import ResourceError
from cryopick.io.jobdir import existing_job_numbers, job_number
from cryopick.io.nodes import node_folder
from cryopick.io.star import list_table, read_star_raw, write_star

PIPELINE = "default_pipeline.star"
LOCK_DIR = ".relion_lock"
LOCK_FILE = "lock_default_pipeline.star"


@dataclass
class Pipeline:
    """In-memory pipeline: processes ``(name, alias, type, status)``, nodes, edges."""

    job_counter: int = 1
    processes: list[tuple[str, str, str, str]] = field(default_factory=list)
    nodes: list[tuple[str, str]] = field(default_factory=list)
    input_edges: list[tuple[str, str]] = field(default_factory=list)
    output_edges: list[tuple[str, str]] = field(default_factory=list)


#: First bytes of the lock file of a cryopick holder (RELION's lock files never start so).
_OWNER_MARK = b"cryopick pid "
#: A lock directory without its lock file for this long lost a holder killed right after ``mkdir``.
ORPHAN_LOCK_AGE_S = 30.0
#: Serialises the removal of dead holders' locks (``flock``), so two waiters never both remove one.
BREAKER_FILE = ".cryopick/pipeline-lock-breaker"


@contextlib.contextmanager
def pipeline_lock(project_root: str | os.PathLike, timeout_s: float = 60.0) -> Iterator[None]:
    """Hold RELION's pipeline lock (a directory created atomically).

    The lock file names this process and carries an ``flock`` while the lock is held; a lock
    whose cryopick holder died is removed (module docstring). A live holder's lock, or RELION's,
    is waited for up to ``timeout_s``.

    Raises
    ------
    ResourceError
        The lock was held by someone else for more than ``timeout_s``.
    """
    root = Path(project_root)
    lock = root / LOCK_DIR
    deadline = time.monotonic() + timeout_s
    next_check = 0.0
    while True:
        try:
            lock.mkdir()
            break
        except FileExistsError:
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.2
                if _remove_dead_holders_lock(root):
                    continue
            if now > deadline:
                raise ResourceError(f"{lock}: pipeline lock held for more than {timeout_s:.0f} s"
                                    f"{_holder(lock)} (remove it if stale)") from None
            time.sleep(0.05)
    fd = -1
    try:
        fd = os.open(lock / LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with contextlib.suppress(OSError):  # no flock on this file system: a dead holder's lock stays (as before)
            fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):
            os.write(fd, _OWNER_MARK + f"{os.getpid()} on {socket.gethostname()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            (lock / LOCK_FILE).unlink()
        with contextlib.suppress(OSError):
            lock.rmdir()
        if fd >= 0:
            os.close(fd)  # drops the flock, after the lock is gone


def _holder(lock: Path) -> str:
    """`` (held by cryopick pid N on HOST)`` when the lock file says so."""
    with contextlib.suppress(OSError):
        text = (lock / LOCK_FILE).read_bytes()[:200]
        if text.startswith(_OWNER_MARK):
            return f" (held by {text.decode(errors='replace').strip()})"
    return ""


def _remove_dead_holders_lock(root: Path) -> bool:
    """Remove the pipeline lock if its holder is a cryopick process that died; True if it is gone.

    Under the breaker's flock: the lock file's flock is free (no live holder; a live one keeps it
    from before it writes its mark) and the file carries the cryopick mark, or the lock directory
    is empty and older than :data:`ORPHAN_LOCK_AGE_S`. The dead holder's temporary pipeline files
    go with it.
    """
    lock = root / LOCK_DIR
    try:
        (root / BREAKER_FILE).parent.mkdir(parents=True, exist_ok=True)
        breaker = os.open(root / BREAKER_FILE, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(breaker, fcntl.LOCK_EX)
        except OSError:
            return False
        try:
            fd = os.open(lock / LOCK_FILE, os.O_RDONLY)
        except FileNotFoundError:
            try:
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                return True  # released meanwhile
            if age < ORPHAN_LOCK_AGE_S:
                return False
            try:
                lock.rmdir()
            except OSError:  # a lock file appeared: a live holder
                return False
            return True
        except OSError:
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:  # held (EWOULDBLOCK), or no flock here: leave it
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                return False
            if not os.read(fd, len(_OWNER_MARK)) == _OWNER_MARK:
                return False  # RELION's lock, or a holder between creating its file and marking it
            try:
                current = os.stat(lock / LOCK_FILE)
            except FileNotFoundError:
                return True  # its holder released it after we opened it
            mine = os.fstat(fd)
            if (current.st_ino, current.st_dev) != (mine.st_ino, mine.st_dev):
                return False  # released and taken again meanwhile: a live holder's
            for tmp in root.glob(f".{PIPELINE}.tmp*"):  # the dead holder's half-written pipeline
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            with contextlib.suppress(FileNotFoundError):
                (lock / LOCK_FILE).unlink()
            with contextlib.suppress(OSError):
                lock.rmdir()
            return True
        finally:
            os.close(fd)
    finally:
        os.close(breaker)


def read_pipeline(project_root: str | os.PathLike) -> Pipeline:
    """Read ``default_pipeline.star`` (an empty pipeline if there is none)."""
    path = Path(project_root) / PIPELINE
    if not path.exists():
        return Pipeline(job_counter=max(existing_job_numbers(project_root), default=0) + 1)
    t = read_star_raw(path)

    def rows(name: str, cols: Sequence[str]) -> list[tuple]:
        table = t.get(name)
        if table is None or len(table) == 0:
            return []
        return [tuple(str(v) for v in r) for r in zip(*(table.columns[c] for c in cols))]

    general = t.get("pipeline_general")
    counter = int(general.columns["rlnPipeLineJobCounter"][0]) if general is not None else 1
    return Pipeline(
        job_counter=counter,
        processes=rows(
            "pipeline_processes",
            ("rlnPipeLineProcessName", "rlnPipeLineProcessAlias", "rlnPipeLineProcessTypeLabel", "rlnPipeLineProcessStatusLabel"),
        ),
        nodes=rows("pipeline_nodes", ("rlnPipeLineNodeName", "rlnPipeLineNodeTypeLabel")),
        input_edges=rows("pipeline_input_edges", ("rlnPipeLineEdgeFromNode", "rlnPipeLineEdgeProcess")),
        output_edges=rows("pipeline_output_edges", ("rlnPipeLineEdgeProcess", "rlnPipeLineEdgeToNode")),
    )


def _table(rows: list[tuple], cols: Sequence[str]) -> dict[str, np.ndarray]:
    return {c: np.array([r[k] for r in rows], dtype=object) for k, c in enumerate(cols)}


def write_pipeline(project_root: str | os.PathLike, p: Pipeline) -> None:
    """Write ``default_pipeline.star`` atomically (RELION 4 layout)."""
    write_star(
        Path(project_root) / PIPELINE,
        {
            "pipeline_general": list_table({"rlnPipeLineJobCounter": p.job_counter}),
            "pipeline_processes": _table(
                p.processes,
                ("rlnPipeLineProcessName", "rlnPipeLineProcessAlias", "rlnPipeLineProcessTypeLabel", "rlnPipeLineProcessStatusLabel"),
            ),
            "pipeline_nodes": _table(p.nodes, ("rlnPipeLineNodeName", "rlnPipeLineNodeTypeLabel")),
            "pipeline_input_edges": _table(p.input_edges, ("rlnPipeLineEdgeFromNode", "rlnPipeLineEdgeProcess")),
            "pipeline_output_edges": _table(p.output_edges, ("rlnPipeLineEdgeProcess", "rlnPipeLineEdgeToNode")),
        },
    )


def allocate_job(project_root: str | os.PathLike, job_type: str,
                 reserve: Callable[[str], None] | None = None) -> str:
    """Reserve the next job directory ``<job_type>/jobNNN/`` and create it.

    The number is the pipeline's job counter (kept above every existing jobNNN
    directory); the counter is incremented under the lock.

    Parameters
    ----------
    reserve : callable, optional
        Called with the number's directory under the lock, before the directory is created: a
        caller that records what the directory is for (``cryopick.flows.jobs``) does it there,
        so a process killed in between leaves no directory that nothing claims.
    """
    root = Path(project_root)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gui_projectdir").touch()
    with pipeline_lock(root):
        p = read_pipeline(root)
        n = max([p.job_counter] + [x + 1 for x in existing_job_numbers(root)])
        rel = f"{job_type}/job{n:03d}/"
        if reserve is not None:
            reserve(rel)
        (root / rel).mkdir(parents=True, exist_ok=False)
        p.job_counter = n + 1
        write_pipeline(root, p)
    return rel


def register_job(
    project_root: str | os.PathLike,
    process: str,
    type_label: str,
    status: str,
    inputs: Sequence[tuple[str, str]] = (),
    outputs: Sequence[tuple[str, str]] = (),
) -> None:
    """Add or update a process with its input and output nodes ``(path, node type label)``.

    Also touches ``.Nodes/<TypePrefix>/<path>`` for each output, as RELION's GUI does.
    """
    root = Path(project_root)
    process = process.rstrip("/") + "/"
    with pipeline_lock(root):
        p = read_pipeline(root)
        p.processes = [r for r in p.processes if r[0] != process] + [(process, "None", type_label, status)]
        known = {n for n, _ in p.nodes}
        for node, label in list(inputs) + list(outputs):
            if node not in known:
                p.nodes.append((node, label))
                known.add(node)
        p.input_edges = [e for e in p.input_edges if e[1] != process] + [(n, process) for n, _ in inputs]
        p.output_edges = [e for e in p.output_edges if e[0] != process] + [(process, n) for n, _ in outputs]
        p.job_counter = max(p.job_counter, job_number(process) + 1)
        write_pipeline(root, p)
    for node, label in outputs:
        marker = root / ".Nodes" / node_folder(label) / node
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def release_job(project_root: str | os.PathLike, job_dir: str) -> bool:
    """Give back an allocated job directory nothing was written to.

    Removes the empty directory (and its type directory if that is now empty) and, if no
    later job was allocated meanwhile, steps the pipeline's job counter back so the number
    is used again. Returns False (and changes nothing) if the directory is not empty.
    """
    root = Path(project_root)
    path = root / job_dir
    with pipeline_lock(root):
        if not path.is_dir() or any(path.iterdir()):
            return False
        path.rmdir()
        with contextlib.suppress(OSError):
            path.parent.rmdir()
        p = read_pipeline(root)
        n = job_number(job_dir)
        if p.job_counter == n + 1:
            p.job_counter = n
            write_pipeline(root, p)
    return True
