"""Reading and writing RELION STAR files.

A STAR file is a sequence of named tables (``data_<name>``); each table is either
a loop (many rows) or a list (one row, ``_label value`` lines). Tables are returned
as ``pandas.DataFrame`` objects keyed by name, in file order; list tables carry
``df.attrs["star_list"] = True``. Known RELION labels are typed (see
``cryopick.io.labels``); unknown labels are kept as the exact text read, so they
are written back unchanged.

Writing follows RELION's ``MetaDataTable::write`` (relion_spec.md section 0):
``# version 30001`` headers, 12-character right-justified fields, ``%12.6f`` /
``%12.5f`` / ``%12.6e`` number formats, empty tables not written, atomic rename.
"""

from __future__ import annotations

import os
import re
import shlex
import warnings
from pathlib import Path
from typing import Iterable, Mapping

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.atomic import atomic_path
from cryopick.io.labels import FILE_LABELS, label_kind

if TYPE_CHECKING:  # pandas is imported lazily: it costs ~0.5 s of start-up
    import pandas as pd

STAR_VERSION = 30001

Tables = dict[str, "pd.DataFrame"]


@dataclass
class RawTable:
    """A STAR table without pandas: typed numpy columns keyed by label.

    Attributes
    ----------
    columns : dict[str, ndarray]
        Label -> column, shape (n,) each; strings are object arrays.
    is_list : bool
        Written as ``_label value`` lines (one row) rather than a loop.
    """

    columns: dict[str, np.ndarray]
    is_list: bool = False

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def to_frame(self) -> "pd.DataFrame":
        import pandas as pd

        df = pd.DataFrame({k: pd.Series(v, name=k) for k, v in self.columns.items()}, columns=list(self.columns))
        if self.is_list:
            df.attrs["star_list"] = True
        return df


class ListTable(dict):
    """A one-row table written as ``_label value`` lines (e.g. ``data_job``)."""


TableLike = Union["pd.DataFrame", RawTable, ListTable, Mapping[str, Any]]


# ----------------------------------------------------------------------------- reading


def _split_line(line: str, path: Path, lineno: int) -> list[str]:
    if '"' in line or "'" in line:
        try:
            return shlex.split(line, posix=True)
        except ValueError as exc:
            raise BadInputError(f"{path}: line {lineno}: unbalanced quotes ({exc})") from None
    return line.split()


def _typed_column(label: str, values: list[str], path: Path, table: str) -> np.ndarray:
    kind = label_kind(label)
    try:
        if kind == "int":
            try:
                return np.array(values, dtype=np.int64)
            except ValueError:
                return np.array([int(float(v)) for v in values], dtype=np.int64)
        if kind == "bool":
            return np.array([int(float(v)) != 0 for v in values], dtype=bool)
        if kind == "double":
            return np.array(values, dtype=np.float64)
    except ValueError:
        bad = next(v for v in values if not _is_number(v))
        raise BadInputError(
            f"{path}: table data_{table}: label {label} should be numeric but has value {bad!r}"
        ) from None
    return np.array(values, dtype=object)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _frame(labels: list[str], rows: list[list[str]], path: Path, table: str) -> RawTable:
    ncol = len(labels)
    for k, row in enumerate(rows):
        if len(row) != ncol:
            raise BadInputError(
                f"{path}: table data_{table}: row {k + 1} has {len(row)} values, "
                f"expected {ncol} (one per label)"
            )
    if len(set(labels)) != len(labels):
        raise BadInputError(f"{path}: table data_{table} repeats a label")
    columns = list(zip(*rows)) if rows else [[] for _ in labels]
    return RawTable({label: _typed_column(label, list(col), path, table) for label, col in zip(labels, columns)})


