"""Particle images named by a particles STAR file (``NNNNNN@stack.mrcs``), read stack by stack."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import mrcfile
import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.mrc import read_header, read_mrc
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import split_image_name


def check_particle_stacks(project: ProjectPaths, image_names: Sequence[str], star_path: object,
                          box_px: int) -> dict[str, list[tuple[int, int]]]:
    """Check that every image exists in its stack, with the box size of the optics table.

    Parameters
    ----------
    image_names : sequence of str
        rlnImageName of each particle, e.g. ``000012@Extract/job007/Movies/a.mrcs``.
    star_path : path-like
        The particles STAR (for messages).
    box_px : int
        rlnImageSize.

    Returns
    -------
    dict
        Stack (project-relative) -> [(row in the STAR file, 0-based image index), ...].

    Raises
    ------
    BadInputError, MissingFileError
        A malformed image name, a stack outside the project or missing, an index beyond the
        stack's images, or images of another size than ``box_px``.
    """
    stacks: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row, name in enumerate(image_names):
        index, stack = split_image_name(str(name))
        if index < 1:
            raise BadInputError(f"{star_path}: row {row + 1}: image index {index} in {name!r} (indices start at 1)")
        stacks[stack].append((row, index - 1))
    for stack, members in stacks.items():
        hdr = read_header(project.read_path(stack, "particle stack"))
        if (hdr.nx, hdr.ny) != (box_px, box_px):
            raise BadInputError(f"{star_path}: {stack} holds {hdr.nx}x{hdr.ny} images, the optics table says {box_px}")
        top = max(i for _, i in members)
        if top >= hdr.nz:
            raise BadInputError(f"{star_path}: image {top + 1}@{stack} is named, but {stack} holds {hdr.nz} images")
    return dict(stacks)


def read_particle_images(project: ProjectPaths, stacks: dict[str, list[tuple[int, int]]], n: int, box_px: int,
                         progress: Callable[[int], None] | None = None) -> np.ndarray:
    """All particle images, in STAR-file order, shape (n, B, B) float32 (see :func:`check_particle_stacks`)."""
    out = np.empty((n, box_px, box_px), dtype=np.float32)
    done = 0
    for stack, members in stacks.items():
        data = read_mrc(project.read_path(stack, "particle stack"))
        data = data[None] if data.ndim == 2 else data
        rows = np.fromiter((r for r, _ in members), dtype=np.int64, count=len(members))
        idx = np.fromiter((i for _, i in members), dtype=np.int64, count=len(members))
        out[rows] = data[idx]
        done += len(members)
        if progress is not None:
            progress(done)
    return out


class StreamedImages:
    """Particle images read from their stacks when asked for, instead of all at once.

    For particle sets larger than the memory budget: ``images[index]`` opens (memory-maps)
    only the stacks that hold ``index`` and copies those images out.

    Parameters
    ----------
    project : ProjectPaths
    stacks : dict
        Stack -> [(row, 0-based index)] (:func:`check_particle_stacks`).
    n, box_px : int
    """

    def __init__(self, project: ProjectPaths, stacks: dict[str, list[tuple[int, int]]], n: int, box_px: int):
        self.shape = (n, box_px, box_px)
        self._paths = [project.read_path(stack, "particle stack") for stack in stacks]
        self._stack = np.empty(n, dtype=np.int64)
        self._index = np.empty(n, dtype=np.int64)
        for s, members in enumerate(stacks.values()):
            for row, i in members:
                self._stack[row], self._index[row] = s, i

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """Images ``index`` (integer array) as float32, shape (len(index), B, B)."""
        index = np.asarray(index, dtype=np.int64)
        out = np.empty((len(index),) + self.shape[1:], dtype=np.float32)
        stacks = self._stack[index]
        for s in np.unique(stacks):
            sel = np.flatnonzero(stacks == s)
            with mrcfile.mmap(self._paths[s], mode="r") as mrc:
                data = mrc.data if mrc.data.ndim == 3 else mrc.data[None]
                out[sel] = data[self._index[index[sel]]]
        if not np.isfinite(out).all():
            raise BadInputError(f"{self._paths[int(stacks[0])]}: particle images hold NaN or infinite values")
        return out
