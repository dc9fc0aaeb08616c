"""Optics-group STAR files: validation, legacy conversion, pixel sizes."""

import pytest

from cryopick.errors import BadInputError
from cryopick.io.columns import frame_columns, micrograph_pixel_size
from cryopick.io.optics import read_micrograph_list, read_optics_star

OPTICS = """data_optics
loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnMicrographPixelSize #3
_rlnVoltage #4
_rlnSphericalAberration #5
opticsGroup1 1 1.77 300 2.7
opticsGroup2 2 {second} 300 2.7

data_micrographs
loop_
_rlnMicrographName #1
_rlnOpticsGroup #2
a.mrc 1
b.mrc {group_b}
"""


def write(tmp_path, text):
    p = tmp_path / "mics.star"
    p.write_text(text)
    return p


def test_reads_optics_and_data(tmp_path):
    p = write(tmp_path, OPTICS.format(second=1.775, group_b=2))
    star = read_optics_star(p)
    assert star.data["rlnMicrographName"].tolist() == ["a.mrc", "b.mrc"]
    assert micrograph_pixel_size(frame_columns(star.optics), p) == pytest.approx(1.77)
    names, apix = read_micrograph_list(p)
    assert names == ["a.mrc", "b.mrc"] and apix == pytest.approx(1.77)


def test_undefined_optics_group_is_an_error(tmp_path):
    p = write(tmp_path, OPTICS.format(second=1.77, group_b=3))
    for reader in (read_optics_star, read_micrograph_list):
        with pytest.raises(BadInputError, match="optics group"):
            reader(p)


def test_mixed_pixel_sizes_are_an_error(tmp_path):
    p = write(tmp_path, OPTICS.format(second=1.9, group_b=2))
    with pytest.raises(BadInputError, match="different micrograph pixel sizes"):
        read_micrograph_list(p)
    with pytest.raises(BadInputError, match="different micrograph pixel sizes"):
        micrograph_pixel_size(frame_columns(read_optics_star(p).optics), p)


def test_missing_labels_named(tmp_path):
    p = write(tmp_path, OPTICS.format(second=1.77, group_b=2).replace("_rlnMicrographName", "_rlnSomethingElse"))
    with pytest.raises(BadInputError, match="rlnMicrographName"):
        read_micrograph_list(p)


def test_relion30_layout_is_converted(tmp_path):
    p = write(
        tmp_path,
        "data_\nloop_\n_rlnMicrographName #1\n_rlnVoltage #2\n_rlnSphericalAberration #3\n_rlnMicrographPixelSize #4\n"
        "a.mrc 300 2.7 1.1\nb.mrc 200 2.7 1.1\n",
    )
    star = read_optics_star(p)
    assert len(star.optics) == 2
    assert star.data["rlnOpticsGroup"].tolist() == [1, 2]
    assert "rlnVoltage" not in star.data.columns


def test_relion30_magnification_and_detector_pixel_become_the_pixel_size(tmp_path):
    """A RELION 3.0 CtfFind file (no data_optics, the pixel size as magnification and detector pixel) is read
    as RELION 3.1 reads it: a legitimate input, not a bad one."""
    p = write(
        tmp_path,
        "data_\nloop_\n_rlnMicrographName #1\n_rlnVoltage #2\n_rlnSphericalAberration #3\n_rlnAmplitudeContrast #4\n"
        "_rlnMagnification #5\n_rlnDetectorPixelSize #6\n_rlnDefocusU #7\n"
        "a.mrc 300 2.7 0.1 10000 1.77 20000\nb.mrc 300 2.7 0.1 10000 1.77 21000\n",
    )
    names, apix = read_micrograph_list(p)
    assert names == ["a.mrc", "b.mrc"] and apix == pytest.approx(1.77)
    star = read_optics_star(p)
    assert len(star.optics) == 1 and star.optics["rlnMicrographOriginalPixelSize"].tolist() == pytest.approx([1.77])
    assert "rlnMagnification" not in star.optics.columns and "rlnMagnification" not in star.data.columns
    assert star.data["rlnDefocusU"].tolist() == [20000, 21000]


def test_no_optics_table_and_no_optics_columns_is_an_error(tmp_path):
    p = write(tmp_path, "data_micrographs\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\na.mrc 1\n")
    with pytest.raises(BadInputError, match="no data_optics table and the data table lacks _rlnVoltage"):
        read_micrograph_list(p)