def parse_star_raw(text: str, path: str | os.PathLike = "<string>") -> dict[str, RawTable]:
    """Parse STAR text into :class:`RawTable` objects (no pandas).

    Parameters
    ----------
    text : str
        Contents of a STAR file.
    path : path-like
        Used in error messages only.

    Returns
    -------
    dict[str, RawTable]
        Table name (without ``data_``) -> table, in file order.
    """
    path = Path(path)
    tables: dict[str, RawTable] = {}
    lines = text.splitlines()
    i, n = 0, len(lines)
    while i < n:
        stripped = lines[i].strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith("data_"):
            raise BadInputError(f"{path}: line {i}: expected 'data_<name>', found {stripped[:40]!r}")
        name = stripped[5:].strip()
        if name in tables:
            raise BadInputError(f"{path}: table data_{name} appears twice")
        # skip blanks/comments until loop_ or first label
        while i < n and (not lines[i].strip() or lines[i].strip().startswith("#")):
            i += 1
        if i < n and lines[i].strip().startswith("loop_"):
            tokens = lines[i].split()
            if tokens[0] != "loop_" or (len(tokens) > 1 and not tokens[1].startswith("#")):
                raise BadInputError(f"{path}: line {i + 1}: garbled 'loop_' line in data_{name}: "
                                    f"{lines[i].strip()[:60]!r}")
            i += 1
            labels: list[str] = []
            while i < n:
                s = lines[i].strip()
                if not s or s.startswith("#"):
                    i += 1
                    continue
                if not s.startswith("_"):
                    break
                labels.append(s.split()[0][1:])
                i += 1
            rows: list[list[str]] = []
            while i < n:
                s = lines[i].strip()
                if s.startswith("data_"):
                    break
                i += 1
                if not s or s.startswith("#"):
                    continue
                rows.append(_split_line(s, path, i))
            tables[name] = _frame(labels, rows, path, name)
        else:
            labels, values = [], []
            while i < n:
                s = lines[i].strip()
                if s.startswith("data_"):
                    break
                i += 1
                if not s or s.startswith("#"):
                    continue
                if not s.startswith("_"):
                    raise BadInputError(f"{path}: line {i}: expected '_label value' in data_{name}")
                parts = _split_line(s, path, i)
                if len(parts) != 2:
                    raise BadInputError(f"{path}: line {i}: expected '_label value', found {s[:60]!r}")
                labels.append(parts[0][1:])
                values.append(parts[1])
            raw = _frame(labels, [values] if labels else [], path, name)
            raw.is_list = True
            tables[name] = raw
    return tables


def parse_star(text: str, path: str | os.PathLike = "<string>") -> Tables:
    """Parse STAR text into ``pandas.DataFrame`` tables, in file order (strict parser)."""
    return {name: raw.to_frame() for name, raw in parse_star_raw(text, path).items()}


#: From this size on read_star parses with starfile (faster on large particle files, bench_io.py).
STARFILE_FROM_BYTES = 256 * 1024

_DATA_LINE = re.compile(r"^\s*data_", re.MULTILINE)
_LABEL_LINE = re.compile(r"^\s*_(\S+)", re.MULTILINE)
_CONTENT_LINE = re.compile(r"^\s*[^#\s]", re.MULTILINE)
_GARBLED_LOOP = re.compile(r"^\s*loop_\S", re.MULTILINE)  # e.g. "loop_MotionCorr/...": the strict parser says so


