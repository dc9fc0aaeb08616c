"""Session-wide test configuration."""

import os
import shutil

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
