"""Topaz model files: the pretrained networks inside the topaz-em wheel, and ``.sav`` files.

A ``.sav`` file (what ``topaz train`` and RELION's wrapper write) is a whole pickled torch
module, and unpickling can run arbitrary code. cryopick therefore loads a ``.sav`` file only

* from inside the project (the caller resolves the name with
  :class:`~cryopick.io.paths.ProjectPaths`, which refuses paths and symlinks that leave it), and
* with torch's restricted unpickler (``weights_only=True``) that accepts nothing but tensors and
  the classes topaz's picking networks are built from (:data:`ALLOWED_CLASSES`). A file that
  names any other class or function is refused before anything in it runs.

The pretrained networks are read from the installed topaz package; nothing is downloaded.
"""

from __future__ import annotations

import importlib
import math
import os
import zipfile
from pathlib import Path
from typing import Any

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.atomic import atomic_path

#: Topaz's pretrained picking networks (``topaz extract -m NAME``); resnet16_u64 is its default.
PRETRAINED = ("resnet16_u64", "resnet16_u32", "resnet8_u64", "resnet8_u32")
DEFAULT_PRETRAINED = "resnet16_u64"

#: Qualified names of the classes a topaz picking network may contain.
ALLOWED_CLASSES = (
    "topaz.model.classifier.LinearClassifier",
    "topaz.model.features.resnet.ResNet6",
    "topaz.model.features.resnet.ResNet8",
    "topaz.model.features.resnet.ResNet16",
    "topaz.model.features.resnet.BasicConv",
    "topaz.model.features.resnet.ResidA",
    "topaz.model.features.resnet.MaxPool",
    "torch.nn.modules.conv.Conv2d",
    "torch.nn.modules.activation.ReLU",
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.dropout.Dropout",
    "torch.nn.modules.pooling.MaxPool2d",
)


def _allowed_classes() -> list[type]:
    out = []
    for qualified in ALLOWED_CLASSES:
        module, name = qualified.rsplit(".", 1)
        out.append(getattr(importlib.import_module(module), name))
    return out


def load_pretrained(name: str = DEFAULT_PRETRAINED) -> Any:
    """One of topaz's pretrained picking networks, from the installed package.

    Raises
    ------
    BadInputError
        ``name`` is not one of :data:`PRETRAINED`.
    """
    if name not in PRETRAINED:
        raise BadInputError(f"unknown pretrained topaz model {name!r}; choose one of {', '.join(PRETRAINED)}")
    from topaz.model.factory import load_model

    return load_model(name)


def load_sav(path: str | os.PathLike) -> Any:
    """A trained topaz picking network from a ``.sav`` file, unpickled with only :data:`ALLOWED_CLASSES`.

    Parameters
    ----------
    path : path-like
        Already checked to lie inside the project.

    Returns
    -------
    topaz.model.classifier.LinearClassifier
        On the CPU.

    Raises
    ------
    MissingFileError
        No such file.
    BadInputError
        Not a torch file, truncated or corrupt, containing anything but a topaz picking
        network's classes, or not a picking network (the message names the file).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: topaz model file not found")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                raise BadInputError(f"{path}: corrupt topaz model file (a damaged or truncated torch archive)")
        raise BadInputError(f"{path}: not a topaz model file (expected a torch .sav archive as written by "
                            "'topaz train'; this file is not one)")
    try:
        foreign = sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path))) - set(ALLOWED_CLASSES))
    except Exception as exc:  # noqa: BLE001 - torch raises several types for damaged archives
        raise BadInputError(f"{path}: corrupt topaz model file ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    if foreign:
        raise BadInputError(f"{path}: refused to load: it refers to {', '.join(foreign[:5])}, which is not part of a "
                            "topaz picking network (a .sav file is a pickled program; only topaz's model classes "
                            "are accepted)")
    try:
        with torch.serialization.safe_globals(_allowed_classes()):
            model = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise BadInputError(f"{path}: corrupt topaz model file ({exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0][:200]})") from None
    from topaz.model.classifier import LinearClassifier

    if not isinstance(model, LinearClassifier):
        raise BadInputError(f"{path}: holds a {type(model).__name__}, not a topaz picking network (LinearClassifier)")
    return model


def save_sav(model: Any, path: str | os.PathLike) -> None:
    """Write ``model`` as ``topaz train`` does (the whole module, ``torch.save``), atomically.

    The file loads in topaz and RELION's wrapper (``topaz extract -m``) as well as here.
    """
    import torch

    with atomic_path(path) as tmp:
        torch.save(model, tmp)


#: topaz-train's choice among its starting network, every epoch and the compared pretrained networks.
BEST_MODEL = "model_best.sav"


def model_file_name(epoch: int, nr_epochs: int) -> str:
    """``model_epoch{epoch}.sav``, zero-padded as topaz pads it (to ceil(log10(nr_epochs)) digits)."""
    digits = max(0, math.ceil(math.log10(nr_epochs))) if nr_epochs > 0 else 0
    return f"model_epoch{epoch:0{digits}d}.sav" if digits else f"model_epoch{epoch}.sav"
