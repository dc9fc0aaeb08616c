"""Micrograph and particle STAR files with optics groups (RELION >= 3.1 layout).

Also accepts the RELION 3.0 layout (one table, optics columns on every row),
converting it to an optics table the way RELION does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.star import Tables, read_star, read_star_raw, write_star

if TYPE_CHECKING:  # imported lazily: pandas costs ~0.5 s of start-up
    import pandas as pd

OPTICS_REQUIRED = ("rlnVoltage", "rlnSphericalAberration")
PIXEL_SIZE_LABELS = ("rlnImagePixelSize", "rlnMicrographPixelSize", "rlnMicrographOriginalPixelSize")
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

    def optics_row(self, group: int) -> "pd.Series":
        """The optics-table row of optics group ``group``."""
        rows = self.optics[self.optics["rlnOpticsGroup"] == group]
        if rows.empty:
            raise BadInputError(f"{self.path}: optics group {group} is used but not defined in data_optics")
        return rows.iloc[0]


def _convert_legacy(path: Path, df: "pd.DataFrame", data_name: str) -> OpticsStar:
    present = [c for c in _LEGACY_OPTICS if c in df.columns]
    import pandas as pd  # noqa: F401  (DataFrame methods below)

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
        With the file name and the problem.
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
    optics = tables["optics"]
    if data_name not in tables:
        have = ", ".join(f"data_{t}" for t in tables)
        raise BadInputError(f"{path}: no table data_{data_name} (found {have})")
    data = tables[data_name]
    for lab in ("rlnOpticsGroup",) + OPTICS_REQUIRED:
        if lab not in optics.columns:
            raise BadInputError(f"{path}: table data_optics lacks label _{lab}")
    if not any(lab in optics.columns for lab in PIXEL_SIZE_LABELS):
        raise BadInputError(f"{path}: table data_optics has no pixel size ({', '.join(PIXEL_SIZE_LABELS)})")
    if "rlnOpticsGroup" not in data.columns:
        if len(optics) != 1:
            raise BadInputError(f"{path}: data_{data_name} lacks _rlnOpticsGroup but there are {len(optics)} optics groups")
        data = data.copy()
        data["rlnOpticsGroup"] = np.ones(len(data), dtype=np.int64)
    undefined = sorted(set(data["rlnOpticsGroup"]) - set(optics["rlnOpticsGroup"]))
    if undefined:
        raise BadInputError(f"{path}: data_{data_name} uses optics group(s) {undefined} not defined in data_optics")
    extra = {k: v for k, v in tables.items() if k not in ("optics", data_name)}
    return OpticsStar(optics, data, data_name, path, extra)


def write_optics_star(path: str | os.PathLike, star: OpticsStar) -> None:
    """Write optics + data (+ extra) tables atomically."""
    write_star(path, star.tables())


def micrograph_pixel_size(star: OpticsStar) -> float:
    """The micrograph pixel size (Å/px); all optics groups must agree to 0.01 Å.

    Raises
    ------
    BadInputError
        No ``rlnMicrographPixelSize`` or groups with different pixel sizes.
    """
    if "rlnMicrographPixelSize" not in star.optics.columns:
        raise BadInputError(f"{star.path}: data_optics lacks _rlnMicrographPixelSize")
    sizes = star.optics["rlnMicrographPixelSize"].to_numpy(dtype=float)
    if np.any(sizes <= 0):
        raise BadInputError(f"{star.path}: non-positive _rlnMicrographPixelSize in data_optics")
    if sizes.max() - sizes.min() > 0.01:
        raise BadInputError(
            f"{star.path}: optics groups have different micrograph pixel sizes "
            f"({', '.join(f'{s:g}' for s in sizes)} Å); process them separately"
        )
    return float(sizes[0])


def read_micrograph_list(path: str | os.PathLike) -> tuple[list[str], float]:
    """Micrograph names and their common pixel size, without pandas (fast start-up).

    Applies the same checks as :func:`read_optics_star` + :func:`micrograph_pixel_size`
    for the RELION >= 3.1 layout; other layouts go through the full reader.

    Returns
    -------
    names : list[str]
        ``rlnMicrographName`` in file order.
    pixel_size_angstrom : float
        ``rlnMicrographPixelSize`` shared by all optics groups.
    """
    path = Path(path)
    tables = read_star_raw(path)
    if not tables:
        raise BadInputError(f"{path}: empty STAR file (no tables)")
    if "optics" not in tables or "micrographs" not in tables:
        star = read_optics_star(path, "micrographs")
        if "rlnMicrographName" not in star.data.columns:
            raise BadInputError(f"{path}: table data_micrographs lacks label _rlnMicrographName")
        return [str(v) for v in star.data["rlnMicrographName"]], micrograph_pixel_size(star)
    optics, mics = tables["optics"].columns, tables["micrographs"].columns
    if "rlnMicrographName" not in mics:
        raise BadInputError(f"{path}: table data_micrographs lacks label _rlnMicrographName")
    if "rlnMicrographPixelSize" not in optics:
        raise BadInputError(f"{path}: data_optics lacks _rlnMicrographPixelSize")
    if "rlnOpticsGroup" in mics and "rlnOpticsGroup" in optics:
        undefined = sorted(set(mics["rlnOpticsGroup"].tolist()) - set(optics["rlnOpticsGroup"].tolist()))
        if undefined:
            raise BadInputError(f"{path}: data_micrographs uses optics group(s) {undefined} not defined in data_optics")
    sizes = optics["rlnMicrographPixelSize"].astype(float)
    if np.any(sizes <= 0):
        raise BadInputError(f"{path}: non-positive _rlnMicrographPixelSize in data_optics")
    if sizes.max() - sizes.min() > 0.01:
        raise BadInputError(
            f"{path}: optics groups have different micrograph pixel sizes "
            f"({', '.join(f'{s:g}' for s in sizes)} Å); process them separately"
        )
    return [str(v) for v in mics["rlnMicrographName"]], float(sizes[0])
