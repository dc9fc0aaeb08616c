"""The scheduled facility flow processes only micrographs added since its last run."""

from __future__ import annotations

import pytest

from cryopick.io.optics import read_optics_star, write_optics_star

pytestmark = pytest.mark.slow

MICS = "CtfFind/job003/micrographs_ctf.star"


def test_only_new_micrographs_are_picked_and_extracted(services, services_root, make_project):
    from cryopick.flows.facility import facility_picking, processed_selections

    root = make_project(services_root, "facility", n_mics=4, seed=9)
    full = read_optics_star(root / MICS)
    write_optics_star(root / MICS, full.with_data(full.data.iloc[:2]))  # only 2 collected so far

    first = facility_picking(project_dir=str(root), service_project="facility")
    assert first["new_micrographs"] == 2
    steps = {s["step"]: s for s in first["steps"]}
    assert steps["LoG picking"]["result"]["counts"]["micrographs"] == 2
    assert processed_selections(root) == [first["new_micrographs_star"]]
    first_mics = read_optics_star(root / first["new_micrographs_star"]).data["rlnMicrographName"]
    assert list(first_mics) == list(full.data["rlnMicrographName"][:2])
    assert steps["Select new micrographs"]["job_dir"] == first["new_micrographs_star"].rsplit("/", 1)[0] + "/"

    jobs = sorted(p.name for p in (root / "Select").iterdir())
    assert facility_picking(project_dir=str(root), service_project="facility")["new_micrographs"] == 0
    assert sorted(p.name for p in (root / "Select").iterdir()) == jobs  # nothing new: no job at all

    write_optics_star(root / MICS, full)  # two more arrive
    third = facility_picking(project_dir=str(root), service_project="facility")
    assert third["new_micrographs"] == 2
    steps = {s["step"]: s for s in third["steps"]}
    new_mics = read_optics_star(root / third["new_micrographs_star"]).data["rlnMicrographName"]
    assert list(new_mics) == list(full.data["rlnMicrographName"][2:])
    assert steps["LoG picking"]["state"] == "Completed"
    assert steps["LoG picking"]["result"]["counts"]["micrographs"] == 2
    assert steps["Extraction"]["result"]["counts"]["micrographs"] == 2
    assert processed_selections(root) == [first["new_micrographs_star"], third["new_micrographs_star"]]
