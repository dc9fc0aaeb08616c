"""Coordinate files: per-micrograph ``*_autopick.star`` and the ``autopick.star`` list."""

from __future__ import annotations

import os
from pathlib import Path

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from cryopick.io.atomic import atomic_path
from cryopick.io.star import write_star

if TYPE_CHECKING:
    import pandas as pd

COORD_COLUMNS = ("rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber", "rlnAnglePsi")
LIST_TABLE = "coordinate_files"


def picks_columns(x_px: np.ndarray, y_px: np.ndarray, fom: np.ndarray) -> dict[str, np.ndarray]:
    """Coordinate table columns in RELION's order (no pandas; see :func:`picks_frame`)."""
    n = len(x_px)
    return {
        "rlnCoordinateX": np.asarray(x_px, dtype=np.float64),
        "rlnCoordinateY": np.asarray(y_px, dtype=np.float64),
        "rlnAutopickFigureOfMerit": np.asarray(fom, dtype=np.float64),
        "rlnClassNumber": np.zeros(n, dtype=np.int64),
        "rlnAnglePsi": np.zeros(n, dtype=np.float64),
    }


def picks_frame(x_px: np.ndarray, y_px: np.ndarray, fom: np.ndarray) -> "pd.DataFrame":
    """Coordinate table in RELION's column order.

    Parameters
    ----------
    x_px, y_px : ndarray, shape (n,)
        0-based pixel coordinates (x = column, y = row).
    fom : ndarray, shape (n,)
        Figures of merit.
    """
    import pandas as pd

    return pd.DataFrame(picks_columns(x_px, y_px, fom))


def write_coordinates(path: str | os.PathLike, picks: "pd.DataFrame | Mapping[str, Any]") -> None:
    """Write a coordinate STAR (table ``data_``); no picks gives a 0-byte file, as RELION.

    ``picks`` is a DataFrame or a mapping label -> column (see :func:`picks_columns`).
    """
    n = len(picks) if hasattr(picks, "attrs") else len(next(iter(picks.values())))
    if n == 0:
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"")
        return
    write_star(path, {"": picks})


def read_coordinates(path: str | os.PathLike) -> "pd.DataFrame":
    """Read a coordinate STAR into a DataFrame; a 0-byte file gives an empty table.

    (:func:`cryopick.io.columns.read_coordinates` is the pandas-free reader it wraps.)

    Returns
    -------
    pandas.DataFrame
        At least ``rlnCoordinateX`` and ``rlnCoordinateY``.
    """
    import pandas as pd

    from cryopick.io import columns

    return pd.DataFrame(columns.read_coordinates(path))


def write_coordinate_list(path: str | os.PathLike, micrographs: list[str], coordinate_files: list[str]) -> None:
    """Write RELION 4's ``autopick.star`` (``data_coordinate_files``)."""
    columns = {
        "rlnMicrographName": np.array(micrographs, dtype=object),
        "rlnMicrographCoordinates": np.array(coordinate_files, dtype=object),
    }
    write_star(path, {LIST_TABLE: columns})


def read_coordinate_list(path: str | os.PathLike) -> "pd.DataFrame":
    """Read ``autopick.star`` into a DataFrame: rlnMicrographName -> rlnMicrographCoordinates."""
    import pandas as pd

    from cryopick.io import columns

    return pd.DataFrame(columns.read_coordinate_list(path))


def resolve(project_root: str | os.PathLike, relative: str) -> Path:
    """A project-relative path as RELION writes it, resolved against the project root."""
    p = Path(relative)
    return p if p.is_absolute() else Path(project_root) / p
