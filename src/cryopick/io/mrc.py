"""MRC images and MRCS stacks, including IEEE float16 (MRC mode 12)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

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


def read_header(path: str | os.PathLike) -> MrcHeader:
    """Read and validate the header of an MRC file.

    Raises
    ------
    MissingFileError
        No such file.
    BadInputError
        Too short, not MRC, unsupported mode, or shorter than the header promises.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEADER_BYTES)
            size = os.fstat(fh.fileno()).st_size
    except FileNotFoundError:
        raise MissingFileError(f"{path}: micrograph/image file not found") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory, expected an MRC file") from None
    if len(raw) < HEADER_BYTES:
        raise BadInputError(f"{path}: not an MRC file ({size} bytes, shorter than the 1024-byte header)")
    stamp = raw[212:214]
    endian = ">" if stamp[0] == 0x11 else "<"
    nx, ny, nz, mode = np.frombuffer(raw[:16], dtype=f"{endian}i4")
    mx = int(np.frombuffer(raw[28:32], dtype=f"{endian}i4")[0])
    cella_x = float(np.frombuffer(raw[40:44], dtype=f"{endian}f4")[0])
    nsymbt = int(np.frombuffer(raw[92:96], dtype=f"{endian}i4")[0])
    if raw[208:212] != b"MAP " and not (0 < nx < 1 << 20 and 0 < ny < 1 << 20):
        raise BadInputError(f"{path}: not an MRC file (no 'MAP ' tag and implausible dimensions)")
    if mode not in SUPPORTED_MODES:
        raise BadInputError(
            f"{path}: MRC header says mode {int(mode)}, expected one of "
            f"{'/'.join(str(m) for m in SUPPORTED_MODES)}"
        )
    if nx <= 0 or ny <= 0 or nz <= 0:
        raise BadInputError(f"{path}: MRC header has invalid dimensions {nx}x{ny}x{nz}")
    need = HEADER_BYTES + max(nsymbt, 0) + int(nx) * int(ny) * int(nz) * np.dtype(SUPPORTED_MODES[int(mode)]).itemsize
    if size < need:
        raise BadInputError(
            f"{path}: truncated MRC file ({size} bytes, header promises {nx}x{ny}x{nz} mode {int(mode)} = {need} bytes)"
        )
    pixel = cella_x / mx if mx > 0 else 0.0
    return MrcHeader(int(nx), int(ny), int(nz), int(mode), float(pixel), max(nsymbt, 0))


def read_mrc(path: str | os.PathLike, check_finite: bool = True, out: np.ndarray | None = None) -> np.ndarray:
    """Read an MRC image or stack as float32.

    Parameters
    ----------
    path : path-like
    check_finite : bool
        Reject NaN / infinite values.
    out : ndarray, float32, optional
        A buffer of the image's shape to read into (avoids a fresh allocation per
        micrograph when many are read in a loop).

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
    hdr = read_header(path)
    shape = (hdr.ny, hdr.nx) if hdr.nz == 1 else (hdr.nz, hdr.ny, hdr.nx)
    if out is not None and (out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous):
        raise BadInputError(f"{path}: image is {'x'.join(map(str, shape[::-1]))}, buffer is {'x'.join(map(str, out.shape[::-1]))}")
    count = hdr.nx * hdr.ny * hdr.nz
    with open(path, "rb") as fh:
        head = fh.read(HEADER_BYTES)
        dtype = np.dtype(SUPPORTED_MODES[hdr.mode]).newbyteorder(">" if head[212] == 0x11 else "<")
        fh.seek(HEADER_BYTES + hdr.extended_bytes)
        if out is not None and dtype == np.dtype("<f4"):
            got = fh.readinto(memoryview(out).cast("B")) // 4
            arr = out
        else:
            data = np.fromfile(fh, dtype=dtype, count=count)
            got = data.size
            if got == count:
                arr = data.astype(np.float32, copy=False).reshape(shape)
                if out is not None:
                    np.copyto(out, arr)
                    arr = out
    if got != count:
        raise BadInputError(f"{path}: truncated MRC data ({got} of {count} values)")
    if check_finite and not np.isfinite(arr.sum()) and not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise BadInputError(f"{path}: contains {bad} NaN/infinite pixel value(s)")
    return arr


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
    import mrcfile

    arr = np.asarray(data)
    arr = arr.astype(np.float16 if float16 else np.float32, copy=False)
    if stack is None:
        stack = arr.ndim == 3
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mrcfile.new(tmp, overwrite=True) as mrc:
                mrc.set_data(arr)
                if stack and arr.ndim == 3:
                    mrc.set_image_stack()
                mrc.voxel_size = pixel_size_angstrom
                mrc.update_header_stats()
