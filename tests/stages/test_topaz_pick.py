"""The Topaz picking stage: known particles, RELION outputs, parity with ``topaz extract``, models, sizes."""

import shutil
import subprocess

import numpy as np
import pytest

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.coords import read_coordinate_list, read_coordinates
from cryopick.io.jobdir import SUCCESS
from cryopick.io.mrc import read_mrc, write_mrc
from cryopick.io.picks import read_picks, read_truth
from cryopick.io.pipeline import read_pipeline
from cryopick.metrics import score_picks
from cryopick.picking.topaz_geometry import TopazGeometry
from cryopick.picking.topaz_preprocess import micrograph_rng, prepare_micrograph
from cryopick.stages import topaz_pick
from cryopick.synthetic.project import SimParams, simulate_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DIAMETER = 170.0
STAR = "CtfFind/job003/micrographs_ctf.star"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("topaz_pick")
    return simulate_project(SimParams(n_micrographs=2, seed=5, particles_per_mic=30, ice_blobs_per_um2=0.0,
                                      aggregates_per_um2=0.0, carbon_fraction=0.0), root)


def run(root, job, **kw):
    return topaz_pick.run(topaz_pick.Params(STAR, DIAMETER, threads=2, **kw), root, job)


def test_pretrained_network_finds_the_known_particles_and_writes_relion_outputs(project):
    root = project.project_root
    res = run(root, "AutoPick/job010/")
    job = root / "AutoPick/job010"
    for name in ("autopick.star", "summary.star", "logfile.pdf", "job.star", SUCCESS, "RELION_OUTPUT_NODES.star"):
        assert (job / name).exists(), name
    listing = read_coordinate_list(job / "autopick.star")
    assert listing["rlnMicrographName"].tolist() == project.micrographs
    coords = read_coordinates(root / listing["rlnMicrographCoordinates"][0])
    assert list(coords) == ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit", "rlnClassNumber", "rlnAnglePsi"]
    assert (coords["rlnClassNumber"] == 0).all() and (coords["rlnAnglePsi"] == 0).all()
    fom = coords["rlnAutopickFigureOfMerit"]
    assert (fom > -6).all() and (np.diff(fom) <= 0).all()
    truth = read_truth(project.truth_star)
    score = score_picks(truth.xy_by_mic, read_picks(job / "autopick.star", root), radius_px=DIAMETER / 2 / truth.pixel_size_angstrom)
    print(score)
    assert score.recall > 0.9 and score.average_precision > 0.6, score
    assert res.counts["picks"] == sum(len(read_coordinates(root / f)["rlnCoordinateX"]) for f in listing["rlnMicrographCoordinates"])
    assert ("AutoPick/job010/", "None", "relion.autopick.topaz.pick", "Succeeded") in read_pipeline(root).processes
    options = (job / "job.star").read_text()
    assert "do_topaz_pick" in options and "topaz_particle_diameter" in options


@pytest.mark.skipif(shutil.which("topaz") is None, reason="the topaz CLI (topaz-em) is not installed")
def test_same_picks_as_topaz_extract_on_the_same_preprocessed_micrographs(project, tmp_path):
    root = project.project_root
    run(root, "AutoPick/job011/", threshold=-3.0, precision="float32")
    g = TopazGeometry.for_particle(DIAMETER, 3.54)
    paths = []
    for k, name in enumerate(project.micrographs):
        p = tmp_path / f"mic{k}.mrc"
        write_mrc(p, prepare_micrograph(read_mrc(root / name), g.downscale, "gmm", micrograph_rng(1, name)), 3.54 * g.downscale)
        paths.append(p)
    out = tmp_path / "picks.txt"
    subprocess.run(["topaz", "extract", "-d", "-1", "-t", "-3", "-r", str(g.pick_radius_px), "-x", str(g.downscale),
                    "-o", str(out), *map(str, paths)], check=True, capture_output=True)
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    for k, name in enumerate(project.micrographs):
        cli = np.array([[float(r[1]), float(r[2]), float(r[3])] for r in rows if r[0] == f"mic{k}"])
        ours = read_coordinates(root / f"AutoPick/job011/{name.split('/', 2)[2][:-4]}_autopick.star")
        assert len(cli) == len(ours["rlnCoordinateX"]) > 10
        np.testing.assert_array_equal(ours["rlnCoordinateX"], cli[:, 0])
        np.testing.assert_array_equal(ours["rlnCoordinateY"], cli[:, 1])
        np.testing.assert_allclose(ours["rlnAutopickFigureOfMerit"], cli[:, 2], atol=1e-4)


