"""A corpus of bad inputs, generated at test time in a small simulated project.

Each :class:`Case` damages one input in its own file (the good inputs stay untouched), or asks for
something absurd (a parameter, a path out of the project), and says which stages it reaches, which
words the error must contain and what the run is given. The corpus runs through the CLI
(``test_cli_corpus.py``), through the services over real gRPC (``test_grpc_corpus.py``) and, for
the cases the flow can be given, through the flow (``tests/flows/test_badinput_flow.py``).

The project (``conftest.py``) is simulated, LoG-picked (``AutoPick/job004/``), extracted
(``Extract/job005/``, box 64) and classified (``Class2D/job006/``, 2 classes, 1 iteration), so the
particle, classification and model cases have good inputs to damage.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from cryopick.io.mrc import read_mrc, write_mrc
from cryopick.io.star import RawTable, read_star_raw, write_star

STAR = "CtfFind/job003/micrographs_ctf.star"
GOOD_MIC = "MotionCorr/job002/Movies/mic_002.mrc"
PICKS = "AutoPick/job004/autopick.star"
PARTICLES = "Extract/job005/particles.star"
OPTIMISER = "Class2D/job006/run_it001_optimiser.star"


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    name : str
    make : callable
        ``make(root) -> (main_input, coords_star, named)``, all project-relative (or, for the path
        cases, pointing out of the project): the stage's main input (the micrographs STAR; the
        particles STAR for class2d; the optimiser STAR for rank), the coordinate list, and what the
        error must name (the damaged file, or the parameter's flag).
    stages : tuple[str, ...]
        The stages that read the damaged input.
    fragments : tuple[str, ...] or dict
        Words the error must contain besides ``named``; a dict gives them per stage.
    fields : dict
        stage -> ``Params`` fields set differently from the corpus's settings (:func:`run_fields`).
    job_dir : callable, optional
        ``job_dir(root, job_type)``: the output job directory asked for, when that is the bad input;
        such a run is refused before anything is written, so no job is recorded.
    """

    name: str
    make: Callable[[Path], tuple[str, str, str]]
    stages: tuple[str, ...]
    fragments: tuple[str, ...] | Mapping[str, tuple[str, ...]] = ()
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    job_dir: Callable[[Path, str], str] | None = None

    def fragments_for(self, stage: str) -> tuple[str, ...]:
        """The words the error of ``stage`` must contain."""
        return tuple(self.fragments.get(stage, ())) if isinstance(self.fragments, Mapping) else self.fragments


# ----------------------------------------------------------------------------- micrographs


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


def _header_edit(root: Path, tag: str, words: Mapping[int, int], keep: int | None = None) -> tuple[str, str, str]:
    """Micrograph 2 with the header's 32-bit words at byte ``offset`` set (nx 0, ny 4, mode 12, ...),
    cut to ``keep`` bytes when given."""
    def write(p: Path) -> None:
        raw = bytearray((root / GOOD_MIC).read_bytes())
        for offset, value in words.items():
            raw[offset:offset + 4] = struct.pack("<i", value)
        p.write_bytes(bytes(raw[:keep] if keep else raw))
    return _with_micrograph(root, tag, write)


def _truncated(root: Path):
    return _with_micrograph(root, "truncated", lambda p: p.write_bytes((root / GOOD_MIC).read_bytes()[:5000]))


def _huge_header(root: Path):
    """A header claiming 100000 x 100000 pixels (40 GB) on a 5000-byte file: nothing may be allocated."""
    return _header_edit(root, "huge", {0: 100000, 4: 100000, 28: 100000, 32: 100000}, keep=5000)


def _mode_101(root: Path):
    return _header_edit(root, "mode101", {12: 101})


def _mode_3(root: Path):
    return _header_edit(root, "complex", {12: 3})


def _empty_mrc(root: Path):
    return _with_micrograph(root, "empty", lambda p: p.write_bytes(b""))


def _not_mrc(root: Path):
    return _with_micrograph(root, "text", lambda p: p.write_text("this is not an image\n" * 100))


def _bad_pixel(root: Path, tag: str, value: float):
    def write(p: Path) -> None:
        m = _mic(root).copy()
        m[10, 10] = value
        write_mrc(p, m, 3.54)
    return _with_micrograph(root, tag, write)


def _nan(root: Path):
    return _bad_pixel(root, "nan", np.nan)


def _inf(root: Path):
    return _bad_pixel(root, "inf", np.inf)


