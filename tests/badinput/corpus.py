"""A corpus of bad inputs, generated at test time in a small simulated project.

Each :class:`Case` damages one input in its own file (the good inputs stay untouched) and says
which stages read it, how they are run, which words the error must contain and which output
must not appear. The corpus is run through the CLI by ``test_cli_corpus.py``; the gRPC and flow
ways of issue 11 are still to come.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cryopick.io.mrc import read_mrc, write_mrc

STAR = "CtfFind/job003/micrographs_ctf.star"
GOOD_MIC = "MotionCorr/job002/Movies/mic_002.mrc"
PICKS = "AutoPick/job004/autopick.star"


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    name : str
    make : callable
        ``make(root) -> (micrographs_star, coords_star, damaged_file)``, all project-relative.
    stages : tuple[str, ...]
        The stages that read the damaged input.
    fragments : tuple[str, ...]
        Words the error must contain besides the damaged file's name.
    """

    name: str
    make: Callable[[Path], tuple[str, str, str]]
    stages: tuple[str, ...]
    fragments: tuple[str, ...]


def _with_micrograph(root: Path, tag: str, write: Callable[[Path], None]) -> tuple[str, str, str]:
    """A micrographs STAR and a coordinate list in which micrograph 2 is replaced by ``Movies/<tag>.mrc``."""
    rel = f"MotionCorr/job002/Movies/{tag}.mrc"
    write(root / rel)
    star = f"CtfFind/job003/{tag}.star"
    (root / star).write_text((root / STAR).read_text().replace(GOOD_MIC, rel))
    coords = f"AutoPick/job004/{tag}_list.star"
    (root / coords).write_text((root / PICKS).read_text().replace(GOOD_MIC, rel))
    return star, coords, rel


def _mic(root: Path) -> np.ndarray:
    return read_mrc(root / GOOD_MIC)


def _truncated(root: Path):
    return _with_micrograph(root, "truncated", lambda p: p.write_bytes((root / GOOD_MIC).read_bytes()[:5000]))


def _empty_mrc(root: Path):
    return _with_micrograph(root, "empty", lambda p: p.write_bytes(b""))


def _not_mrc(root: Path):
    return _with_micrograph(root, "text", lambda p: p.write_text("this is not an image\n" * 100))


def _nan(root: Path):
    def write(p: Path) -> None:
        m = _mic(root).copy()
        m[10, 10] = np.nan
        write_mrc(p, m, 3.54)
    return _with_micrograph(root, "nan", write)


def _blank(root: Path):
    return _with_micrograph(root, "blank", lambda p: write_mrc(p, np.full(_mic(root).shape, 1.5, np.float32), 3.54))


def _stack(root: Path):
    return _with_micrograph(root, "stack", lambda p: write_mrc(p, np.stack([_mic(root)] * 3), 3.54))


def _dangling(root: Path):
    return _with_micrograph(root, "dangling", lambda p: os.symlink(root / "MotionCorr/job002/Movies/gone.mrc", p))


def _star_variant(root: Path, tag: str, edit: Callable[[str], str]) -> tuple[str, str, str]:
    star = f"CtfFind/job003/{tag}.star"
    (root / star).write_text(edit((root / STAR).read_text()))
    return star, PICKS, star


def _duplicated(root: Path):
    def edit(text: str) -> str:
        lines = text.split("\n")
        last = max(k for k, line in enumerate(lines) if GOOD_MIC in line)
        lines.insert(last + 1, lines[last])
        return "\n".join(lines)
    return _star_variant(root, "duplicated", edit)


def _garbled_loop(root: Path):
    def edit(text: str) -> str:
        head, tail = text.split("data_micrographs", 1)
        return head + "data_micrographs" + tail.replace("loop_", "loop_MotionCorr/job002/Movies/mic_001.mrc", 1)
    return _star_variant(root, "garbled", edit)


def _empty_star(root: Path):
    return _star_variant(root, "empty_star", lambda text: "")


