"""MRC images and MRCS stacks, including IEEE float16 (MRC mode 12), with mrcfile as the engine.

mrcfile reads headers and writes files; on top sit RELION's rules: the modes RELION reads, the
checks that a file is complete and finite, and errors that name the file ("micrograph X: MRC
header says mode 7, expected 0/1/2/6/12"). Only the data block is read by hand, straight into
the caller's buffer (:func:`read_mrc`; ``benchmarks/bench_io.py`` shows why).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.atomic import atomic_path

SUPPORTED_MODES = {0: np.int8, 1: np.int16, 2: np.float32, 6: np.uint16, 12: np.float16}
HEADER_BYTES = 1024


@dataclass(frozen=True)
class MrcHeader:
    """The parts of an MRC header cryopick uses.

    Attributes
    ----------
    nx, ny, nz : int
        Columns, rows, sections (images in a stack).
    mode : int
        Data type code.
    pixel_size_angstrom : float
        Cell x length / mx (0 if unset).
    extended_bytes : int
        Size of the extended header.
    """

    nx: int
    ny: int
    nz: int
    mode: int
    pixel_size_angstrom: float
    extended_bytes: int


def _open(path: Path):
    """The header, read by mrcfile (permissive: cryopick's own checks say what is wrong, naming the file)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mrcfile.open(path, header_only=True, permissive=True)
    except FileNotFoundError:
        raise MissingFileError(f"{path}: micrograph/image file not found") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory, expected an MRC file") from None
    except ValueError as exc:  # mrcfile: e.g. "Couldn't read enough bytes for MRC header"
        raise BadInputError(f"{path}: not an MRC file ({exc})") from None


def _checked(mrc, path: Path) -> MrcHeader:
    """RELION's rules on an open file's header: a readable mode, sensible dimensions, all data present."""
    h = mrc.header
    nx, ny, nz, mode = int(h.nx), int(h.ny), int(h.nz), int(h.mode)
    pixel = float(mrc.voxel_size.x)
    extended = max(int(h.nsymbt), 0)
    if bytes(h.map) != b"MAP " and not (0 < nx < 1 << 20 and 0 < ny < 1 << 20):
        raise BadInputError(f"{path}: not an MRC file (no 'MAP ' tag and implausible dimensions)")
    if mode not in SUPPORTED_MODES:
        raise BadInputError(
            f"{path}: MRC header says mode {mode}, expected one of {'/'.join(str(m) for m in SUPPORTED_MODES)}"
        )
    if nx <= 0 or ny <= 0 or nz <= 0:
        raise BadInputError(f"{path}: MRC header has invalid dimensions {nx}x{ny}x{nz}")
    size = path.stat().st_size
    need = HEADER_BYTES + extended + nx * ny * nz * np.dtype(SUPPORTED_MODES[mode]).itemsize
    if size < need:
        raise BadInputError(f"{path}: truncated MRC file: {size} bytes, shorter than the {need} bytes its header "
                            f"promises ({nx}x{ny}x{nz} pixels of mode {mode})")
    return MrcHeader(nx, ny, nz, mode, pixel if np.isfinite(pixel) else 0.0, extended)


def read_header(path: str | os.PathLike) -> MrcHeader:
    """Read and validate the header of an MRC file (mrcfile reads it; RELION's rules are checked here).

    Raises
    ------
    MissingFileError
        No such file.
    BadInputError
        Too short, not MRC, unsupported mode, or shorter than the header promises.
    """
    path = Path(path)
    with _open(path) as mrc:
        return _checked(mrc, path)


def read_mrc(path: str | os.PathLike, check_finite: bool = True, out: np.ndarray | None = None) -> np.ndarray:
    """Read an MRC image or stack as float32: the header through mrcfile and RELION's checks, the data directly.

    The data block is read straight into the result (or ``out``): the one hand-written part,
    kept because it is faster than mrcfile's copy where micrographs are read in parallel
    threads (``benchmarks/bench_io.py``); ``tests/file_crosscheck.py`` checks it against
    mrcfile on every MRC file the test suite produces.

    Parameters
    ----------
    path : path-like
    check_finite : bool
        Reject NaN / infinite values.
    out : ndarray, float32, optional
        A buffer of the image's shape to read into (reused across micrographs read in a loop).

    Returns
    -------
    ndarray, shape (ny, nx) for a single image or (nz, ny, nx) for a stack, float32
        Row-major as stored: x = column, y = row. ``out`` itself when given.

    Raises
    ------
    MissingFileError, BadInputError
        Missing, truncated, non-MRC, unsupported mode, or (``check_finite``) NaN/inf values;
        ``out`` of the wrong shape.
    """
    path = Path(path)
    with _open(path) as mrc:
        hdr = _checked(mrc, path)
        dtype = np.dtype(SUPPORTED_MODES[hdr.mode]).newbyteorder(mrc.header.mode.dtype.byteorder)
    shape = (hdr.ny, hdr.nx) if hdr.nz == 1 else (hdr.nz, hdr.ny, hdr.nx)
    if out is not None and (out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous):
        raise BadInputError(f"{path}: image is {'x'.join(map(str, shape[::-1]))}, buffer is {'x'.join(map(str, out.shape[::-1]))}")
    count = hdr.nx * hdr.ny * hdr.nz
    with open(path, "rb") as fh:
        fh.seek(HEADER_BYTES + hdr.extended_bytes)
        if dtype == np.dtype("<f4") or dtype == np.dtype("=f4"):
            arr = out if out is not None else np.empty(shape, dtype=np.float32)
            got = fh.readinto(memoryview(arr).cast("B")) // 4
        else:
            data = np.fromfile(fh, dtype=dtype, count=count)
            got = data.size
            arr = out if out is not None else np.empty(shape, dtype=np.float32)
            if got == count:
                np.copyto(arr, data.reshape(shape), casting="unsafe")
    if got != count:
        raise BadInputError(f"{path}: truncated MRC data ({got} of {count} values)")
    if check_finite and not np.isfinite(arr.sum()) and not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise BadInputError(f"{path}: contains {bad} NaN/infinite pixel value(s)")
    return arr


#: The header's first label in every MRC file cryopick writes (no timestamp: same data, same bytes).
LABEL = b"cryopick"


def write_mrc(
    path: str | os.PathLike,
    data: np.ndarray,
    pixel_size_angstrom: float,
    float16: bool = False,
    stack: bool | None = None,
) -> None:
    """Write an image (2D) or a stack (3D, images along axis 0) atomically.

    Parameters
    ----------
    data : ndarray, shape (ny, nx) or (n, ny, nx)
    pixel_size_angstrom : float
        Stored as the cell size / sampling.
    float16 : bool
        Write MRC mode 12 (IEEE half precision) instead of mode 2 (float32).
    stack : bool, optional
        Mark a 3D array as an image stack (default: True for 3D input).
    """
    arr = np.asarray(data)
    arr = arr.astype(np.float16 if float16 else np.float32, copy=False)
    if stack is None:
        stack = arr.ndim == 3
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mrc = mrcfile.new(tmp, overwrite=True)
            try:
                mrc.set_data(arr)
                if stack and arr.ndim == 3:
                    mrc.set_image_stack()
                mrc.voxel_size = pixel_size_angstrom
                mrc.update_header_stats()
                # mrcfile's default label holds the creation time; a fixed one keeps outputs byte-reproducible
                mrc.header.label[0] = LABEL
                mrc.close()  # writes the file
            except BaseException:
                # a write that fails (e.g. disk full) leaves mrcfile's file open, and the space of the
                # removed temporary file held until garbage collection: close it now
                with contextlib.suppress(Exception):
                    mrc._close_file()
                raise