def _blank(root: Path):
    return _with_micrograph(root, "blank", lambda p: write_mrc(p, np.full(_mic(root).shape, 1.5, np.float32), 3.54))


def _stack(root: Path):
    return _with_micrograph(root, "stack", lambda p: write_mrc(p, np.stack([_mic(root)] * 3), 3.54))


def _dangling(root: Path):
    return _with_micrograph(root, "dangling", lambda p: os.symlink(root / "MotionCorr/job002/Movies/gone.mrc", p))


# ----------------------------------------------------------------------------- micrographs STAR


def _star_variant(root: Path, tag: str, edit: Callable[[str], str]) -> tuple[str, str, str]:
    star = f"CtfFind/job003/{tag}.star"
    (root / star).write_text(edit((root / STAR).read_text()))
    return star, PICKS, star


def _tables_variant(root: Path, src: str, dst: str, edit: Callable[[dict[str, RawTable]], None]) -> str:
    """``dst``: ``src``'s tables after ``edit`` (which changes them in place), written as RELION writes them."""
    tables = read_star_raw(root / src)
    edit(tables)
    write_star(root / dst, tables)
    return dst


def _set_field(text: str, table: str, label: str, row_holding: str, value: str) -> str:
    """``text`` with ``label``'s value in the row of data_``table`` that holds ``row_holding`` set to ``value``."""
    head, tail = text.split(f"data_{table}", 1)
    column = int(re.search(rf"_{label} #(\d+)", tail).group(1)) - 1
    lines = tail.split("\n")
    row = next(k for k, line in enumerate(lines) if row_holding in line.split())
    fields = lines[row].split()
    fields[column] = value
    lines[row] = " ".join(fields)
    return head + f"data_{table}" + "\n".join(lines)


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


def _not_numeric(root: Path):
    return _star_variant(root, "not_numeric",
                         lambda text: _set_field(text, "micrographs", "rlnDefocusU", GOOD_MIC, "abc"))


def _mixed_pixel_sizes(root: Path):
    """Micrograph 2 in a second optics group of 1.77 Å/px (the first is 3.54)."""
    def edit(tables: dict[str, RawTable]) -> None:
        optics = tables["optics"].columns
        for label, column in optics.items():
            optics[label] = np.concatenate([column, column])
        optics["rlnOpticsGroup"][1] = 2
        optics["rlnOpticsGroupName"][1] = "opticsGroup2"
        optics["rlnMicrographPixelSize"][1] = 1.77
        mics = tables["micrographs"].columns
        mics["rlnOpticsGroup"][np.asarray(mics["rlnMicrographName"]) == GOOD_MIC] = 2
    star = _tables_variant(root, STAR, "CtfFind/job003/mixed_pixels.star", edit)
    return star, PICKS, star


def _no_optics_table(root: Path):
    """A RELION 3.1 micrographs STAR with its data_optics cut off (the RELION 3.0 layout, which keeps the
    optics on every row, is read as RELION 3.1 reads it: tests/io/test_optics.py)."""
    star = _tables_variant(root, STAR, "CtfFind/job003/no_optics.star", lambda tables: tables.pop("optics"))
    return star, PICKS, star


def _no_micrographs_table(root: Path):
    star = _tables_variant(root, STAR, "CtfFind/job003/no_micrographs.star", lambda tables: tables.pop("micrographs"))
    return star, PICKS, star


# ----------------------------------------------------------------------------- coordinates


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


def _coordinate_value(root: Path, tag: str, value: str):
    """Micrograph 2's coordinate file with the first pick's x set to ``value`` (text, as written)."""
    listing = (root / PICKS).read_text()
    first = next(line.split()[1] for line in listing.splitlines() if GOOD_MIC in line)
    text = (root / first).read_text().split("\n")
    row = next(k for k, line in enumerate(text) if line.strip()[:1].isdigit())
    fields = text[row].split()
    fields[0] = value
    text[row] = " ".join(fields)
    bad = f"AutoPick/job004/Movies/mic_002_{tag}.star"
    (root / bad).write_text("\n".join(text))
    coords = f"AutoPick/job004/{tag}_coords.star"
    (root / coords).write_text(listing.replace(first, bad))
    return STAR, coords, bad


def _nan_coordinate(root: Path):
    return _coordinate_value(root, "nan", "nan")


def _not_numeric_coordinate(root: Path):
    return _coordinate_value(root, "x15", "x1.5")