def _no_name_label(root: Path):
    return _star_variant(root, "no_name", lambda text: text.replace("_rlnMicrographName", "_rlnMicrographNameX"))


def _escaping_name(root: Path):
    """A micrograph named by a path that climbs out of the project (a real MRC lies there), in the
    micrographs STAR and in the coordinate list."""
    outside = root.parent / f"{root.name}_outside.mrc"
    outside.write_bytes((root / GOOD_MIC).read_bytes())
    name = f"../{outside.name}"
    star, coords = "CtfFind/job003/escaping.star", "AutoPick/job004/escaping_list.star"
    (root / star).write_text((root / STAR).read_text().replace(GOOD_MIC, name))
    (root / coords).write_text((root / PICKS).read_text().replace(GOOD_MIC, name))
    return star, coords, star


def _nan_coordinate(root: Path):
    listing = (root / PICKS).read_text()
    first = next(line.split()[1] for line in listing.splitlines() if GOOD_MIC in line)
    text = (root / first).read_text().split("\n")
    row = next(k for k, line in enumerate(text) if line.strip()[:1].isdigit())
    fields = text[row].split()
    fields[0] = "nan"
    text[row] = " ".join(fields)
    bad = "AutoPick/job004/Movies/mic_002_nan.star"
    (root / bad).write_text("\n".join(text))
    coords = "AutoPick/job004/nan_coords.star"
    (root / coords).write_text(listing.replace(first, bad))
    return STAR, coords, bad


PIXEL_STAGES = ("autopick-log", "extract", "topaz-pick", "topaz-train")
STAR_STAGES = ("select", "select-new", "autopick-log", "extract", "topaz-pick", "topaz-train")

CASES = [
    Case("mrc truncated", _truncated, PIXEL_STAGES, ("truncated",)),
    Case("mrc empty", _empty_mrc, PIXEL_STAGES, ()),
    Case("mrc not an MRC", _not_mrc, PIXEL_STAGES, ()),
    Case("mrc NaN pixel", _nan, PIXEL_STAGES, ("NaN",)),
    Case("mrc blank", _blank, PIXEL_STAGES, ("every pixel is 1.5", "blank micrograph")),
    Case("mrc 3D stack", _stack, PIXEL_STAGES, ("stack",)),
    Case("mrc dangling symlink", _dangling, PIXEL_STAGES, ()),
    Case("star duplicated names", _duplicated, STAR_STAGES, ("more than once", "mic_002.mrc")),
    Case("star garbled loop_", _garbled_loop, STAR_STAGES, ("garbled",)),
    Case("star empty file", _empty_star, STAR_STAGES, ()),
    Case("star no rlnMicrographName", _no_name_label, STAR_STAGES, ("rlnMicrographName",)),
    # (subset selection copies rows and reads no micrograph; a micrograph linked in from outside the
    # project is RELION's normal import, not a bad input)
    Case("path escaping the project in a STAR", _escaping_name, PIXEL_STAGES, ("outside the project",)),
    Case("coordinates NaN", _nan_coordinate, ("extract",), ("not finite",)),
]

#: stage -> (job type, the output a finished job would have)
OUTPUTS = {"select": ("Select", "micrographs_split1.star"), "select-new": ("Select", "micrographs_new.star"),
           "autopick-log": ("AutoPick", "autopick.star"), "extract": ("Extract", "particles.star"),
           "topaz-pick": ("AutoPick", "autopick.star"), "topaz-train": ("AutoPick", "model_best.sav")}
_JOBS = itertools.count(100)
_ISSUED: set[str] = set()


def next_job(job_type: str) -> str:
    """A fresh job directory (numbers from 100 up, shared by every way the corpus runs)."""
    job = f"{job_type}/job{next(_JOBS):03d}/"
    _ISSUED.add(job)
    return job


def digests(root: Path) -> dict[str, str]:
    """Every input file of the project by content: all but default_pipeline.star and the corpus's jobs."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not p.is_symlink() and rel != "default_pipeline.star" \
                and not any(rel.startswith(job) for job in _ISSUED):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
