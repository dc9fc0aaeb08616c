"""STAR reading/writing: RELION formats, round trips, unknown labels, clear errors."""

import numpy as np
import pandas as pd
import pytest
import starfile

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.star import format_double, format_table, list_table, parse_star, read_star, read_star_raw, write_star

RELION_31_MICS = """
# version 30001

data_optics

loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnMicrographPixelSize #3
_rlnVoltage #4
_rlnSphericalAberration #5
opticsGroup1 1 1.770000 300.000000 2.700000

# version 30001

data_micrographs

loop_
_rlnMicrographName #1
_rlnOpticsGroup #2
_rlnDefocusU #3
_rlnMyPrivateLabel #4
MotionCorr/job002/a.mrc 1 12345.678900 1.23456789
"MotionCorr/job002/with space.mrc" 1 -5.000000 x
"""


def test_number_formats_follow_relion():
    assert format_double(1234.5) == " 1234.500000"
    assert format_double(-2.5) == "    -2.50000"
    assert format_double(0.0001) == "1.000000e-04"
    assert format_double(-0.0001) == "-1.00000e-04"
    assert format_double(123456.0) == "1.234560e+05"
    assert format_double(0.0) == "    0.000000"


def test_parse_types_tables_and_quoted_strings():
    tables = parse_star(RELION_31_MICS)
    assert list(tables) == ["optics", "micrographs"]
    mics = tables["micrographs"]
    assert mics["rlnOpticsGroup"].dtype == np.int64
    assert mics["rlnDefocusU"].tolist() == [12345.6789, -5.0]
    assert mics["rlnMicrographName"].tolist()[1] == "MotionCorr/job002/with space.mrc"
    # unknown labels are carried as the exact text
    assert mics["rlnMyPrivateLabel"].tolist() == ["1.23456789", "x"]


def test_round_trip_keeps_unknown_labels_and_quotes(tmp_path):
    tables = parse_star(RELION_31_MICS)
    path = tmp_path / "out.star"
    write_star(path, tables)
    text = path.read_text()
    assert "1.23456789" in text  # unknown label not reformatted
    assert '"MotionCorr/job002/with space.mrc"' in text
    again = read_star(path)
    pd.testing.assert_frame_equal(again["micrographs"], tables["micrographs"])
    # an independent reader agrees
    other = starfile.read(path, always_dict=True)
    assert other["micrographs"]["rlnDefocusU"].tolist() == pytest.approx([12345.6789, -5.0])


def test_loop_layout_matches_relion():
    text = format_table("", {"rlnCoordinateX": np.array([1.5]), "rlnClassNumber": np.array([0])})
    lines = text.splitlines()
    assert lines[1] == "# version 30001"
    assert lines[3] == "data_"
    assert lines[5] == "loop_ "
    assert lines[6] == "_rlnCoordinateX #1 "
    assert lines[8] == "    1.500000            0 "
    assert lines[-1] == " "


def test_list_table_written_as_label_value_lines(tmp_path):
    path = tmp_path / "job.star"
    write_star(path, {"job": list_table({"rlnJobTypeLabel": "relion.autopick.log", "rlnJobIsContinue": 0})})
    raw = read_star_raw(path)["job"]
    assert raw.is_list
    assert raw.columns["rlnJobTypeLabel"][0] == "relion.autopick.log"
    assert "_rlnJobTypeLabel" in path.read_text().splitlines()[5]


def test_empty_loop_tables_are_not_written(tmp_path):
    path = tmp_path / "e.star"
    write_star(path, {"": {"rlnCoordinateX": np.zeros(0)}})
    assert path.read_text() == ""
    assert read_star(path) == {}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("data_x\nloop_\n_rlnA #1\n_rlnB #2\n1 2\n3\n", "row 2 has 1 values"),
        ("data_x\nloop_\n_rlnCoordinateX #1\nabc\n", "should be numeric"),
        ("hello\n", "expected 'data_<name>'"),
        ("data_a\n_rlnX 1\ndata_a\n_rlnX 2\n", "appears twice"),
        ("data_optics\nloop_\n_rlnOpticsGroup #1\n1\n\ndata_micrographs\nloop_MotionCorr/job002/Movies/a.mrc\n"
         "_rlnMicrographName #1\nMotionCorr/job002/Movies/a.mrc\n", "line 7: garbled 'loop_' line in data_micrographs"),
    ],
)
@pytest.mark.parametrize("starfile_from_bytes", [0, 1 << 30], ids=["starfile engine", "strict parser"])
def test_malformed_star_gives_clear_error(tmp_path, monkeypatch, text, fragment, starfile_from_bytes):
    """starfile reads these leniently (a short row becomes NaN, stray text is dropped): the strict parser reports them."""
    from cryopick.io import star

    monkeypatch.setattr(star, "STARFILE_FROM_BYTES", starfile_from_bytes)
    path = tmp_path / "bad.star"
    path.write_text(text)
    with pytest.raises(BadInputError, match=fragment) as err:
        read_star(path)
    assert str(path) in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(MissingFileError, match="not found"):
        read_star(tmp_path / "nope.star")
    (tmp_path / "bin.star").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(BadInputError, match="binary"):
        read_star(tmp_path / "bin.star")


def test_write_is_atomic_on_error(tmp_path):
    path = tmp_path / "keep.star"
    path.write_text("original")
    with pytest.raises(ValueError):
        write_star(path, {"job": list_table({"rlnA": 1}), "bad": pd.DataFrame({"rlnA": [1, 2]}).pipe(_as_list)})
    assert path.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.star"]


def _as_list(df):
    df.attrs["star_list"] = True  # two rows cannot be a list table
    return df


def test_referenced_files_are_the_values_of_file_labels(tmp_path):
    from cryopick.io.star import referenced_files

    path = tmp_path / "x.star"
    path.write_text("data_\nloop_\n_rlnImageName #1\n_rlnMicrographName #2\n_rlnCtfImage #3\n_rlnDefocusU #4\n"
                    "000001@Extract/job007/a.mrcs M/a.mrc M/a.ctf:mrc 10000\n"
                    "000002@Extract/job007/a.mrcs M/a.mrc M/a.ctf:mrc 12000\n")
    assert referenced_files(path) == ["Extract/job007/a.mrcs", "M/a.mrc", "M/a.ctf"]
    (tmp_path / "bad.star").write_text("not a star file\n")
    assert referenced_files(tmp_path / "bad.star") == []


def test_as_written_equals_what_reading_the_written_file_gives(tmp_path):
    from cryopick.io.star import as_written

    values = np.array([-1.2345678, 0.00012345678, 3.9999996, -123456.789, 7.0])
    write_star(tmp_path / "v.star", {"": {"rlnAutopickFigureOfMerit": values}})
    back = read_star(tmp_path / "v.star")[""]["rlnAutopickFigureOfMerit"]
    assert np.array_equal(as_written(values), np.asarray(back, dtype=np.float64))
    assert not np.array_equal(as_written(values), values)  # rounded: a threshold from the raw values may differ
