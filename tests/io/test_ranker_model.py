"""The class scorer's weights: shipped, loaded once, and bad files refused clearly without running code."""

import pickle

import numpy as np
import pytest
import torch

from cryopick.errors import BadInputError, MissingFileError
from cryopick.io.ranker_model import SHIPPED_PROVENANCE, SHIPPED_WEIGHTS, load_scorer, save_scorer, weights_digest
from cryopick.ranking.scorer import build_scorer, score


def test_the_shipped_weights_load_once_per_process_and_score():
    assert SHIPPED_WEIGHTS.is_file() and SHIPPED_PROVENANCE.is_file()
    model, _ = load_scorer()
    again, cached = load_scorer()
    assert cached and again is model
    s = score(model, np.random.default_rng(0).normal(size=(2, 64, 64)), np.zeros((2, 24), np.float32))
    assert s.shape == (2,) and ((s >= 0) & (s <= 1)).all()


def test_saved_weights_round_trip(tmp_path):
    model = build_scorer(seed=3)
    save_scorer(model, tmp_path / "w.pt")
    loaded, cached = load_scorer(tmp_path / "w.pt")
    assert not cached and len(weights_digest(tmp_path / "w.pt")) == 16
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_corrupt_foreign_and_misfitting_files_are_refused_naming_the_file(tmp_path):
    with pytest.raises(MissingFileError, match="w0.pt: class-scorer weights file not found"):
        load_scorer(tmp_path / "w0.pt")
    (tmp_path / "w1.pt").write_bytes(b"not a torch file")
    with pytest.raises(BadInputError, match="w1.pt: not a class-scorer weights file"):
        load_scorer(tmp_path / "w1.pt")
    (tmp_path / "w2.pt").write_bytes(pickle.dumps(print))  # a pickle that names a function: never called
    with pytest.raises(BadInputError, match="w2.pt: not a class-scorer weights file"):
        load_scorer(tmp_path / "w2.pt")
    (tmp_path / "w4.pt").write_bytes(np.random.default_rng(1).bytes(20000))  # one line, no torch advice
    with pytest.raises(BadInputError, match=r"^[^\n]*w4.pt: not a class-scorer weights file[^\n]*$"):
        load_scorer(tmp_path / "w4.pt")
    torch.save({"image.0.0.weight": torch.zeros(3)}, tmp_path / "w3.pt")
    (tmp_path / "w5.pt").write_bytes((tmp_path / "w3.pt").read_bytes()[:300])
    with pytest.raises(BadInputError, match="w5.pt: corrupt class-scorer weights file"):
        load_scorer(tmp_path / "w5.pt")
    with pytest.raises(BadInputError, match="w3.pt: the weights do not fit the class-scorer network"):
        load_scorer(tmp_path / "w3.pt")
