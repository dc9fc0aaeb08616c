"""Session-wide test configuration."""

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

RELION_BINARIES = ("relion_autopick", "relion_preprocess", "relion_refine")


def pytest_collection_modifyitems(config, items):
    """In CI the RELION parity tests must run: a missing RELION is an error there, not a skip."""
    if not os.environ.get("CI"):
        return
    if any(item.get_closest_marker("relion") for item in items):
        missing = [b for b in RELION_BINARIES if shutil.which(b) is None]
        if missing:
            raise pytest.UsageError(
                f"CI is set but RELION is not installed ({', '.join(missing)} missing): "
                "the parity tests would be skipped. Run `make test`, which installs Debian's relion."
            )


_CHECKED: set[tuple[str, int, int]] = set()
_FINISHED_DIRS: set[str] = set()
_CONTENTS: set[str] = set()


@pytest.fixture(autouse=True)
def _readers_agree_with_starfile_and_mrcfile(request, tmp_path_factory):
    """After every test, cross-check each new STAR/MRC file under the session's temporary directories.

    See ``tests/file_crosscheck.py``: cryopick's fast readers must agree with starfile and
    mrcfile on every file the suite produces. A test's own ``tmp_path`` is walked once, after
    the test; directories of module- and session-scoped fixtures are walked after every test.
    """
    own = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    from file_crosscheck import CHECKS

    base = tmp_path_factory.getbasetemp()
    for top in base.iterdir():
        if top.name in _FINISHED_DIRS or not top.is_dir():
            continue
        for dirpath, _, filenames in os.walk(top):
            for name in filenames:
                check = CHECKS.get(os.path.splitext(name)[1].lower())
                if check is None:
                    continue
                path = Path(dirpath, name)
                st = path.lstat()
                key = (str(path), st.st_mtime_ns, st.st_size)
                if key in _CHECKED or not stat.S_ISREG(st.st_mode):
                    continue
                _CHECKED.add(key)
                digest = hashlib.sha1(path.read_bytes()).hexdigest()  # many files repeat (job.star, pipelines)
                if digest not in _CONTENTS:
                    _CONTENTS.add(digest)
                    check(path)
    if own is not None:
        _FINISHED_DIRS.add(own.relative_to(base).parts[0])
