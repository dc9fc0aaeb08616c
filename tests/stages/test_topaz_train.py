"""The Topaz training stage: RELION's conventions, topaz-compatible models, figures, bad input."""

from dataclasses import replace

import numpy as np
import pytest

from cryopick.errors import BadInputError
from cryopick.io.coords import (picks_columns, read_coordinate_list, read_coordinates, write_coordinate_list,
                                write_coordinates)
from cryopick.io.jobdir import FAILURE, SUCCESS
from cryopick.io.optics import micrograph_names, read_optics_star, write_optics_star
from cryopick.io.paths import ProjectPaths
from cryopick.io.pipeline import read_pipeline
from cryopick.io.topaz_model import model_file_name
from cryopick.stages import topaz_train
from cryopick.stages.topaz_train_inputs import on_micrograph, pick_centres
from cryopick.synthetic.project import SimParams, simulate_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
STAR = "CtfFind/job003/micrographs_ctf.star"
QUICK = dict(nr_particles_per_micrograph=40, nr_epochs=2, epoch_size=3, minibatch_size=32, threads=2, test_ratio=0.3)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return simulate_project(SimParams(n_micrographs=4, seed=8, particles_per_mic=25, carbon_fraction=0.0),
                            tmp_path_factory.mktemp("topaz_train"))


def test_model_file_names_are_padded_as_topaz_pads_them():
    assert [model_file_name(e, 10) for e in (1, 10)] == ["model_epoch1.sav", "model_epoch10.sav"]
    assert model_file_name(1, 1) == "model_epoch1.sav" and model_file_name(7, 100) == "model_epoch07.sav"