def _unknown_micrographs(root: Path):
    """A coordinate list for other micrographs than the micrographs STAR's (e.g. the wrong job's)."""
    coords = "AutoPick/job004/other_mics.star"
    (root / coords).write_text((root / PICKS).read_text().replace("MotionCorr/job002/Movies/mic_",
                                                                  "MotionCorr/job009/Movies/mic_"))
    return STAR, coords, coords


def _off_micrograph(root: Path):
    """Every pick 100000 px to the right of its micrograph, and one at 1e30 (the 1024 x 1024 ones hold none)."""
    text = (root / PICKS).read_text()
    for rel in re.findall(r"\S+_autopick\.star", text):
        columns = read_star_raw(root / rel)[""].columns
        x = np.asarray(columns["rlnCoordinateX"], dtype=np.float64) + 100000
        x[0] = 1e30
        columns["rlnCoordinateX"] = x
        off = rel.replace("_autopick.star", "_off.star")
        write_star(root / off, {"": columns})
        text = text.replace(rel, off)
    coords = "AutoPick/job004/off_micrograph.star"
    (root / coords).write_text(text)
    return STAR, coords, coords


# ----------------------------------------------------------------------------- particles


def _particles_variant(root: Path, tag: str, edit: Callable[[dict[str, np.ndarray]], None]):
    """Extract/job005/<tag>.star: the particles STAR with its particle rows edited in place."""
    star = _tables_variant(root, PARTICLES, f"Extract/job005/{tag}.star", lambda t: edit(t["particles"].columns))
    return star, "", star


def _no_ctf(root: Path):
    def edit(rows: dict[str, np.ndarray]) -> None:
        for label in ("rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"):
            rows.pop(label)
    return _particles_variant(root, "no_ctf", edit)


def _past_the_stack(root: Path):
    """Particle 1 named as image 50 of its stack, which holds fewer."""
    def edit(rows: dict[str, np.ndarray]) -> None:
        rows["rlnImageName"][0] = "000050@" + str(rows["rlnImageName"][0]).split("@", 1)[1]
    return _particles_variant(root, "past_stack", edit)


def _other_box(root: Path):
    """Particle 1 named as an image of a stack of 32-px images (the optics table says 64)."""
    write_mrc(root / "Extract/job005/Movies/small.mrcs", np.random.default_rng(0).normal(size=(3, 32, 32)), 3.54)

    def edit(rows: dict[str, np.ndarray]) -> None:
        rows["rlnImageName"][0] = "000001@Extract/job005/Movies/small.mrcs"
    return _particles_variant(root, "other_box", edit)


# ----------------------------------------------------------------------------- models

TOPAZ_RANDOM, TOPAZ_TRUNCATED = "Models/random.sav", "Models/truncated.sav"
SCORER_RANDOM, SCORER_TRUNCATED = "Models/random_scorer.pt", "Models/truncated_scorer.pt"