def read_star(path: str | os.PathLike) -> Tables:
    """Read a STAR file into DataFrames, typed by RELION label, in file order.

    Files of :data:`STARFILE_FROM_BYTES` or more are parsed by the ``starfile`` library
    (pandas' C reader: faster than :func:`read_star_raw` on large particle files), smaller ones
    by the strict parser (faster there); RELION's label types are applied on top. ``starfile`` is lenient
    where RELION is not (a short row becomes NaN, stray text or a repeated table is dropped
    silently), so any such symptom, or any error it raises, sends the file through the strict
    parser, which returns the right tables or raises the precise error.

    Raises
    ------
    MissingFileError
        The file does not exist.
    BadInputError
        The file is not valid STAR (the message names the file and the line).
    """
    import starfile

    path = Path(path)
    text = _read_text(path)
    if len(text) < STARFILE_FROM_BYTES:  # small files: the strict parser is faster (bench_io: 0.1 vs 1.6 ms)
        return parse_star(text, path)
    labels = set(_LABEL_LINE.findall(text))
    as_text = sorted(lab for lab in labels if label_kind(lab) in ("string", "unknown"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blocks = starfile.read(path, always_dict=True, parse_as_string=as_text)
        if (len(blocks) != len(_DATA_LINE.findall(text)) or any(_has_gaps(b) for b in blocks.values())
                or _GARBLED_LOOP.search(text)):
            raise ValueError("starfile read the file leniently")
        if not blocks and _CONTENT_LINE.search(text):
            raise ValueError("text outside any data_ block")
        return {name: _typed_frame(name, block, path) for name, block in blocks.items()}
    except Exception:  # noqa: BLE001 - the strict parser says what is wrong (or reads it right)
        return parse_star(text, path)


def _typed_frame(name: str, block: Any, path: Path) -> "pd.DataFrame":
    """A starfile block (DataFrame, or dict for a list table) with RELION's label types."""
    import pandas as pd

    if isinstance(block, dict):
        df = pd.DataFrame({k: [v] for k, v in block.items()})
        df.attrs["star_list"] = True
    else:
        df = block
    for label in df.columns:
        kind = label_kind(str(label))
        if kind in ("string", "unknown"):
            df[label] = np.asarray(df[label].astype(str), dtype=object)
        else:  # raises (and the strict parser then reports the bad value) if not numeric
            df[label] = _typed_column(str(label), [str(v) for v in df[label]], path, name)
    return df


def _has_gaps(block: Any) -> bool:
    """True if starfile filled missing values (a short row) with NaN, None or "".

    (A quoted empty string ``""`` looks the same; such files just take the strict path.)
    """
    if isinstance(block, dict):
        return any(v is None or v == "" or (isinstance(v, float) and v != v) for v in block.values())
    if block.isna().to_numpy().any():
        return True
    return any(block[c].dtype.kind in "OUT" and (block[c].astype(str) == "").any() for c in block.columns)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MissingFileError(f"{path}: STAR file not found") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory, expected a STAR file") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not a text STAR file (binary content)") from None


def read_star_raw(path: str | os.PathLike) -> dict[str, RawTable]:
    """Read a STAR file without pandas (the strict parser); a 0-byte file gives no tables.

    The fast path for commands that must start quickly: importing pandas (which
    :func:`read_star` needs) costs about half a second (``benchmarks/bench_io.py``).

    Raises
    ------
    MissingFileError
        The file does not exist.
    BadInputError
        The file is not valid STAR.
    """
    path = Path(path)
    return parse_star_raw(_read_text(path), path)


def get_table(tables: Mapping[str, Any], name: str, path: str | os.PathLike, required: Iterable[str] = ()) -> Any:
    """Return table ``name`` and check that it has the ``required`` labels.

    Raises
    ------
    BadInputError
        The table or one of the labels is missing; the message names the file.
    """
    if name not in tables:
        have = ", ".join(f"data_{t}" for t in tables) or "no tables"
        raise BadInputError(f"{path}: no table data_{name} (found {have})")
    df = tables[name]
    have_labels = df.columns if not isinstance(df, RawTable) else df.columns.keys()
    missing = [lab for lab in required if lab not in have_labels]
    if missing:
        raise BadInputError(
            f"{path}: table data_{name} lacks label(s) {', '.join('_' + m for m in missing)}"
        )
    return df


# ----------------------------------------------------------------------------- writing


def format_double(v: float) -> str:
    """Format a double as RELION does (``%12.6f``, negatives ``%12.5f``, tiny/huge ``%e``)."""
    v = float(v)
    a = abs(v)
    if (0.0 < a < 0.001) or a > 100000.0:
        return f"{v:12.5e}" if v < 0 else f"{v:12.6e}"
    return f"{v:12.5f}" if v < 0 else f"{v:12.6f}"


def as_written(values: np.ndarray) -> np.ndarray:
    """``values`` as a STAR file written by :func:`write_star` holds them (rounded by :func:`format_double`).

    Parameters
    ----------
    values : ndarray, shape (n,)

    Returns
    -------
    ndarray, shape (n,), float64
        What reading the file back gives: a threshold computed from these selects exactly what a
        reader of the file (extraction's ``--min-fom``) selects with it.
    """
    return np.array([float(format_double(v)) for v in np.asarray(values, dtype=np.float64).ravel()], dtype=np.float64)


_WHITESPACE = re.compile(r"\s")  # the characters str.isspace() accepts (both use Py_UNICODE_ISSPACE)


def format_string(s: object) -> str:
    """Quote a string value if it is empty, contains whitespace or starts with a quote."""
    text = str(s)
    if text == "":
        return '""'
    if _WHITESPACE.search(text) or text[0] in "\"'":
        return '"' + text.replace('"', "'") + '"'
    return text


def _column_strings(label: str, col: Any) -> list[str]:
    kind = label_kind(label)
    values = col.to_numpy() if hasattr(col, "to_numpy") else np.asarray(col)
    if values.ndim == 0:
        values = values.reshape(1)
    if kind == "unknown":
        k = values.dtype.kind
        kind = {"b": "bool", "i": "int", "u": "int", "f": "double"}.get(k, "string")
    if kind == "int":
        return [f"{int(v):12d}" for v in values]
    if kind == "bool":
        return [f"{int(bool(v)):12d}" for v in values]
    if kind == "double":
        return [format_double(v) for v in values]
    return [f"{format_string(v):>12}" for v in values]


def _columns_of(table: TableLike) -> tuple[dict[str, Any], bool]:
    """Label -> column values, and whether the table is a list table."""
    if isinstance(table, RawTable):
        return table.columns, table.is_list
    if isinstance(table, ListTable):
        return {k: [v] for k, v in table.items()}, True
    if hasattr(table, "attrs") and hasattr(table, "columns"):  # pandas.DataFrame
        return {lab: table[lab] for lab in table.columns}, bool(table.attrs.get("star_list", False))
    return dict(table), False


def format_table(name: str, table: TableLike, as_list: bool | None = None) -> str:
    """Render one table as RELION writes it; an empty loop table renders as ``""``.

    ``table`` is a DataFrame, a :class:`RawTable`, a :class:`ListTable` or a mapping
    label -> column (shape (n,) each).
    """
    cols, is_list = _columns_of(table)
    if as_list is None:
        as_list = is_list
    out = [f"\n# version {STAR_VERSION}\n\ndata_{name}\n\n"]
    labels = list(cols)
    nrows = len(next(iter(cols.values()))) if cols else 0
    if as_list:
        if nrows != 1:
            raise ValueError(f"list table data_{name} must have exactly one row, has {nrows}")
        width = 12 + max(len(lab) for lab in labels)
        for lab in labels:
            value = _column_strings(lab, cols[lab])[0].strip()
            out.append(f"{'_' + lab:<{width}}{value}\n")
        out.append("\n")
        return "".join(out)
    if nrows == 0:
        return ""
    out.append("loop_ \n")
    out.extend(f"_{lab} #{k} \n" for k, lab in enumerate(labels, start=1))
    texts = [_column_strings(lab, cols[lab]) for lab in labels]
    out.extend(" ".join(row) + " \n" for row in zip(*texts))
    out.append(" \n")
    return "".join(out)


def format_star(tables: Mapping[str, TableLike]) -> str:
    """Render tables to STAR text (empty loop tables are omitted, as in RELION)."""
    return "".join(format_table(name, df) for name, df in tables.items())


def write_star(path: str | os.PathLike, tables: Mapping[str, TableLike]) -> None:
    """Write tables to ``path`` atomically (temporary name, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(format_star(tables))


def list_table(values: Mapping[str, object]) -> ListTable:
    """A one-row list table (``_label value`` lines) from a mapping label -> value."""
    return ListTable(values)


_IMAGE_NAME = re.compile(r"^(\d+)@(.+)$")


def split_image_name(name: str) -> tuple[int, str]:
    """Split ``000001@Extract/job007/mic.mrcs`` into ``(1, "Extract/job007/mic.mrcs")``."""
    m = _IMAGE_NAME.match(name)
    if not m:
        raise BadInputError(f"image name {name!r} is not of the form NNNNNN@stack.mrcs")
    return int(m.group(1)), m.group(2)


def compose_image_name(index_1based: int, stack: str) -> str:
    """Compose RELION's 6-digit, 1-based image reference ``000001@stack``."""
    return f"{index_1based:06d}@{stack}"


def referenced_files(path: str | os.PathLike) -> list[str]:
    """The files a STAR file names (values of :data:`~cryopick.io.labels.FILE_LABELS`), in order, once each.

    Image names ``000012@Extract/job007/a.mrcs`` count as the stack, ``x.ctf:mrc`` as ``x.ctf``.
    A file that cannot be parsed names nothing (its own content still matters to a caller).
    """
    try:
        tables = read_star_raw(path)
    except BadInputError:
        return []
    seen: dict[str, None] = {}
    for table in tables.values():
        for label, column in table.columns.items():
            if label not in FILE_LABELS:
                continue
            for value in column:
                name = str(value)
                m = _IMAGE_NAME.match(name)
                name = m.group(2) if m else name
                name = name[:-4] if name.endswith(":mrc") else name
                if name and name not in ("None", '""'):
                    seen.setdefault(name, None)
    return list(seen)
