"""What cryopick's hand-written STAR and MRC readers save over starfile and mrcfile.

cryopick reads through the field's libraries where speed does not matter (``read_star`` parses
with starfile; stacks are written with mrcfile) and keeps two hand-written readers where it
does: the pandas-free STAR parser (``read_star_raw``) that the picking and extraction commands
use, and the MRC reader (``read_mrc``, with reads into a reusable buffer). This script measures,
on the same files in one run:

* whole processes that read what a picking or extraction command reads (a micrographs STAR,
  ``autopick.star`` and one coordinate file per micrograph; the micrographs), start-up
  included, with cryopick's readers and with starfile / mrcfile;
* per-file times in one process, including a large particles STAR (where starfile's pandas
  parser is faster, and ``read_star`` uses it);
* micrographs read in two threads into reused buffers, as the LoG picker reads them
  (``read_mrc`` takes the header from mrcfile and reads the data block itself).

``tests/file_crosscheck.py`` checks on every STAR and MRC file the test suite produces that the
hand-written readers agree with starfile and mrcfile.

Usage: ``python benchmarks/bench_io.py [--mics 24] [--repeat 7]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import byte_compile, per_call  # noqa: E402

STAR_OURS = """
import sys
from cryopick.io.star import read_star_raw
for f in sys.argv[1:]:
    read_star_raw(f)
"""
STAR_STARFILE = """
import sys, starfile
for f in sys.argv[1:]:
    starfile.read(f, always_dict=True)
"""
MRC_OURS = """
import sys
from cryopick.io.mrc import read_mrc
for f in sys.argv[1:]:
    read_mrc(f)
"""
MRC_MRCFILE = """
import sys, mrcfile, numpy
for f in sys.argv[1:]:
    with mrcfile.open(f, permissive=False) as m:
        a = numpy.asarray(m.data, dtype=numpy.float32)
        numpy.isfinite(a.sum())
"""


def make_files(root: Path, n_mics: int) -> tuple[list[Path], list[Path], Path]:
    """A picking job's STAR inputs, n_mics micrographs (1920x1856) and a 100k-row particles STAR."""
    from cryopick.io.coords import picks_columns, write_coordinate_list, write_coordinates
    from cryopick.io.mrc import write_mrc
    from cryopick.io.star import write_star

    rng = np.random.default_rng(0)
    names = [f"MotionCorr/job002/Movies/mic_{k:03d}.mrc" for k in range(n_mics)]
    mics = {
        "rlnMicrographName": np.array(names, dtype=object), "rlnOpticsGroup": np.ones(n_mics, dtype=np.int64),
        "rlnDefocusU": rng.uniform(1e4, 2e4, n_mics), "rlnDefocusV": rng.uniform(1e4, 2e4, n_mics),
        "rlnDefocusAngle": rng.uniform(0, 180, n_mics), "rlnCtfMaxResolution": rng.uniform(3, 6, n_mics),
    }
    optics = {"rlnOpticsGroupName": np.array(["opticsGroup1"], dtype=object), "rlnOpticsGroup": np.array([1]),
              "rlnMicrographPixelSize": np.array([1.77]), "rlnVoltage": np.array([300.0]),
              "rlnSphericalAberration": np.array([2.7]), "rlnAmplitudeContrast": np.array([0.1])}
    write_star(root / "micrographs_ctf.star", {"optics": optics, "micrographs": mics})
    coords = [f"AutoPick/job006/Movies/mic_{k:03d}_autopick.star" for k in range(n_mics)]
    for c in coords:
        write_coordinates(root / c, picks_columns(rng.uniform(0, 1920, 110), rng.uniform(0, 1856, 110), rng.normal(size=110)))
    write_coordinate_list(root / "autopick.star", names, coords)
    stars = [root / "micrographs_ctf.star", root / "autopick.star", *(root / c for c in coords)]
    micrographs = []
    for k in range(min(n_mics, 10)):
        path = root / f"mic_{k:03d}.mrc"
        write_mrc(path, rng.normal(size=(1856, 1920)).astype(np.float32), 1.77)
        micrographs.append(path)
    n = 100_000
    big = {"rlnCoordinateX": rng.uniform(0, 1920, n), "rlnCoordinateY": rng.uniform(0, 1856, n),
           "rlnImageName": np.array([f"{i % 300 + 1:06d}@Extract/job007/Movies/mic_{i // 300:04d}.mrcs" for i in range(n)],
                                    dtype=object),
           "rlnMicrographName": np.array([f"MotionCorr/job002/Movies/mic_{i // 300:04d}.mrc" for i in range(n)], dtype=object),
           "rlnOpticsGroup": np.ones(n, dtype=np.int64), "rlnDefocusU": rng.uniform(1e4, 2e4, n),
           "rlnClassNumber": rng.integers(1, 50, n), "rlnAnglePsi": rng.uniform(0, 360, n)}
    write_star(root / "particles.star", {"particles": big})
    return stars, micrographs, root / "particles.star"


