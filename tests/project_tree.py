"""What a project holds after a flow run, to compare two runs of the same chain.

``tree`` digests every file but the flow's own records (``.cryopick/``) and the job logs, with
the two things that legitimately differ between equal runs normalised: ``job.star``'s
continuation flag and the absolute project path Topaz picking records for its model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Job logs: they hold times and attempts, not results.
LOGS = ("note.txt", "run.out", "run.err")


def job_dirs(root: Path) -> list[str]:
    return sorted(f"{p.parent.name}/{p.name}/" for p in root.glob("*/job[0-9][0-9][0-9]") if p.is_dir())


def normalised(root: Path, rel: str, data: bytes) -> bytes:
    name = rel.rsplit("/", 1)[-1]
    if name == "job.star":
        return b"".join(ln for ln in data.splitlines(True) if not ln.startswith(b"_rlnJobIsContinue"))
    if name == ".cryopick_params.json":  # Topaz picking records its model's absolute path
        return data.replace(str(root).encode(), b"<project>")
    return data


def tree(root: Path) -> dict[str, str]:
    """Digest of every file of the project but the flow's own records (.cryopick/) and the job logs."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith(".cryopick/") or not p.is_file() or p.name in LOGS:
            continue
        out[rel] = hashlib.sha256(normalised(root, rel, p.read_bytes())).hexdigest()
    return out