def test_trains_from_particles_and_writes_what_relion_and_topaz_read(project):
    import torch

    root = project.project_root
    res = topaz_train.run(topaz_train.Params(STAR, 170.0, particles_star="GroundTruth/particles.star", **QUICK),
                          root, "AutoPick/job020/")
    job = root / "AutoPick/job020"
    for name in ("model_epoch1.sav", "model_epoch2.sav", "model_training.txt", "training_curves.png",
                 "input_training_coords.star", SUCCESS):
        assert (job / name).exists(), name
    model = torch.load(job / "model_epoch2.sav", weights_only=False)  # as topaz extract -m loads it
    from topaz.model.classifier import LinearClassifier
    assert isinstance(model, LinearClassifier) and model.width == 71
    table = [line.split("\t") for line in (job / "model_training.txt").read_text().splitlines()]
    assert table[0] == ["epoch", "iter", "split", "loss", "ge_penalty", "precision", "adjusted_precision", "tpr", "fpr", "auprc"]
    assert [r[:3] for r in table[1:]] == [["0", "0", "test"], ["1", "3", "train"], ["1", "3", "test"],
                                          ["2", "6", "train"], ["2", "6", "test"]]  # epoch 0: the starting network
    assert 0 < float(table[-1][-1]) <= 1
    assert res.counts["training_micrographs"] + res.counts["test_micrographs"] == 4 and res.counts["test_micrographs"] >= 1
    assert res.counts["training_particles"] + res.counts["test_particles"] == project.n_particles
    assert res.figures == ["AutoPick/job020/training_curves.png"]
    assert ("AutoPick/job020/", "None", "relion.autopick.topaz.train", "Succeeded") in read_pipeline(root).processes
    assert (job / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_origin_offsets_are_applied_and_the_same_seed_trains_the_same_model(project):
    root = project.project_root
    star = read_optics_star(project.truth_star, "particles")
    parts = star.data.copy()
    parts["rlnOriginXAngst"] = 3.54 * 4  # the particle sits 4 px left of the pick
    parts["rlnOriginYAngst"] = -3.54 * 2.4  # ... and 2.4 px (rounds to 2) below it
    (root / "Select").mkdir(exist_ok=True)
    write_optics_star(root / "Select/parts_shifted.star", replace(star, data=parts, extra={}))
    for job in ("AutoPick/job021/", "AutoPick/job022/"):
        topaz_train.run(topaz_train.Params(STAR, 170.0, particles_star="Select/parts_shifted.star", **QUICK), root, job)
    listing = read_coordinate_list(root / "AutoPick/job021/input_training_coords.star")
    mic = project.micrographs[0]
    coords = read_coordinates(root / listing["rlnMicrographCoordinates"][listing["rlnMicrographName"].tolist().index(mic)])
    truth = parts[parts["rlnMicrographName"] == mic]
    np.testing.assert_array_equal(coords["rlnCoordinateX"], truth["rlnCoordinateX"].to_numpy() - 4)
    np.testing.assert_array_equal(coords["rlnCoordinateY"], truth["rlnCoordinateY"].to_numpy() + 2)
    a, b = ((root / j / "model_training.txt").read_text() for j in ("AutoPick/job021", "AutoPick/job022"))
    assert a == b


def test_trains_from_a_coordinate_list(project):
    from cryopick.stages import topaz_pick

    root = project.project_root
    topaz_pick.run(topaz_pick.Params(STAR, 170.0, threshold=0.0, threads=2), root, "AutoPick/job023/")
    res = topaz_train.run(topaz_train.Params(STAR, 170.0, coords_star="AutoPick/job023/autopick.star", **QUICK),
                          root, "AutoPick/job024/")
    picks = sum(len(read_coordinates(root / f)["rlnCoordinateX"])
                for f in read_coordinate_list(root / "AutoPick/job023/autopick.star")["rlnMicrographCoordinates"])
    assert res.counts["training_particles"] + res.counts["test_particles"] == picks


def test_model_best_is_the_candidate_with_the_highest_held_out_auprc(project):
    import torch

    from cryopick.io.topaz_model import load_pretrained, load_sav

    root = project.project_root
    res = topaz_train.run(topaz_train.Params(STAR, 170.0, particles_star="GroundTruth/particles.star",
                                             compare_pretrained="resnet16_u64,resnet8_u64", **QUICK), root,
                          "AutoPick/job025/")
    job = root / "AutoPick/job025"
    rows = [line.split("\t") for line in (job / "model_selection.txt").read_text().splitlines()]
    assert rows[0] == ["network", "held_out_auprc", "held_out_precision", "held_out_loss", "chosen"]
    names = [r[0] for r in rows[1:]]
    assert names == ["epoch 0 (start: resnet8_u32, untrained)", "epoch 1", "epoch 2", "pretrained resnet16_u64",
                     "pretrained resnet8_u64"]
    auprc = np.array([float(r[1]) for r in rows[1:]])
    assert ((auprc > 0) & (auprc <= 1)).all() and len(set(auprc)) == len(auprc)
    chosen = [r[-1] for r in rows[1:]]
    assert chosen.count("yes") == 1 and chosen.index("yes") == int(np.argmax(auprc))
    # the training table's held-out AUPRC per epoch is the selection's
    table = [line.split("\t") for line in (job / "model_training.txt").read_text().splitlines()]
    np.testing.assert_allclose([float(r[-1]) for r in table[1:] if r[2] == "test"], auprc[:3], rtol=1e-5)
    best = load_sav(job / "model_best.sav").state_dict()
    winner = names[int(np.argmax(auprc))]
    if winner.startswith("pretrained"):
        expected = load_pretrained(winner.split()[1]).state_dict()
    elif winner.startswith("epoch 0"):
        expected = load_pretrained("resnet8_u32").state_dict()
    else:
        expected = load_sav(job / model_file_name(int(winner.split()[1]), 2)).state_dict()
    assert best.keys() == expected.keys() and all(torch.equal(best[k], expected[k]) for k in best)
    assert res.summary["best_test_auprc"] == pytest.approx(auprc.max(), rel=1e-5)
    assert res.summary["best_is_pretrained"] == float(winner.startswith("pretrained"))


def test_unknown_pretrained_network_to_compare_is_refused(project):
    with pytest.raises(BadInputError, match="resnet99"):
        topaz_train.run(topaz_train.Params(STAR, 170.0, particles_star="GroundTruth/particles.star",
                                           compare_pretrained="resnet16_u64, resnet99", **QUICK),
                        project.project_root, "AutoPick/job026/")


@pytest.mark.parametrize("kw, message", [
    (dict(), "exactly one of --particles"),
    (dict(particles_star="GroundTruth/particles.star", coords_star="x.star"), "exactly one of --particles"),
    (dict(particles_star="GroundTruth/junk_only.star"), "none of its particles"),
    (dict(particles_star="GroundTruth/particles.star", nr_particles_per_micrograph=1), "particles per micrograph"),
])
def test_bad_training_input_fails_clearly_and_writes_no_model(project, kw, message):
    root = project.project_root
    star = read_optics_star(project.truth_star, "particles")
    other = star.data.copy()
    other["rlnMicrographName"] = "MotionCorr/job002/Movies/elsewhere.mrc"
    write_optics_star(root / "GroundTruth/junk_only.star", replace(star, data=other, extra={}))
    params = {**QUICK, **kw}
    with pytest.raises(BadInputError, match=message):
        topaz_train.run(topaz_train.Params(STAR, 170.0, **params), root, "AutoPick/job030/")
    assert not list((root / "AutoPick/job030").glob("*.sav")) if (root / "AutoPick/job030").exists() else True
    if (root / "AutoPick/job030").exists():
        assert (root / "AutoPick/job030" / FAILURE).exists()


def test_only_listed_micrographs_are_read_and_picks_off_their_micrograph_are_left_out(project):
    """Coordinate files of micrographs not in the micrographs STAR are not read (this one is gone); picks off
    their micrograph (one absurdly far, one at x -5) are left out instead of breaking the binning."""
    root = project.project_root
    names = micrograph_names(root / STAR)
    (root / "AutoPick/job040").mkdir(parents=True)
    write_coordinates(root / "AutoPick/job040/a.star",
                      picks_columns(np.array([10.0, 1e30, -5.0]), np.array([20.0, 20.0, 20.0]), np.zeros(3)))
    write_coordinate_list(root / "AutoPick/job040/list.star", [names[0], "MotionCorr/job002/Movies/gone.mrc"],
                          ["AutoPick/job040/a.star", "AutoPick/job040/gone.star"])
    paths = ProjectPaths(root)
    given = pick_centres(paths, "AutoPick/job040/list.star", set(names))
    assert list(given) == [names[0]]
    kept, off = on_micrograph(paths, given)
    assert kept[names[0]].tolist() == [[10.0, 20.0]] and off == 2
