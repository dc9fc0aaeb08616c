"""A wheel install holds every module: each folder of Python modules is a package.

setup.py lists packages with ``find_packages``, which skips a folder without ``__init__.py``;
the editable install of the development machines imports it anyway (it reads the source tree),
so only an installed copy (the container images) would miss it. Found by the compose stack
test: the classifier image had no ``cryopick.classification``.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_folder_of_modules_is_a_package():
    roots = [REPO / "src" / "cryopick", REPO / "flows", REPO / "services"]
    missing = sorted(str(d.relative_to(REPO)) for root in roots for d in [root, *root.rglob("*")]
                     if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
                     and not (d / "__init__.py").exists())
    assert missing == []

