"""The job pictures: particle montage layout, the picks figure's choice of micrograph, PNG output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cryopick.flows import artifacts
from cryopick.io.coords import picks_columns, write_coordinate_list, write_coordinates
from cryopick.io.mrc import write_mrc
from cryopick.io.optics import OpticsStar, write_optics_star


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_montage_places_each_scaled_image_in_reading_order_with_white_gaps():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(5, 4, 6)).astype(np.float32) * 10 + 3  # any offset / scale
    out = artifacts.montage(images, cols=3, gap_px=2)
    assert out.shape == (2 * 4 + 2, 3 * 6 + 2 * 2)
    for k in range(5):
        r, c = divmod(k, 3)
        tile = out[r * 6: r * 6 + 4, c * 8: c * 8 + 6]
        lo, hi = np.percentile(images[k], [1, 99])
        np.testing.assert_allclose(tile, np.clip((images[k] - lo) / (hi - lo), 0, 1), atol=1e-6)
    assert np.all(out[4:6, :] == 1.0) and np.all(out[:, 6:8] == 1.0)  # gaps
    assert np.all(out[6:, 16:] == 1.0)  # the sixth slot is empty


def _project_with_picks(root: Path, picks_per_mic: list[int], fom_offsets: list[float] | None = None) -> str:
    rng = np.random.default_rng(1)
    mics, coord_files = [], []
    for k, n in enumerate(picks_per_mic):
        mic = f"MotionCorr/job002/Movies/mic_{k}.mrc"
        (root / mic).parent.mkdir(parents=True, exist_ok=True)
        write_mrc(root / mic, rng.normal(size=(600, 700)).astype(np.float32), 2.0)
        coord = f"AutoPick/job005/Movies/mic_{k}_autopick.star"
        (root / coord).parent.mkdir(parents=True, exist_ok=True)
        fom = rng.normal(size=n) * 0.1 + (fom_offsets[k] if fom_offsets else 0.0)
        write_coordinates(root / coord, picks_columns(rng.uniform(50, 650, n), rng.uniform(50, 550, n), fom))
        mics.append(mic)
        coord_files.append(coord)
    write_coordinate_list(root / "AutoPick/job005/autopick.star", mics, coord_files)
    return "AutoPick/job005/autopick.star"


def test_picks_figure_shows_the_best_median_and_worst_micrograph(tmp_path):
    coords = _project_with_picks(tmp_path, [3, 0, 12, 7, 5], fom_offsets=[0.0, 0.0, 2.0, -3.0, 1.0])
    png = tmp_path / "AutoPick/job005/picks_by_fom.png"
    mics = [f"MotionCorr/job002/Movies/mic_{k}.mrc" for k in (2, 4, 0, 3)]  # by mean FOM; mic_1 has no picks
    assert artifacts.picks_figure(tmp_path, coords, png, 180.0) == [mics[0], mics[2], mics[3]]
    width, height = _png_size(png)
    assert 650 <= width <= 800 and 400 <= height <= 500  # one picture, whatever the micrograph size


def test_the_fom_colour_scale_ignores_a_few_extreme_picks():
    foms = np.concatenate([np.linspace(-5.0, 20.0, 500), [230.0, 240.0]])  # two picks on an ice rim
    lo, hi = artifacts.fom_colour_range(foms)
    assert -5.0 <= lo < -4.0 and 19.0 < hi <= 20.5
    assert artifacts.fom_colour_range(np.array([3.0, 3.0])) == (3.0, 4.0)


def test_ranking_of_micrographs_by_mean_fom():
    def cols(*fom):
        return {"rlnCoordinateX": np.zeros(len(fom)), "rlnAutopickFigureOfMerit": np.array(fom, float)}

    assert artifacts.rank_micrographs({"a": cols(1.0), "b": cols(5.0, 3.0), "c": cols()}) == ["b", "a"]
    assert artifacts.rank_micrographs({"a": cols(1.0)}) == ["a"] and artifacts.rank_micrographs({"c": cols()}) == []


def test_picks_figure_without_any_pick_draws_nothing(tmp_path):
    coords = _project_with_picks(tmp_path, [0, 0])
    png = tmp_path / "picks.png"
    assert artifacts.picks_figure(tmp_path, coords, png, 180.0) is None
    assert not png.exists()


@pytest.mark.parametrize("n_particles, drawn", [(10, 10), (50, 36)])
def test_particles_montage_draws_the_first_particles(tmp_path, n_particles, drawn):
    stack = "Extract/job006/Movies/mic_0.mrcs"
    (tmp_path / stack).parent.mkdir(parents=True)
    write_mrc(tmp_path / stack, np.random.default_rng(2).normal(size=(n_particles, 32, 32)).astype(np.float32), 3.0)
    optics = pd.DataFrame({"rlnOpticsGroupName": ["opticsGroup1"], "rlnOpticsGroup": [1], "rlnImagePixelSize": [3.0],
                           "rlnImageSize": [32], "rlnImageDimensionality": [2], "rlnVoltage": [300.0],
                           "rlnSphericalAberration": [2.7], "rlnAmplitudeContrast": [0.1]})
    data = pd.DataFrame({"rlnImageName": np.array([f"{i + 1:06d}@{stack}" for i in range(n_particles)], dtype=object),
                         "rlnOpticsGroup": np.ones(n_particles, dtype=int)})
    write_optics_star(tmp_path / "Extract/job006/particles.star", OpticsStar(optics, data, "particles"))
    png = tmp_path / "Extract/job006/particles_montage.png"
    assert artifacts.particles_montage(tmp_path, "Extract/job006/particles.star", png) == drawn
    assert min(_png_size(png)) > 100


def test_summary_table_has_a_column_per_count_and_lists_steps_not_run():
    from cryopick.flows.chain import summary_rows

    report = {"steps": [
        {"step": "LoG picking", "state": "Completed", "job_dir": "AutoPick/job005/",
         "result": {"counts": {"micrographs": 3, "picks": 120}}},
        {"step": "Extraction", "state": "Cached", "job_dir": "Extract/job006/",
         "result": {"counts": {"micrographs": 3, "particles": 110}}},
        {"step": "Auto-select 2D classes", "state": "Not available", "job_dir": "", "result": None},
    ], "not_run": ["Topaz training"]}
    rows = summary_rows(report)
    assert [r["step"] for r in rows] == ["LoG picking", "Extraction", "Auto-select 2D classes", "Topaz training"]
    assert list(rows[0]) == ["step", "state", "job directory", "micrographs", "picks", "particles"]
    assert (rows[0]["picks"], rows[0]["particles"], rows[1]["particles"]) == (120, "", 110)
    assert rows[3]["state"] == "not run" and rows[3]["micrographs"] == ""


def test_pictures_are_embedded_as_small_jpeg_copies(tmp_path):
    import io

    import numpy as np
    from PIL import Image

    from cryopick.flows.artifacts import INLINE_MAX_PX, inline_jpeg

    noise = (np.random.default_rng(0).random((444, 540, 4)) * 255).astype(np.uint8)
    noise[..., 3] = 255
    png = tmp_path / "noisy.png"
    Image.fromarray(noise, "RGBA").save(png)
    jpeg = inline_jpeg(png)
    with Image.open(io.BytesIO(jpeg)) as im:
        assert im.format == "JPEG" and im.width == INLINE_MAX_PX and abs(im.height - 444 * INLINE_MAX_PX / 540) <= 1
    assert len(jpeg) < 0.5 * png.stat().st_size


def test_job_card_has_counts_as_columns_parameters_outputs_and_small_pictures(tmp_path):
    import numpy as np
    from PIL import Image

    from cryopick.flows.artifacts import job_card

    png = tmp_path / "AutoPick/job005/picks_by_fom.png"
    png.parent.mkdir(parents=True)
    Image.fromarray((np.random.default_rng(1).random((300, 700, 3)) * 255).astype(np.uint8)).save(png)
    result = {"job_dir": "AutoPick/job005/", "counts": {"micrographs": 3, "picks": 120},
              "summary": {"mean_fom": 1.23456}, "output_nodes": [["AutoPick/job005/autopick.star", "MicrographsCoords"]],
              "failures": {"mic_9.mrc": "truncated"}}
    card = job_card("LoG picking", result, {"threshold_stddev": 0.5, "particles_white": False},
                    [("picks on mic_001.mrc", png)], tmp_path)
    assert card.startswith("## LoG picking: `AutoPick/job005/`")
    assert "| micrographs | picks |\n|---|---|\n| 3 | 120 |" in card
    assert "| mean_fom |\n|---|\n| 1.235 |" in card
    assert "| threshold_stddev | 0.5 |" in card and "| particles_white | False |" in card
    assert "- `AutoPick/job005/autopick.star` (MicrographsCoords)" in card and "- `mic_9.mrc`: truncated" in card
    assert card.count("data:image/jpeg;base64,") == 1 and "`AutoPick/job005/picks_by_fom.png`" in card
    assert len(card) < png.stat().st_size  # the picture is a small copy, not the PNG
