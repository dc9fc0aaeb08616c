"""Select new micrographs: the ones a growing STAR file gained since earlier selections."""

from __future__ import annotations

import pytest

from cryopick.errors import BadInputError
from cryopick.io.optics import micrograph_names
from cryopick.io.pipeline import read_pipeline
from cryopick.stages import select_new
from cryopick.synthetic.extraction import write_synthetic_project


@pytest.fixture
def project(tmp_path):
    return write_synthetic_project(tmp_path, n_micrographs=3, picks_per_micrograph=2, seed=1)


def test_first_run_selects_everything_then_only_what_is_new(project):
    root = project.root
    first = select_new.run(select_new.Params(project.micrographs_star), root, "Select/job010/")
    assert first.counts == {"micrographs": 3, "processed_before": 0}
    out = first.output_nodes[0][0]
    assert out == "Select/job010/micrographs_new.star" and micrograph_names(root / out) == project.micrographs
    # one micrograph processed in an earlier selection of its own
    select_new.run(select_new.Params(project.micrographs_star), root, "Select/job011/")
    from cryopick.io.optics import read_optics_star, write_optics_star

    star = read_optics_star(root / out)
    write_optics_star(root / "Select/job011/micrographs_new.star", star.with_data(star.data.iloc[:1]))
    second = select_new.run(select_new.Params(project.micrographs_star, ("Select/job011/micrographs_new.star",)),
                            root, "Select/job012/")
    assert second.counts == {"micrographs": 2, "processed_before": 1}
    assert micrograph_names(root / "Select/job012/micrographs_new.star") == project.micrographs[1:]
    edges = read_pipeline(root).input_edges
    assert ("Select/job011/micrographs_new.star", "Select/job012/") in edges


def test_nothing_new_is_an_error_naming_the_file(project):
    root = project.root
    select_new.run(select_new.Params(project.micrographs_star), root, "Select/job010/")
    with pytest.raises(BadInputError, match="micrographs_ctf.star: no micrographs beyond"):
        select_new.run(select_new.Params(project.micrographs_star, ("Select/job010/micrographs_new.star",)),
                       root, "Select/job011/")
