"""MRC reading/writing: float16, stacks, and clear errors for bad files."""

import mrcfile
import numpy as np
import pytest

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.mrc import read_header, read_mrc, write_mrc


def test_float32_round_trip_and_header(tmp_path):
    a = np.random.default_rng(0).normal(size=(30, 40)).astype(np.float32)
    write_mrc(tmp_path / "a.mrc", a, 1.77)
    assert np.array_equal(read_mrc(tmp_path / "a.mrc"), a)
    h = read_header(tmp_path / "a.mrc")
    assert (h.nx, h.ny, h.nz, h.mode) == (40, 30, 1, 2)
    assert h.pixel_size_angstrom == pytest.approx(1.77, abs=1e-4)


def test_float16_stack_is_mode_12_and_readable_by_mrcfile(tmp_path):
    a = np.random.default_rng(1).normal(size=(5, 16, 16)).astype(np.float32)
    write_mrc(tmp_path / "s.mrcs", a, 3.0, float16=True)
    assert read_header(tmp_path / "s.mrcs").mode == 12
    with mrcfile.open(tmp_path / "s.mrcs") as m:
        assert m.is_image_stack()
        np.testing.assert_allclose(m.data.astype(np.float32), a, atol=2e-3)
    np.testing.assert_allclose(read_mrc(tmp_path / "s.mrcs"), a, atol=2e-3)


def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(MissingFileError):
        read_mrc(tmp_path / "none.mrc")
    write_mrc(tmp_path / "t.mrc", np.ones((64, 64), np.float32), 1.0)
    raw = (tmp_path / "t.mrc").read_bytes()
    (tmp_path / "t.mrc").write_bytes(raw[: len(raw) - 100])
    with pytest.raises(BadInputError, match="truncated"):
        read_mrc(tmp_path / "t.mrc")
    (tmp_path / "x.mrc").write_bytes(b"hello world")
    with pytest.raises(BadInputError, match="not an MRC file"):
        read_mrc(tmp_path / "x.mrc")


def test_unsupported_mode_named(tmp_path):
    write_mrc(tmp_path / "m.mrc", np.ones((8, 8), np.float32), 1.0)
    raw = bytearray((tmp_path / "m.mrc").read_bytes())
    raw[12:16] = np.int32(7).tobytes()
    (tmp_path / "m.mrc").write_bytes(bytes(raw))
    with pytest.raises(BadInputError, match="mode 7"):
        read_mrc(tmp_path / "m.mrc")


def test_nan_pixels_rejected(tmp_path):
    a = np.ones((8, 8), np.float32)
    a[3, 3] = np.nan
    write_mrc(tmp_path / "n.mrc", a, 1.0)
    with pytest.raises(BadInputError, match="NaN"):
        read_mrc(tmp_path / "n.mrc")


def test_other_modes_are_converted(tmp_path):
    a = (np.arange(64, dtype=np.int16) - 20).reshape(8, 8)
    with mrcfile.new(tmp_path / "i.mrc") as m:
        m.set_data(a)
    assert np.array_equal(read_mrc(tmp_path / "i.mrc"), a.astype(np.float32))


def test_written_files_carry_no_timestamp(tmp_path):
    """mrcfile labels new files with the creation time; the same data must give the same bytes."""
    from cryopick.io.mrc import LABEL

    write_mrc(tmp_path / "a.mrc", np.arange(12, dtype=np.float32).reshape(3, 4), 1.5)
    with mrcfile.open(tmp_path / "a.mrc") as m:
        labels = [bytes(label) for label in m.header.label]
        assert labels[0] == LABEL and int(m.header.nlabl) == 1
        assert not any(ch in b"0123456789" for label in labels for ch in label)
