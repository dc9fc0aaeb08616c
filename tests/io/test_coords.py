"""Coordinate files: per-micrograph picks and the autopick.star list."""

import numpy as np
import pytest

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.coords import picks_columns, read_coordinate_list, read_coordinates, write_coordinate_list, write_coordinates
from cryopick.io.star import write_star


def test_coordinates_empty_file_and_missing_file(tmp_path):
    (tmp_path / "empty.star").write_bytes(b"")
    c = read_coordinates(tmp_path / "empty.star")
    assert len(c["rlnCoordinateX"]) == 0 and len(c["rlnCoordinateY"]) == 0
    with pytest.raises(MissingFileError, match="nothere.star"):
        read_coordinates(tmp_path / "nothere.star")
    write_star(tmp_path / "noy.star", {"": {"rlnCoordinateX": np.array([1.0])}})
    with pytest.raises(BadInputError, match="noy.star.*rlnCoordinateY"):
        read_coordinates(tmp_path / "noy.star")


def test_round_trip_and_zero_picks(tmp_path):
    write_coordinates(tmp_path / "a.star", picks_columns(np.array([1.5, 2.0]), np.array([3.0, 4.25]), np.array([0.9, 0.1])))
    c = read_coordinates(tmp_path / "a.star")
    assert c["rlnCoordinateX"].tolist() == [1.5, 2.0] and c["rlnCoordinateY"].tolist() == [3.0, 4.25]
    assert c["rlnClassNumber"].dtype.kind == "i"
    write_coordinates(tmp_path / "none.star", picks_columns(np.zeros(0), np.zeros(0), np.zeros(0)))
    assert (tmp_path / "none.star").read_bytes() == b""  # RELION's empty coordinate file
    write_coordinate_list(tmp_path / "autopick.star", ["M/a.mrc"], ["AutoPick/job005/M/a_autopick.star"])
    listing = read_coordinate_list(tmp_path / "autopick.star")
    assert listing["rlnMicrographCoordinates"].tolist() == ["AutoPick/job005/M/a_autopick.star"]
    (tmp_path / "empty_list.star").write_bytes(b"")
    with pytest.raises(BadInputError, match="empty coordinate list"):
        read_coordinate_list(tmp_path / "empty_list.star")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_coordinate_that_is_not_a_finite_number_is_refused_naming_the_file_and_row(tmp_path, bad):
    path = tmp_path / "picks.star"
    path.write_text("\ndata_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n10.0 20.0\n30.0 40.0\n"
                    f"50.0 {bad}\n")
    with pytest.raises(BadInputError, match=r"picks.star: 1 value\(s\) of _rlnCoordinateY are not finite .*row 3"):
        read_coordinates(path)
