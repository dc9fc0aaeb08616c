"""Column-dictionary STAR tables: the pandas-free reading path of the extraction stage."""

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.columns import (
    concat,
    micrograph_pixel_size,
    row,
    take,
)
from cryopick.io.optics import read_optics_columns, read_optics_star

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
_rlnDefocusU #3
_rlnMyNote #4
a.mrc 1 10000.5 x
b.mrc {group_b} 12000.25 "y z"
"""


def write(tmp_path, text):
    p = tmp_path / "mics.star"
    p.write_text(text)
    return p


def test_same_tables_as_the_pandas_reader(tmp_path):
    p = write(tmp_path, OPTICS.format(second=1.775, group_b=2))
    optics, data = read_optics_columns(p)
    ref = read_optics_star(p)
    assert list(optics) == list(ref.optics.columns) and list(data) == list(ref.data.columns)
    for lab in data:
        assert data[lab].tolist() == ref.data[lab].tolist(), lab
    assert data["rlnOpticsGroup"].dtype.kind == "i" and data["rlnDefocusU"].dtype == np.float64
    assert data["rlnMyNote"].tolist() == ["x", "y z"]
    assert micrograph_pixel_size(optics, p) == pytest.approx(1.77)
    assert row(data, 1)["rlnMicrographName"] == "b.mrc"


@pytest.mark.parametrize(
    "second,group_b,edit,match",
    [
        (1.77, 3, None, "optics group"),
        (1.77, 2, ("_rlnVoltage", "_rlnOther"), "rlnVoltage"),
        (1.77, 2, ("_rlnMicrographPixelSize", "_rlnOther"), "no pixel size"),
        (1.77, 2, ("data_micrographs", "data_movies"), "data_micrographs"),
    ],
)
def test_errors_name_file_and_problem(tmp_path, second, group_b, edit, match):
    text = OPTICS.format(second=second, group_b=group_b)
    if edit:
        text = text.replace(*edit)
    p = write(tmp_path, text)
    with pytest.raises(BadInputError, match=match) as exc:
        read_optics_columns(p)
    assert "mics.star" in str(exc.value)


def test_mixed_pixel_sizes_refused(tmp_path):
    p = write(tmp_path, OPTICS.format(second=1.9, group_b=2))
    optics, _ = read_optics_columns(p)
    with pytest.raises(BadInputError, match="mics.star.*different micrograph pixel sizes"):
        micrograph_pixel_size(optics, p)


def test_relion30_layout_goes_through_the_converting_reader(tmp_path):
    p = write(
        tmp_path,
        "data_\nloop_\n_rlnMicrographName #1\n_rlnVoltage #2\n_rlnSphericalAberration #3\n_rlnMicrographPixelSize #4\n"
        "a.mrc 300 2.7 1.1\nb.mrc 200 2.7 1.1\n",
    )
    optics, data = read_optics_columns(p)
    assert optics["rlnOpticsGroup"].tolist() == [1, 2]
    assert data["rlnOpticsGroup"].tolist() == [1, 2]
    assert data["rlnMicrographName"].tolist() == ["a.mrc", "b.mrc"]
    assert "rlnVoltage" not in data


def test_take_and_concat_fill_missing_labels_by_kind():
    a = {"rlnCoordinateX": np.array([1.0, 2.0, 3.0]), "rlnClassNumber": np.array([1, 2, 3]),
         "rlnImageName": np.array(["i1", "i2", "i3"], dtype=object)}
    b = {"rlnCoordinateX": np.array([4.0]), "rlnAutopickFigureOfMerit": np.array([0.5]),
         "rlnMyFlag": np.array([True])}
    sub = take(a, np.array([True, False, True]))
    assert sub["rlnImageName"].tolist() == ["i1", "i3"]
    c = concat([sub, b])
    assert list(c) == ["rlnCoordinateX", "rlnClassNumber", "rlnImageName", "rlnAutopickFigureOfMerit", "rlnMyFlag"]
    assert c["rlnCoordinateX"].tolist() == [1.0, 3.0, 4.0]
    assert c["rlnClassNumber"].tolist() == [1, 3, 0]
    assert c["rlnImageName"].tolist() == ["i1", "i3", ""]
    assert np.isnan(c["rlnAutopickFigureOfMerit"][:2]).all() and c["rlnAutopickFigureOfMerit"][2] == 0.5
    assert c["rlnMyFlag"].tolist() == [False, False, True]
