"""The class scorer's weights: a ``state_dict`` file, shipped inside the package.

The weights are tensors only and are read with torch's restricted unpickler
(``weights_only=True``), so a weights file cannot run code. ``cryopick train-ranker`` writes
them; :data:`SHIPPED_WEIGHTS` (with its provenance in :data:`SHIPPED_PROVENANCE`) is the
network the ranker uses. Nothing is downloaded.

torch is imported on first use only.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
import zipfile
from pathlib import Path
from typing import Any

from cryopick.errors import BadInputError, DependencyError, MissingFileError
from cryopick.io.atomic import atomic_path

#: The trained scorer shipped with cryopick, and how it was made (scorer.json: command, seed, figures).
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "ranking" / "weights" / "scorer.pt"
SHIPPED_PROVENANCE = SHIPPED_WEIGHTS.with_name("scorer.json")

_CACHE: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def weights_digest(path: str | os.PathLike = SHIPPED_WEIGHTS) -> str:
    """First 16 hex digits of the file's SHA-256 (part of a ranking job's parameter fingerprint)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def load_scorer(path: str | os.PathLike = SHIPPED_WEIGHTS, device: str = "cpu") -> tuple[Any, bool]:
    """The scorer network with the weights in ``path``, loaded once per process and device.

    Returns
    -------
    model : torch.nn.Module
        :func:`cryopick.ranking.scorer.build_scorer`'s network, in eval mode, on ``device``.
    cached : bool
        It was already in memory.

    Raises
    ------
    DependencyError
        The shipped weights are missing (a broken installation).
    MissingFileError
        Another weights file that does not exist.
    BadInputError
        The file is not a torch archive (or a damaged one), not a state_dict of tensors, or its
        tensors do not fit the network.
    """
    path = Path(path)
    if not path.is_file():
        if path == SHIPPED_WEIGHTS:
            raise DependencyError(f"{path}: the class ranker's shipped weights are missing; reinstall cryopick "
                                  "(or rebuild them with `cryopick train-ranker`)")
        raise MissingFileError(f"{path}: class-scorer weights file not found")
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, device)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key], True
        model = _read(path, device)
        _CACHE.clear()  # one scorer per process is all the ranker needs
        _CACHE[key] = model
        return model, False


def _check_archive(path: Path) -> None:
    """``path`` is a zip archive, as ``torch.save`` writes (a truncated one loses its directory at the end).

    Raises
    ------
    BadInputError
        A damaged or truncated archive, or not an archive at all.
    """
    if zipfile.is_zipfile(path):
        return
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise BadInputError(f"{path}: corrupt class-scorer weights file (a damaged or truncated torch archive)")
    raise BadInputError(f"{path}: not a class-scorer weights file (expected a torch state_dict as "
                        "`cryopick train-ranker` writes it)")


def _read(path: Path, device: str) -> Any:
    import torch

    from cryopick.ranking.scorer import build_scorer

    _check_archive(path)
    try:
        with warnings.catch_warnings():  # torch warns about a foreign file's pickle protocol; the error below says more
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many kinds for a corrupt or foreign file; its first line says which
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise BadInputError(f"{path}: not a class-scorer weights file ({type(exc).__name__}: {first})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInputError(f"{path}: not a class-scorer weights file (expected a state_dict of tensors)")
    model = build_scorer()
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise BadInputError(f"{path}: the weights do not fit the class-scorer network ({first[0] if first else exc})") \
            from None
    return model.to(device).eval()


def save_scorer(model: Any, path: str | os.PathLike) -> None:
    """Write the network's ``state_dict`` to ``path`` atomically."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(model.state_dict(), tmp)