def test_bfloat16_scores_stay_close_to_float32_and_keep_the_picks(project):
    root = project.project_root
    exact = run(root, "AutoPick/job020/", threshold=-3.0, precision="float32")
    fast = run(root, "AutoPick/job021/", threshold=-3.0, precision="bfloat16")
    assert abs(fast.counts["picks"] - exact.counts["picks"]) <= 0.1 * exact.counts["picks"]
    assert "in bfloat16" in (root / "AutoPick/job021/run.out").read_text()
    assert exact.counts["picks"] > 20
    for name in project.micrographs:
        rel = f"{name.split('/', 2)[2][:-4]}_autopick.star"
        a, b = (read_coordinates(root / f"AutoPick/job02{k}/{rel}") for k in (0, 1))
        xy_a = np.column_stack([a["rlnCoordinateX"], a["rlnCoordinateY"]])
        xy_b = np.column_stack([b["rlnCoordinateX"], b["rlnCoordinateY"]])
        dist = np.sqrt(((xy_a[:, None] - xy_b[None]) ** 2).sum(-1))
        same = dist.min(1) == 0  # float32 picks found at the same pixel in bfloat16
        # a flat peak's maximum may move by a binned pixel, which can change what it suppresses
        assert same.mean() > 0.9 and abs(len(xy_a) - len(xy_b)) <= 0.1 * len(xy_a), (same.mean(), len(xy_b))
        fom_a = a["rlnAutopickFigureOfMerit"][same]
        fom_b = b["rlnAutopickFigureOfMerit"][dist.argmin(1)[same]]
        assert 0 < np.abs(fom_a - fom_b).max() < 0.25  # rounded, not recomputed in float32


def test_fom_at_count_keeps_that_many_picks_above_it():
    fom = np.array([1.0, 5.0, 3.0, 4.0, 2.0])
    assert topaz_pick.fom_at_count(fom, 2) == 3.0 and (fom > 3.0).sum() == 2
    below = topaz_pick.fom_at_count(fom, 5)
    assert below < 1.0 and (fom > below).sum() == 5 and topaz_pick.fom_at_count(fom, 9) == below
    assert np.isnan(topaz_pick.fom_at_count(fom, 0))


def test_the_expected_number_of_particles_gives_a_final_threshold(project):
    from cryopick.stages import extract

    root = project.project_root
    res = run(root, "AutoPick/job022/", nr_particles_per_micrograph=12)
    threshold = res.summary["fom_at_expected_count"]
    assert -6 < threshold and "The 24 expected particles" in (root / "AutoPick/job022/run.out").read_text()
    parts = extract.run(extract.Params(STAR, "AutoPick/job022/autopick.star", box_size_px=64, min_fom=threshold),
                        root, "Extract/job023/")
    assert parts.counts["particles"] + parts.counts["particles_off_micrograph"] == 24, parts.counts
    assert np.isnan(run(root, "AutoPick/job024/").summary["fom_at_expected_count"])


def test_micrographs_of_different_sizes(project, tmp_path):
    root = project.project_root
    big = read_mrc(root / project.micrographs[0])
    write_mrc(root / "MotionCorr/job002/Movies/cropped.mrc", big[:400, :300].copy(), 3.54)
    star = (root / STAR).read_text()
    (root / "CtfFind/job003/mixed.star").write_text(star.replace(project.micrographs[1], "MotionCorr/job002/Movies/cropped.mrc"))
    res = topaz_pick.run(topaz_pick.Params("CtfFind/job003/mixed.star", DIAMETER), root, "AutoPick/job012/")
    assert res.counts["micrographs"] == 2
    crop = read_coordinates(root / "AutoPick/job012/Movies/cropped_autopick.star")
    assert 0 < len(crop["rlnCoordinateX"]) and crop["rlnCoordinateX"].max() < 300 and crop["rlnCoordinateY"].max() < 400
    truth = read_truth(project.truth_star).xy_by_mic[project.micrographs[0]]
    inner = truth[(truth[:, 0] > 25) & (truth[:, 0] < 275) & (truth[:, 1] > 25) & (truth[:, 1] < 375)]
    picked = np.column_stack([crop["rlnCoordinateX"], crop["rlnCoordinateY"]])
    nearest = np.sqrt(((inner[:, None] - picked[None]) ** 2).sum(-1)).min(1)
    assert len(inner) >= 3 and (nearest < 24).mean() > 0.9  # the particles inside the crop are found


