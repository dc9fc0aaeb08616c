"""Coordinate files: per-micrograph ``*_autopick.star`` and the ``autopick.star`` list.

Tables are column dictionaries (label -> numpy array, see :mod:`cryopick.io.columns`);
pandas is never imported here (it costs about a third of a second of start-up).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.atomic import atomic_path
from cryopick.io.star import get_table, read_star_raw, write_star

LIST_TABLE = "coordinate_files"


def picks_columns(x_px: np.ndarray, y_px: np.ndarray, fom: np.ndarray) -> dict[str, np.ndarray]:
    """Coordinate table columns in RELION's order.

    Parameters
    ----------
    x_px, y_px : ndarray, shape (n,)
        0-based pixel coordinates (x = column, y = row).
    fom : ndarray, shape (n,)
        Figures of merit.
    """
    n = len(x_px)
    return {
        "rlnCoordinateX": np.asarray(x_px, dtype=np.float64),
        "rlnCoordinateY": np.asarray(y_px, dtype=np.float64),
        "rlnAutopickFigureOfMerit": np.asarray(fom, dtype=np.float64),
        "rlnClassNumber": np.zeros(n, dtype=np.int64),
        "rlnAnglePsi": np.zeros(n, dtype=np.float64),
    }


def write_coordinates(path: str | os.PathLike, picks: Mapping[str, Any]) -> None:
    """Write a coordinate STAR (table ``data_``); no picks gives a 0-byte file, as RELION.

    ``picks`` maps label -> column (see :func:`picks_columns`) or is a DataFrame.
    """
    n = len(picks) if hasattr(picks, "attrs") else len(next(iter(picks.values())))
    if n == 0:
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"")
        return
    write_star(path, {"": picks})


def read_coordinates(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A coordinate STAR's columns; a 0-byte file (no picks) gives empty x, y columns.

    Returns
    -------
    dict[str, ndarray]
        At least ``rlnCoordinateX`` and ``rlnCoordinateY``, shape (n,) each.

    Raises
    ------
    MissingFileError
        No such file.
    BadInputError
        No rlnCoordinateX / rlnCoordinateY, or a coordinate that is not a finite number.
    """
    tables = read_star_raw(path)
    if not tables:
        return {"rlnCoordinateX": np.zeros(0), "rlnCoordinateY": np.zeros(0)}
    name = "" if "" in tables else next(iter(tables))
    columns = dict(get_table(tables, name, path, required=("rlnCoordinateX", "rlnCoordinateY")).columns)
    for label in ("rlnCoordinateX", "rlnCoordinateY"):
        try:
            values = np.asarray(columns[label], dtype=np.float64)
        except (TypeError, ValueError):
            raise BadInputError(f"{path}: _{label} holds values that are not numbers") from None
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise BadInputError(f"{path}: {bad.size} value(s) of _{label} are not finite numbers "
                                f"(first in data row {bad[0] + 1}: {columns[label][bad[0]]})")
    return columns


def write_coordinate_list(path: str | os.PathLike, micrographs: list[str], coordinate_files: list[str]) -> None:
    """Write RELION 4's ``autopick.star`` (``data_coordinate_files``)."""
    columns = {
        "rlnMicrographName": np.array(micrographs, dtype=object),
        "rlnMicrographCoordinates": np.array(coordinate_files, dtype=object),
    }
    write_star(path, {LIST_TABLE: columns})


def read_coordinate_list(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``autopick.star`` (data_coordinate_files): rlnMicrographName, rlnMicrographCoordinates."""
    tables = read_star_raw(path)
    if not tables:
        raise BadInputError(f"{path}: empty coordinate list")
    return dict(get_table(tables, LIST_TABLE, path, required=("rlnMicrographName", "rlnMicrographCoordinates")).columns)
