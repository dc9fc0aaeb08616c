"""Atomic file writes: write to a temporary name in the same directory, then rename.

A write that fails because the file system is full (or a quota is exceeded) raises
:class:`~cryopick.errors.DiskFullError` naming the file, with nothing left under either name.
A process killed while writing leaves its temporary file (``.<name>.tmp<pid>``) behind;
:func:`remove_temporaries` clears them from a directory that no one else writes to (a job
directory when its job starts again).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from pathlib import Path
from typing import Iterator

from cryopick.errors import DiskFullError

#: errno values that mean "no room to write": the job cannot go on until space is freed.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_TEMPORARY = re.compile(r"^\..+\.tmp\d+$")


def temporary_name(final: Path) -> Path:
    """The temporary name :func:`atomic_path` writes ``final`` under (``.<name>.tmp<pid>``)."""
    return final.with_name(f".{final.name}.tmp{os.getpid()}")


def is_temporary(name: str) -> bool:
    """True for a name :func:`temporary_name` makes."""
    return bool(_TEMPORARY.match(name))


def remove_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files under ``directory`` (left by writers that were killed); returns them."""
    removed = []
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            if is_temporary(name):
                path = Path(dirpath, name)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError meaning "disk full" (ENOSPC, EDQUOT, EFBIG) into :class:`DiskFullError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        raise DiskFullError(f"{path}: {os.strerror(exc.errno)} while writing it; free some space (or raise the quota) "
                            f"and run the job again") from exc


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched,
    so a crash never leaves a half-written file under the final name.

    Raises
    ------
    DiskFullError
        Writing the temporary file failed for lack of space (naming ``path``).
    """
    final = Path(path)
    with disk_errors(final):
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(final)
    try:
        with disk_errors(final):
            yield tmp
            os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)