@pytest.mark.parametrize("content, message", [
    (b"", "not a topaz model file"),
    (b"\x80\x04garbage" * 40, "not a topaz model file"),
    ("half", "corrupt topaz model file"),
    ("foreign", "refused to load"),
])
def test_corrupt_or_foreign_model_is_refused_with_a_clear_error(project, tmp_path, content, message):
    import torch
    from cryopick.io.topaz_model import load_pretrained

    root = project.project_root
    model = root / "AutoPick/bad.sav"
    if content == "half":
        torch.save(load_pretrained("resnet8_u32"), tmp_path / "m.sav")
        data = (tmp_path / "m.sav").read_bytes()
        content = data[: len(data) // 2]
    elif content == "foreign":
        torch.save({"weights": torch.zeros(3), "hook": np.random.default_rng(0)}, model)  # a class topaz never uses
        content = model.read_bytes()
    model.write_bytes(content)
    with pytest.raises(BadInputError, match=message) as err:
        run(root, "AutoPick/job013/", model_path="AutoPick/bad.sav")
    assert "AutoPick/bad.sav" in str(err.value)
    assert model.read_bytes() == content
    assert not (root / "AutoPick/job013/autopick.star").exists()


def test_model_outside_the_project_is_refused(project, tmp_path):
    from cryopick.io.topaz_model import load_pretrained, save_sav

    outside = tmp_path / "elsewhere.sav"
    save_sav(load_pretrained("resnet8_u32"), outside)
    with pytest.raises(BadInputError, match="outside|leaves"):
        run(project.project_root, "AutoPick/job014/", model_path=str(outside))
    link = project.project_root / "AutoPick/link.sav"
    link.symlink_to(outside)
    with pytest.raises(BadInputError, match="outside|leaves|symlink"):
        run(project.project_root, "AutoPick/job014/", model_path="AutoPick/link.sav")
    with pytest.raises(MissingFileError, match="AutoPick/none.sav"):
        run(project.project_root, "AutoPick/job014/", model_path="AutoPick/none.sav")


def test_a_saved_model_in_the_project_picks_as_the_network_it_holds(project):
    from cryopick.io.topaz_model import load_pretrained, save_sav

    root = project.project_root
    save_sav(load_pretrained("resnet8_u32"), root / "AutoPick/r8.sav")
    run(root, "AutoPick/job015/", model_path="AutoPick/r8.sav")
    run(root, "AutoPick/job016/", pretrained_model="resnet8_u32")
    a = read_coordinates(root / f"AutoPick/job015/{project.micrographs[0].split('/', 2)[2][:-4]}_autopick.star")
    b = read_coordinates(root / f"AutoPick/job016/{project.micrographs[0].split('/', 2)[2][:-4]}_autopick.star")
    np.testing.assert_array_equal(a["rlnCoordinateX"], b["rlnCoordinateX"])
    np.testing.assert_allclose(a["rlnAutopickFigureOfMerit"], b["rlnAutopickFigureOfMerit"], atol=1e-5)


def test_the_process_keeps_a_few_networks_and_drops_the_oldest(tmp_path):
    from cryopick.io.topaz_model import load_pretrained, save_sav

    net = load_pretrained("resnet8_u32")
    paths = []
    for k in range(topaz_pick.MAX_CACHED_MODELS + 1):
        paths.append(str(tmp_path / f"m{k}.sav"))
        save_sav(net, paths[-1])
    first, cached = topaz_pick.scoring_model(paths[0], "cpu")
    assert not cached and topaz_pick.scoring_model(paths[0], "cpu") == (first, True)
    for p in paths[1:]:
        topaz_pick.scoring_model(p, "cpu")
    assert len(topaz_pick._MODELS) <= topaz_pick.MAX_CACHED_MODELS
    assert topaz_pick.scoring_model(paths[0], "cpu")[1] is False  # the oldest was dropped, so loaded again


def test_a_constant_micrograph_fails_clearly_naming_the_file(project):
    root = project.project_root
    flat = root / "MotionCorr/job002/Movies/flat.mrc"
    write_mrc(flat, np.full((400, 300), 5.0, np.float32), 3.54)
    star = (root / STAR).read_text()
    (root / "CtfFind/job003/flat.star").write_text(star.replace(project.micrographs[1], "MotionCorr/job002/Movies/flat.mrc"))
    with pytest.raises(BadInputError, match="flat.mrc: every pixel is 5"):
        topaz_pick.run(topaz_pick.Params("CtfFind/job003/flat.star", DIAMETER), root, "AutoPick/job025/")
    assert not (root / "AutoPick/job025/autopick.star").exists()
