"""Cross-checks of cryopick's hand-written STAR and MRC readers against starfile and mrcfile.

cryopick keeps two hand-written readers for speed (``benchmarks/bench_io.py`` shows the gain):
the pandas-free STAR parser (:func:`cryopick.io.star.read_star_raw`) and the MRC reader
(:func:`cryopick.io.mrc.read_mrc`). ``tests/conftest.py`` runs these checks on every STAR and
MRC file the test suite produces (cryopick's own outputs, the simulator's, and RELION's in the
parity tests); files the strict readers refuse (the suite's deliberately broken inputs) are
left out.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cryopick.errors import CryopickError


def _same_value(ours: object, theirs: object) -> bool:
    if str(ours) == str(theirs):
        return True
    try:
        return bool(np.isclose(float(ours), float(theirs), rtol=1e-12, atol=0))
    except (TypeError, ValueError):
        return False


def check_star(path: Path) -> None:
    """read_star_raw, read_star (starfile engine) and starfile itself agree on ``path``."""
    import starfile

    from cryopick.io.star import read_star, read_star_raw

    try:
        ours = read_star_raw(path)
    except CryopickError:
        return  # a broken input the suite made on purpose
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = starfile.read(path, always_dict=True)
    from cryopick.io import star

    saved, star.STARFILE_FROM_BYTES = star.STARFILE_FROM_BYTES, 0  # read_star's starfile path, whatever the size
    try:
        frames = read_star(path)
    finally:
        star.STARFILE_FROM_BYTES = saved
    assert list(ours) == list(theirs) == list(frames), f"{path}: tables {list(ours)} / {list(theirs)} / {list(frames)}"
    for name, table in ours.items():
        block = theirs[name]
        rows = {k: [v] for k, v in block.items()} if isinstance(block, dict) else {c: list(block[c]) for c in block.columns}
        assert list(rows) == list(table.columns), f"{path}: data_{name} labels differ from starfile's"
        frame = frames[name]
        for label, column in table.columns.items():
            assert len(rows[label]) == len(column), f"{path}: data_{name} {label}: row count differs from starfile's"
            bad = [k for k, (a, b) in enumerate(zip(column, rows[label])) if not _same_value(a, b)]
            assert not bad, f"{path}: data_{name} {label} row {bad[0] + 1}: {column[bad[0]]!r} vs starfile {rows[label][bad[0]]!r}"
            mine = frame[label].to_numpy()
            assert mine.dtype.kind == column.dtype.kind or {mine.dtype.kind, column.dtype.kind} <= {"O", "U", "T"}, (
                f"{path}: data_{name} {label}: read_star gives {mine.dtype}, read_star_raw {column.dtype}")
            assert all(_same_value(a, b) for a, b in zip(mine, column)), f"{path}: data_{name} {label}: read_star differs"


def check_mrc(path: Path) -> None:
    """read_header / read_mrc agree with mrcfile on ``path`` (shape, mode, pixel size, every pixel)."""
    import mrcfile

    from cryopick.io.mrc import read_header, read_mrc

    try:
        header = read_header(path)
        data = read_mrc(path, check_finite=False)
    except CryopickError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.open(path, permissive=True) as m:
            theirs = np.asarray(m.data, dtype=np.float32)
            mode = int(m.header.mode)
            voxel = float(m.voxel_size.x)
    assert header.mode == mode, f"{path}: mode {header.mode} vs mrcfile {mode}"
    assert data.shape == theirs.shape, f"{path}: shape {data.shape} vs mrcfile {theirs.shape}"
    assert np.array_equal(data, theirs, equal_nan=True), f"{path}: pixel values differ from mrcfile's"
    assert np.isclose(header.pixel_size_angstrom, voxel, rtol=1e-6), f"{path}: pixel size differs from mrcfile's"


CHECKS = {".star": check_star, ".mrc": check_mrc, ".mrcs": check_mrc}