def whole_process(code: str, files: list[Path], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *map(str, files)], check=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mics", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=7)
    a = parser.parse_args()
    byte_compile()  # whole-process timings without recompiling cryopick's sources (see common.py)
    import mrcfile
    import starfile

    from cryopick.io.mrc import read_mrc
    from cryopick.io.star import read_star, read_star_raw

    with tempfile.TemporaryDirectory(prefix="bench_io_") as tmp:
        stars, mics, big = make_files(Path(tmp), a.mics)
        print(f"STAR and MRC reading, median of {a.repeat}; {len(stars)} STAR files of a picking job, "
              f"{len(mics)} micrographs of 1920x1856 (float32)")
        ours, theirs = whole_process(STAR_OURS, stars, a.repeat), whole_process(STAR_STARFILE, stars, a.repeat)
        print(f"  whole process, the job's STAR files:  read_star_raw {ours:6.3f} s   starfile {theirs:6.3f} s   "
              f"({theirs / ours:.1f}x)")
        ours, theirs = whole_process(MRC_OURS, mics, a.repeat), whole_process(MRC_MRCFILE, mics, a.repeat)
        print(f"  whole process, the micrographs:       read_mrc      {ours:6.3f} s   mrcfile  {theirs:6.3f} s   "
              f"({theirs / ours:.2f}x)")
        coord = stars[2]
        t_raw = per_call(lambda: read_star_raw(coord), a.repeat * 5)
        t_sf = per_call(lambda: starfile.read(coord, always_dict=True), a.repeat * 5)
        print(f"  one coordinate file (110 rows):       read_star_raw {1e3 * t_raw:6.2f} ms  starfile {1e3 * t_sf:6.2f} ms")
        t_raw = per_call(lambda: read_star_raw(big), a.repeat)
        t_sf = per_call(lambda: starfile.read(big, always_dict=True), a.repeat)
        t_rs = per_call(lambda: read_star(big), a.repeat)
        print(f"  particles STAR (100,000 rows):        read_star_raw {t_raw:6.3f} s   starfile {t_sf:6.3f} s   "
              f"read_star (starfile + RELION types) {t_rs:6.3f} s")
        from concurrent.futures import ThreadPoolExecutor

        def threaded(read_one) -> float:
            """40 micrograph reads in 2 threads into reused buffers, as the LoG picker reads them."""
            bufs = [np.empty((1856, 1920), dtype=np.float32) for _ in range(2)]

            def run():
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(lambda k: read_one(mics[k % len(mics)], bufs[k % 2]), range(4 * len(mics))))
            return per_call(run, a.repeat)

        def with_open(path, out):
            with mrcfile.open(path, permissive=True) as m:
                np.copyto(out, m.data)

        def with_mmap(path, out):
            with mrcfile.mmap(path, permissive=True) as m:
                np.copyto(out, m.data)

        t_ours = threaded(lambda path, out: read_mrc(path, out=out, check_finite=False))
        t_open, t_mmap = threaded(with_open), threaded(with_mmap)
        print(f"  {4 * len(mics)} micrograph reads in 2 threads into buffers (as LoG; no finite check): read_mrc {t_ours:6.3f} s"
              f"   mrcfile.open {t_open:6.3f} s ({t_open / t_ours:.2f}x)   mrcfile.mmap {t_mmap:6.3f} s ({t_mmap / t_ours:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
