import numpy as np
import pytest

from cryopick.extraction.boxes import box_positions, boxes_on_micrograph, extract_boxes


def _relion_style_box(mic, xpos, ypos, box):
    """Straightforward re-statement of RELION's window + two-pass edge fill (spec 3.3)."""
    ny, nx = mic.shape
    half = box // 2
    out = np.full((box, box), mic.mean())
    for i in range(box):
        for j in range(box):
            r, c = ypos - half + i, xpos - half + j
            if 0 <= r < ny and 0 <= c < nx:
                out[i, j] = mic[r, c]
    for i in range(box):  # x boundaries, per row
        for j in range(box):
            c = xpos - half + j
            if c < 0:
                out[i, j] = out[i, half - xpos]
            elif c >= nx:
                out[i, j] = out[i, half + nx - 1 - xpos]
    for i in range(box):  # then y boundaries, per column
        r = ypos - half + i
        for j in range(box):
            if r < 0:
                out[i, j] = out[half - ypos, j]
            elif r >= ny:
                out[i, j] = out[half + ny - 1 - ypos, j]
    return out


def test_truncation_toward_zero():
    x, y = box_positions(np.array([10.9, -0.5, 3.0]), np.array([0.99, 7.5, -1.7]))
    assert x.tolist() == [10, 0, 3]
    assert y.tolist() == [0, 7, -1]


@pytest.mark.filterwarnings("error")
def test_absurd_coordinates_stay_off_the_micrograph_without_a_cast_warning():
    x, y = box_positions(np.array([1e30, -1e300]), np.array([5.0, 1e19]))
    assert x[0] > 10**15 and x[1] < -(10**15) and y[1] > 10**15
    assert not boxes_on_micrograph(x, y, 64, (100, 100)).any()


def test_centre_pixel_is_box_half():
    mic = np.arange(50 * 60, dtype=np.float32).reshape(50, 60)
    xpos, ypos = box_positions(np.array([30.7]), np.array([20.2]))
    b = extract_boxes(mic, xpos, ypos, 16)
    assert b.shape == (1, 16, 16)
    assert b[0, 8, 8] == mic[20, 30]
    assert b[0, 0, 0] == mic[12, 22]
    assert b[0, 15, 15] == mic[27, 37]


@pytest.mark.parametrize("x,y", [(2, 25), (58, 25), (30, 1), (30, 49), (0, 0), (59, 49), (-5, 10), (64, 52)])
def test_edge_replication_matches_relion_two_pass_fill(x, y):
    rng = np.random.default_rng(1)
    mic = rng.normal(size=(50, 60))
    box = 16
    got = extract_boxes(mic, np.array([x]), np.array([y]), box)[0]
    np.testing.assert_array_equal(got, _relion_style_box(mic, x, y, box))


def test_boxes_wholly_off_the_micrograph():
    shape = (50, 60)
    box = 16
    # x0 = xpos - 8 must be < 60 and x1 = xpos + 7 >= 0
    xpos = np.array([67, 68, -7, -8, 30, 30])
    ypos = np.array([25, 25, 25, 25, 57, 58])
    assert boxes_on_micrograph(xpos, ypos, box, shape).tolist() == [True, False, True, False, True, False]


def test_fill_box_subtracts_offset_into_any_dtype_and_refuses_boxes_off_the_micrograph():
    from cryopick.extraction.boxes import fill_box

    rng = np.random.default_rng(4)
    mic = rng.normal(size=(50, 60)).astype(np.float32)
    out = np.empty((16, 16), dtype=np.float64)
    fill_box(out, mic, 3, 45, offset=0.25)
    np.testing.assert_allclose(out, _relion_style_box(mic.astype(np.float64), 3, 45, 16) - 0.25, atol=1e-7)
    with pytest.raises(ValueError, match="no pixel"):
        fill_box(out, mic, 68, 25)
