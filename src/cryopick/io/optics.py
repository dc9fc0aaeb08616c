"""Micrograph and particle STAR files with optics groups (RELION >= 3.1 layout).

Also accepts the RELION 3.0 layout (one table, optics columns on every row, the pixel size as
rlnMagnification and rlnDetectorPixelSize), converting it to an optics table the way RELION 3.1
does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io import columns as cols
from cryopick.io.columns import OPTICS_REQUIRED
from cryopick.io.star import RawTable, Tables, read_star, read_star_raw, write_star

if TYPE_CHECKING:  # imported lazily: pandas costs ~0.5 s of start-up
    import pandas as pd
# columns that RELION 3.0 kept per row and 3.1 moved to the optics table
_LEGACY_OPTICS = (
    "rlnVoltage",
    "rlnSphericalAberration",
    "rlnAmplitudeContrast",
    "rlnMicrographPixelSize",
    "rlnImagePixelSize",
    "rlnMicrographOriginalPixelSize",
)


@dataclass
class OpticsStar:
    """A STAR file with an optics table and one data table.

    Attributes
    ----------
    optics : pandas.DataFrame
        One row per optics group (``rlnOpticsGroup`` 1..n).
    data : pandas.DataFrame
        One row per micrograph / particle / movie, with ``rlnOpticsGroup``.
    data_name : str
        Name of the data table: ``micrographs``, ``particles`` or ``movies``.
    path : pathlib.Path
        Where it was read from (for messages).
    extra : dict[str, pandas.DataFrame]
        Any other tables in the file, carried through on write.
    """

    optics: "pd.DataFrame"
    data: "pd.DataFrame"
    data_name: str
    path: Path = Path("<memory>")
    extra: Tables = field(default_factory=dict)

    def tables(self) -> Tables:
        """Tables in RELION's order: optics, data, then any others."""
        return {"optics": self.optics, self.data_name: self.data, **self.extra}

    def with_data(self, data: "pd.DataFrame") -> "OpticsStar":
        """Same optics, new data table."""
        return OpticsStar(self.optics, data.reset_index(drop=True), self.data_name, self.path, dict(self.extra))


def single_optics_group(
    pixel_size_angstrom: float,
    voltage_kv: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.1,
    original_pixel_size_angstrom: float | None = None,
    micrograph_pixel_size: bool = True,
) -> "pd.DataFrame":
    """A one-row ``data_optics`` table (``opticsGroup1``) as CtfFind writes it.

    Parameters
    ----------
    pixel_size_angstrom : float
        rlnMicrographPixelSize (and the original pixel size unless given).
    original_pixel_size_angstrom : float, optional
        rlnMicrographOriginalPixelSize (movie pixels).
    micrograph_pixel_size : bool
        Include rlnMicrographPixelSize (movie STAR files have none).
    """
    import pandas as pd

    original = pixel_size_angstrom if original_pixel_size_angstrom is None else original_pixel_size_angstrom
    columns: dict[str, list] = {
        "rlnOpticsGroupName": ["opticsGroup1"],
        "rlnOpticsGroup": [1],
        "rlnMicrographOriginalPixelSize": [float(original)],
        "rlnVoltage": [float(voltage_kv)],
        "rlnSphericalAberration": [float(cs_mm)],
        "rlnAmplitudeContrast": [float(amplitude_contrast)],
    }
    if micrograph_pixel_size:
        columns["rlnMicrographPixelSize"] = [float(pixel_size_angstrom)]
    return pd.DataFrame(columns)


def _unify_pixel_size(df: "pd.DataFrame", data_name: str) -> "pd.DataFrame":
    """RELION 3.0's pixel size, ``10000 * rlnDetectorPixelSize / rlnMagnification``, as the 3.1 label.

    As RELION 3.1's converter (``StarConverter::unifyPixelSize``): micrographs get
    rlnMicrographPixelSize and rlnMicrographOriginalPixelSize, particles rlnImagePixelSize;
    labels the file already has are kept. Without both columns the table is returned as it is.
    """
    if not {"rlnMagnification", "rlnDetectorPixelSize"} <= set(df.columns):
        return df
    angpix = 10000.0 * df["rlnDetectorPixelSize"].astype(float) / df["rlnMagnification"].astype(float)
    labels = ("rlnImagePixelSize",) if data_name == "particles" else \
        ("rlnMicrographPixelSize", "rlnMicrographOriginalPixelSize")
    df = df.drop(columns=["rlnMagnification", "rlnDetectorPixelSize"])
    for label in labels:
        if label not in df.columns:
            df[label] = angpix.to_numpy()
    return df


