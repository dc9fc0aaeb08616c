"""RELION's ``default_pipeline.star``: job numbering, processes, nodes and edges.

Edits hold RELION's lock (``.relion_lock/lock_default_pipeline.star``) so the RELION
GUI and cryopick never write the pipeline at the same time.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

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


@contextlib.contextmanager
def pipeline_lock(project_root: str | os.PathLike, timeout_s: float = 60.0) -> Iterator[None]:
    """Hold RELION's pipeline lock (a directory created atomically)."""
    lock = Path(project_root) / LOCK_DIR
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            lock.mkdir()
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise ResourceError(f"{lock}: pipeline lock held for more than {timeout_s:.0f} s (remove it if stale)")
            time.sleep(0.05)
    try:
        (lock / LOCK_FILE).touch()
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            (lock / LOCK_FILE).unlink()
        with contextlib.suppress(OSError):
            lock.rmdir()


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


def allocate_job(project_root: str | os.PathLike, job_type: str) -> str:
    """Reserve the next job directory ``<job_type>/jobNNN/`` and create it.

    The number is the pipeline's job counter (kept above every existing jobNNN
    directory); the counter is incremented under the lock.
    """
    root = Path(project_root)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gui_projectdir").touch()
    with pipeline_lock(root):
        p = read_pipeline(root)
        n = max([p.job_counter] + [x + 1 for x in existing_job_numbers(root)])
        rel = f"{job_type}/job{n:03d}/"
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
