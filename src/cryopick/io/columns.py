"""STAR tables as plain column dictionaries (label -> numpy array), without pandas.

The extraction stage reads and writes its tables in this form: importing pandas
costs about a third of a second of start-up, more than extracting a micrograph.
Tables are ``dict[str, ndarray]`` with one array of shape (n,) per label (strings
as object arrays), in column order; :func:`cryopick.io.star.write_star` writes them.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io.labels import label_kind
from cryopick.io.star import RawTable, get_table, read_star_raw

Columns = dict[str, np.ndarray]

OPTICS_REQUIRED = ("rlnVoltage", "rlnSphericalAberration")
PIXEL_SIZE_LABELS = ("rlnImagePixelSize", "rlnMicrographPixelSize", "rlnMicrographOriginalPixelSize")


def n_rows(table: Mapping[str, Any]) -> int:
    """Number of rows of a column table (0 without columns)."""
    return len(next(iter(table.values()))) if table else 0


def take(table: Mapping[str, np.ndarray], index: np.ndarray) -> Columns:
    """Rows ``index`` (bool mask or integer positions) of every column."""
    return {label: np.asarray(col)[index] for label, col in table.items()}


def row(table: Mapping[str, np.ndarray], i: int) -> dict[str, Any]:
    """Row ``i`` as a dict label -> scalar."""
    return {label: col[i] for label, col in table.items()}


def _missing(label: str, like: np.ndarray, n: int) -> np.ndarray:
    """Filler for a column absent from some of the tables being concatenated."""
    kind = label_kind(label)
    if kind == "unknown":
        kind = {"b": "bool", "i": "int", "u": "int", "f": "double"}.get(like.dtype.kind, "string")
    if kind == "double":
        return np.full(n, np.nan)
    if kind == "int":
        return np.zeros(n, dtype=np.int64)
    if kind == "bool":
        return np.zeros(n, dtype=bool)
    return np.full(n, "", dtype=object)


def concat(tables: list[Mapping[str, np.ndarray]]) -> Columns:
    """Stack tables row-wise; labels in order of first appearance.

    A label missing from some tables is filled there with NaN (doubles), 0
    (integers), False (booleans) or ``""`` (strings).
    """
    labels: list[str] = []
    for t in tables:
        labels.extend(lab for lab in t if lab not in labels)
    out: Columns = {}
    for lab in labels:
        like = next(np.asarray(t[lab]) for t in tables if lab in t)
        parts = [np.asarray(t[lab]) if lab in t else _missing(lab, like, n_rows(t)) for t in tables]
        out[lab] = np.concatenate(parts)
    return out


def read_table(path: str | os.PathLike, name: str, required: tuple[str, ...] = ()) -> Columns:
    """Columns of table ``data_<name>`` of a STAR file, checking ``required`` labels.

    Raises
    ------
    MissingFileError, BadInputError
        Missing file, no such table or a required label missing (naming the file).
    """
    tables = read_star_raw(path)
    if not tables:
        raise BadInputError(f"{path}: empty STAR file (no tables)")
    return dict(get_table(tables, name, path, required=required).columns)


def frame_columns(df: Any) -> Columns:
    """The columns of a pandas DataFrame as numpy arrays (strings as object arrays)."""
    out: Columns = {}
    for label in df.columns:
        col = df[label].to_numpy()
        if col.dtype.kind not in "biuf":
            col = np.asarray(col, dtype=object)
        out[str(label)] = col
    return out


def optics_tables(tables: Mapping[str, RawTable], path: object, data_name: str) -> tuple[Columns, Columns]:
    """Validate the optics and data tables of a parsed RELION >= 3.1 STAR file.

    The one place these rules live (RELION's ``ObservationModel::loadSafely``): the optics
    table has rlnOpticsGroup, voltage, Cs and a pixel size; the data table exists; a data
    table without rlnOpticsGroup is given group 1 when there is one group; every group used
    is defined.

    Returns
    -------
    optics, data : Columns
        Copies of the column dictionaries (the data table may have gained rlnOpticsGroup).
    """
    if data_name not in tables:
        have = ", ".join(f"data_{t}" for t in tables)
        raise BadInputError(f"{path}: no table data_{data_name} (found {have})")
    optics = dict(tables["optics"].columns)
    data = dict(tables[data_name].columns)
    for lab in ("rlnOpticsGroup",) + OPTICS_REQUIRED:
        if lab not in optics:
            raise BadInputError(f"{path}: table data_optics lacks label _{lab}")
    if not any(lab in optics for lab in PIXEL_SIZE_LABELS):
        raise BadInputError(f"{path}: table data_optics has no pixel size ({', '.join(PIXEL_SIZE_LABELS)})")
    if "rlnOpticsGroup" not in data:
        if n_rows(optics) != 1:
            raise BadInputError(
                f"{path}: data_{data_name} lacks _rlnOpticsGroup but there are {n_rows(optics)} optics groups"
            )
        data["rlnOpticsGroup"] = np.ones(n_rows(data), dtype=np.int64)
    undefined = sorted(set(data["rlnOpticsGroup"].tolist()) - set(optics["rlnOpticsGroup"].tolist()))
    if undefined:
        raise BadInputError(f"{path}: data_{data_name} uses optics group(s) {undefined} not defined in data_optics")
    return optics, data


def micrograph_pixel_size(optics: Mapping[str, np.ndarray], path: object) -> float:
    """The micrograph pixel size (Å/px) shared by all optics groups (to 0.01 Å).

    Raises
    ------
    BadInputError
        No ``rlnMicrographPixelSize``, a non-positive one, or groups that differ.
    """
    if "rlnMicrographPixelSize" not in optics:
        raise BadInputError(f"{path}: data_optics lacks _rlnMicrographPixelSize")
    sizes = np.asarray(optics["rlnMicrographPixelSize"], dtype=np.float64)
    if np.any(sizes <= 0):
        raise BadInputError(f"{path}: non-positive _rlnMicrographPixelSize in data_optics")
    if sizes.max() - sizes.min() > 0.01:
        raise BadInputError(
            f"{path}: optics groups have different micrograph pixel sizes "
            f"({', '.join(f'{s:g}' for s in sizes)} Å); process them separately"
        )
    return float(sizes[0])


def particle_optics(
    source: Mapping[str, np.ndarray],
    rows: Mapping[str, np.ndarray],
    image_pixel_size_angstrom: np.ndarray | float,
    image_size_px: int,
    keep_premultiplied: bool = False,
) -> tuple[Columns, Columns]:
    """The optics table RELION writes for extracted particles, and the rows renumbered to it.

    As ``relion_preprocess`` (relion_spec.md §2.4): rlnMicrographPixelSize is replaced by
    rlnImagePixelSize, rlnImageSize and rlnImageDimensionality (2) are set,
    rlnCtfDataAreCtfPremultiplied is 0 (kept from ``source`` with ``keep_premultiplied``, for
    re-extraction), and optics groups without particles are dropped, the rest renumbered 1..n
    in their old order.

    Parameters
    ----------
    source : Columns
        The micrographs' (or, re-extracting, the particles') optics table.
    rows : Columns
        Particle rows with rlnOpticsGroup.
    image_pixel_size_angstrom : float or ndarray, shape (n_groups,)
        Pixel size of the extracted images, per source group.
    image_size_px : int
        Side of the extracted images.

    Returns
    -------
    optics, rows : Columns
    """
    optics = dict(source)
    n = n_rows(optics)
    optics["rlnImagePixelSize"] = np.broadcast_to(np.asarray(image_pixel_size_angstrom, dtype=np.float64), (n,)).copy()
    optics.pop("rlnMicrographPixelSize", None)
    optics["rlnImageSize"] = np.full(n, image_size_px, dtype=np.int64)
    optics["rlnImageDimensionality"] = np.full(n, 2, dtype=np.int64)
    if "rlnCtfDataAreCtfPremultiplied" not in optics or not keep_premultiplied:
        optics["rlnCtfDataAreCtfPremultiplied"] = np.zeros(n, dtype=bool)
    groups = np.asarray(optics["rlnOpticsGroup"]).astype(np.int64)
    used = sorted(set(np.asarray(rows["rlnOpticsGroup"]).astype(np.int64).tolist()))
    renumber = {old: new for new, old in enumerate(used, start=1)}
    keep = np.flatnonzero(np.isin(groups, used))
    keep = keep[np.argsort([renumber[int(g)] for g in groups[keep]], kind="stable")]
    optics = take(optics, keep)
    optics["rlnOpticsGroup"] = np.array([renumber[int(g)] for g in groups[keep]], dtype=np.int64)
    rows = dict(rows)
    rows["rlnOpticsGroup"] = np.array([renumber[int(g)] for g in np.asarray(rows["rlnOpticsGroup"])], dtype=np.int64)
    return optics, rows