def _convert_legacy(path: Path, df: "pd.DataFrame", data_name: str) -> OpticsStar:
    df = _unify_pixel_size(df, data_name)
    present = [c for c in _LEGACY_OPTICS if c in df.columns]
    missing = [c for c in OPTICS_REQUIRED if c not in df.columns]
    if missing:
        raise BadInputError(
            f"{path}: no data_optics table and the data table lacks {', '.join('_' + m for m in missing)}"
        )
    keys = df[present].round(6)
    uniq = keys.drop_duplicates().reset_index(drop=True)
    group = np.zeros(len(df), dtype=np.int64)
    for g, row in uniq.iterrows():
        mask = (keys == row).all(axis=1).to_numpy()
        group[mask] = g + 1
    optics = uniq.copy()
    optics.insert(0, "rlnOpticsGroup", np.arange(1, len(uniq) + 1, dtype=np.int64))
    optics.insert(0, "rlnOpticsGroupName", [f"opticsGroup{g}" for g in range(1, len(uniq) + 1)])
    data = df.drop(columns=present).copy()
    data["rlnOpticsGroup"] = group
    return OpticsStar(optics, data, data_name, path)


def read_optics_star(path: str | os.PathLike, data_name: str = "micrographs") -> OpticsStar:
    """Read a RELION micrographs/particles STAR file and validate its optics groups.

    Parameters
    ----------
    path : path-like
        The STAR file.
    data_name : str
        Expected data table (``micrographs``, ``particles``, ``movies``).

    Raises
    ------
    MissingFileError, BadInputError
        With the file name and the problem (rules in :func:`cryopick.io.columns.optics_tables`).
    """
    path = Path(path)
    tables = read_star(path)
    if not tables:
        raise BadInputError(f"{path}: empty STAR file (no tables)")
    if "optics" not in tables:
        legacy = tables.get(data_name, tables.get(""))
        if legacy is None:
            raise BadInputError(f"{path}: no data_optics and no data_{data_name} table")
        return _convert_legacy(path, legacy, data_name)
    raw = {name: RawTable(cols.frame_columns(df)) for name, df in tables.items() if name in ("optics", data_name)}
    _, data = cols.optics_tables(raw, path, data_name)  # validates; may give the data rlnOpticsGroup
    frame = tables[data_name]
    if "rlnOpticsGroup" not in frame.columns:
        frame = RawTable(data).to_frame()
    extra = {k: v for k, v in tables.items() if k not in ("optics", data_name)}
    return OpticsStar(tables["optics"], frame, data_name, path, extra)


def write_optics_star(path: str | os.PathLike, star: OpticsStar) -> None:
    """Write optics + data (+ extra) tables atomically."""
    write_star(path, star.tables())


def read_optics_columns(path: str | os.PathLike, data_name: str = "micrographs") -> tuple[cols.Columns, cols.Columns]:
    """Optics and data tables of a RELION >= 3.1 STAR file, validated (see :func:`cryopick.io.columns.optics_tables`).

    Other layouts (RELION 3.0: no optics table) go through
    :func:`read_optics_star`, which converts them (and imports pandas).

    Returns
    -------
    optics, data : Columns

    Raises
    ------
    MissingFileError, BadInputError
        With the file name and the problem.
    """
    path = Path(path)
    tables = read_star_raw(path)
    if not tables:
        raise BadInputError(f"{path}: empty STAR file (no tables)")
    if "optics" not in tables:
        star = read_optics_star(path, data_name)
        return cols.frame_columns(star.optics), cols.frame_columns(star.data)
    return cols.optics_tables(tables, path, data_name)


def read_micrograph_list(path: str | os.PathLike) -> tuple[list[str], float]:
    """Micrograph names and their common pixel size, without pandas (fast start-up).

    Returns
    -------
    names : list[str]
        ``rlnMicrographName`` in file order.
    pixel_size_angstrom : float
        ``rlnMicrographPixelSize`` shared by all optics groups.
    """
    optics, data = read_optics_columns(path, "micrographs")
    if "rlnMicrographName" not in data:
        raise BadInputError(f"{path}: table data_micrographs lacks label _rlnMicrographName")
    return [str(v) for v in data["rlnMicrographName"]], cols.micrograph_pixel_size(optics, path)


def micrograph_names(path: str | os.PathLike) -> list[str]:
    """``rlnMicrographName`` of a micrographs STAR, in file order (without pandas).

    Raises
    ------
    MissingFileError, BadInputError
        Missing or malformed file, no data_micrographs or no rlnMicrographName.
    """
    _, data = read_optics_columns(path, "micrographs")
    if "rlnMicrographName" not in data:
        raise BadInputError(f"{path}: table data_micrographs lacks label _rlnMicrographName")
    return [str(v) for v in data["rlnMicrographName"]]