def _random_bytes(root: Path, rel: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(np.random.default_rng(1).bytes(20000))


def _topaz_random(root: Path):
    _random_bytes(root, TOPAZ_RANDOM)
    return STAR, PICKS, TOPAZ_RANDOM


def _topaz_truncated(root: Path):
    """The first half of a real topaz model file (``topaz train``'s format)."""
    from cryopick.io.topaz_model import load_pretrained, save_sav

    (root / TOPAZ_TRUNCATED).parent.mkdir(parents=True, exist_ok=True)
    whole = root / "Models/whole.sav"
    save_sav(load_pretrained("resnet8_u32"), whole)
    data = whole.read_bytes()
    whole.unlink()
    (root / TOPAZ_TRUNCATED).write_bytes(data[: len(data) // 2])
    return STAR, PICKS, TOPAZ_TRUNCATED


def _scorer_random(root: Path):
    _random_bytes(root, SCORER_RANDOM)
    return OPTIMISER, "", SCORER_RANDOM


def _scorer_truncated(root: Path):
    """The first half of the class scorer's shipped weights."""
    from cryopick.io.ranker_model import SHIPPED_WEIGHTS

    (root / SCORER_TRUNCATED).parent.mkdir(parents=True, exist_ok=True)
    data = SHIPPED_WEIGHTS.read_bytes()
    (root / SCORER_TRUNCATED).write_bytes(data[: len(data) // 2])
    return OPTIMISER, "", SCORER_TRUNCATED


# ----------------------------------------------------------------------------- parameters and paths


def _parameter(flag: str) -> Callable[[Path], tuple[str, str, str]]:
    """Good inputs; the error must name the parameter ``flag``."""
    return lambda root: (STAR, PICKS, flag)


def _class2d_parameter(flag: str) -> Callable[[Path], tuple[str, str, str]]:
    return lambda root: (PARTICLES, "", flag)


#: Each stage's main input in the project, copied out of it by the path cases.
MAIN_INPUT = {"class2d": PARTICLES, "rank": OPTIMISER}
MAIN_FIELD = {"class2d": "particles_star", "rank": "optimiser_star"}


def _outside_copy(root: Path) -> Path:
    """A good micrographs STAR outside the project, next to it."""
    outside = root.parent / f"{root.name}_outside.star"
    outside.write_bytes((root / STAR).read_bytes())
    return outside


def _input_outside_relative(root: Path):
    name = f"../{_outside_copy(root).name}"
    return name, PICKS, name


def _input_outside_absolute(root: Path):
    name = str(_outside_copy(root))
    return name, PICKS, name


def _job_outside(root: Path, job_type: str) -> str:
    return f"../{root.name}_outside/{job_type}/job001/"


PIXEL_STAGES = ("autopick-log", "extract", "topaz-pick", "topaz-train")
STAR_STAGES = ("select", "select-new", "autopick-log", "extract", "topaz-pick", "topaz-train")
COORD_STAGES = ("extract", "topaz-train")
ALL_STAGES = ("select", "select-new", "autopick-log", "extract", "class2d", "rank", "topaz-pick", "topaz-train")

CASES = [
    Case("mrc truncated", _truncated, PIXEL_STAGES, ("truncated",)),
    Case("mrc huge header", _huge_header, PIXEL_STAGES, ("shorter than", "100000x100000")),
    Case("mrc mode 101", _mode_101, PIXEL_STAGES, ("mode 101",)),
    Case("mrc mode 3 complex", _mode_3, PIXEL_STAGES, ("mode 3",)),
    Case("mrc empty", _empty_mrc, PIXEL_STAGES, ()),
    Case("mrc not an MRC", _not_mrc, PIXEL_STAGES, ()),
    Case("mrc NaN pixel", _nan, PIXEL_STAGES, ("NaN",)),
    Case("mrc Inf pixel", _inf, PIXEL_STAGES, ("infinite",)),
    Case("mrc blank", _blank, PIXEL_STAGES, ("every pixel is 1.5", "blank micrograph")),
    Case("mrc 3D stack", _stack, PIXEL_STAGES, ("stack",)),
    Case("mrc dangling symlink", _dangling, PIXEL_STAGES, ()),
    Case("star duplicated names", _duplicated, STAR_STAGES, ("more than once", "mic_002.mrc")),
    Case("star garbled loop_", _garbled_loop, STAR_STAGES, ("garbled",)),
    Case("star empty file", _empty_star, STAR_STAGES, ()),
    Case("star no rlnMicrographName", _no_name_label, STAR_STAGES, ("rlnMicrographName",)),
    Case("star non-numeric value", _not_numeric, STAR_STAGES, ("rlnDefocusU", "'abc'")),
    # (extraction may mix pixel sizes, as relion_preprocess does per optics group; cryopick's extraction
    # refuses them for now, which is a limitation, not this case; subset selection does not use them)
    Case("star mixed pixel sizes", _mixed_pixel_sizes, ("autopick-log", "topaz-pick", "topaz-train"),
         ("different micrograph pixel sizes", "3.54", "1.77")),
    Case("star no optics table", _no_optics_table, STAR_STAGES, ("no data_optics", "rlnVoltage")),
    Case("star no data_micrographs", _no_micrographs_table, STAR_STAGES, ("data_micrographs",)),
    # (subset selection copies rows and reads no micrograph; a micrograph linked in from outside the
    # project is RELION's normal import, not a bad input)
    Case("path escaping the project in a STAR", _escaping_name, PIXEL_STAGES, ("outside the project",)),
    Case("coordinates NaN", _nan_coordinate, COORD_STAGES, ("not finite",)),
    Case("coordinates not numeric", _not_numeric_coordinate, COORD_STAGES, ("rlnCoordinateX", "'x1.5'")),
    Case("coordinates for unknown micrographs", _unknown_micrographs, COORD_STAGES,
         ("names none of the micrographs of", "micrographs_ctf.star")),
    # (picks partly off their micrograph are skipped, as RELION skips them: not a bad input)
    Case("coordinates all off the micrograph", _off_micrograph, COORD_STAGES, ("off the micrograph",)),
    Case("particles without CTF values", _no_ctf, ("class2d",), ("CTF correction needs", "rlnDefocusU")),
    Case("particles past the end of a stack", _past_the_stack, ("class2d",), ("image 50@", "holds")),
    Case("particles in a stack of another box", _other_box, ("class2d",), ("small.mrcs", "32x32", "says 64")),
    Case("model topaz random bytes", _topaz_random, ("topaz-pick",), ("not a topaz model file",),
         fields={"topaz-pick": {"model_path": TOPAZ_RANDOM}}),
    Case("model topaz truncated", _topaz_truncated, ("topaz-pick",), ("corrupt topaz model file",),
         fields={"topaz-pick": {"model_path": TOPAZ_TRUNCATED}}),
    Case("model ranker random bytes", _scorer_random, ("rank",), ("not a class-scorer weights file",),
         fields={"rank": {"model_path": SCORER_RANDOM}}),
    Case("model ranker truncated", _scorer_truncated, ("rank",), ("corrupt class-scorer weights file",),
         fields={"rank": {"model_path": SCORER_TRUNCATED}}),
    Case("parameter box 0", _parameter("--box"), ("extract",), ("Particle box size", "at least 2"),
         fields={"extract": {"box_size_px": 0}}),
    Case("parameter LoG min diameter above max", _parameter("--diam-min"), ("autopick-log",),
         ("--diam-max", "larger than"), fields={"autopick-log": {"diameter_min_angstrom": 300.0}}),
    Case("parameter LoG negative diameter", _parameter("--diam-min"), ("autopick-log",), ("at least",),
         fields={"autopick-log": {"diameter_min_angstrom": -150.0}}),
    Case("parameter topaz diameter 0", _parameter("--diameter"), ("topaz-pick",), ("Particle diameter", "at least"),
         fields={"topaz-pick": {"particle_diameter_angstrom": 0.0}}),
    Case("parameter class2d 0 classes", _class2d_parameter("--classes"), ("class2d",),
         ("Number of classes", "at least 1"), fields={"class2d": {"nr_classes": 0}}),
    Case("path input outside the project", _input_outside_relative, ALL_STAGES, ("outside the project",)),
    Case("path input absolute outside the project", _input_outside_absolute, ALL_STAGES, ("outside the project",)),
    Case("path job directory outside the project", lambda root: (STAR, PICKS, "job001"), ALL_STAGES,
         ("job directory", "outside the project"), job_dir=_job_outside),
]

#: stage -> (job type, the output a finished job would have)
OUTPUTS = {"select": ("Select", "micrographs_split1.star"), "select-new": ("Select", "micrographs_new.star"),
           "autopick-log": ("AutoPick", "autopick.star"), "extract": ("Extract", "particles.star"),
           "class2d": ("Class2D", "run_it001_optimiser.star"), "rank": ("Select", "particles.star"),
           "topaz-pick": ("AutoPick", "autopick.star"), "topaz-train": ("AutoPick", "model_best.sav")}

#: The corpus's small, fast settings of each stage (Params fields besides the inputs).
SETTINGS: dict[str, dict[str, Any]] = {
    "select": {"split_size": 1},
    "select-new": {},
    "autopick-log": {"diameter_min_angstrom": 150.0, "diameter_max_angstrom": 180.0},
    "extract": {"box_size_px": 64},
    "class2d": {"nr_classes": 2, "nr_iter": 1, "mask_diameter_angstrom": 200.0},
    "rank": {},
    "topaz-pick": {"particle_diameter_angstrom": 180.0},
    "topaz-train": {"particle_diameter_angstrom": 180.0, "nr_particles_per_micrograph": 20, "nr_epochs": 1,
                    "epoch_size": 1, "minibatch_size": 8},
}


def run_fields(case: Case, stage: str, made: tuple[str, str, str]) -> dict[str, Any]:
    """The ``Params`` fields of one run: ``made``'s inputs, the corpus's settings, the case's changes.

    ``made``'s main input is the micrographs STAR; where it is the good one, class2d and rank get
    their own good input instead (the particles STAR, the optimiser STAR).
    """
    main, coords, _ = made
    inputs = {MAIN_FIELD.get(stage, "micrographs_star"): MAIN_INPUT.get(stage, main) if main == STAR else main}
    if stage in COORD_STAGES:
        inputs["coords_star"] = coords
    return {**inputs, **SETTINGS[stage], **case.fields.get(stage, {})}


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
