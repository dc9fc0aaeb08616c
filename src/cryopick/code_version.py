"""The code version of a stage: a hash of cryopick's version and of the sources the stage runs.

Flows put it into their cache keys, and services report theirs (``cryopick.v1.Info``), so a
cached job is reused only while the code that would run it is the same.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import Optional

import cryopick


@functools.lru_cache(maxsize=None)
def _module_file(name: str) -> Optional[str]:
    """The source file of a ``cryopick`` module, or None if ``name`` is not a module.

    Looked up in the package directory without importing anything (``importlib.util.find_spec``
    imports every parent package, which for a stage means numpy, scipy...: ~0.2 s in a flow
    process that never runs the stage). Sub-packages that live elsewhere (``cryopick.flows`` and
    ``cryopick.services`` are mapped from the repository's top level) go through ``find_spec``.
    """
    parts = name.split(".")
    if parts[0] != "cryopick":
        return None
    for base in cryopick.__path__:
        if len(parts) > 1 and not (Path(base, parts[1]).is_dir() or Path(base, parts[1] + ".py").is_file()):
            continue
        path = Path(base, *parts[1:])
        if (path / "__init__.py").is_file():
            return str(path / "__init__.py")
        if len(parts) > 1 and path.with_name(path.name + ".py").is_file():
            return str(path.with_name(path.name + ".py"))
        return None  # under the package directory but not a module (e.g. ``cryopick.io.star.read_star``)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _cryopick_imports(path: str, module: str) -> set[str]:
    tree = ast.parse(Path(path).read_text())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m == "cryopick" or m.startswith("cryopick.")}


@functools.lru_cache(maxsize=None)
def code_version(stage_module: str) -> str:
    """Hash of ``cryopick.__version__`` and the sources of ``stage_module`` and its cryopick imports.

    A module that does not exist (a stage not written yet) contributes its name only.
    """
    h = hashlib.sha256(cryopick.__version__.encode())
    todo, done = [stage_module], set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        path = _module_file(name)
        if path is None:
            continue
        h.update(name.encode())
        h.update(Path(path).read_bytes())
        todo.extend(sorted(_cryopick_imports(path, name) - done))
    return h.hexdigest()
