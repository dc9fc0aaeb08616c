"""``cryopick run``'s closing report names the final particle set."""

from pathlib import Path

from prefect.states import Completed

from cryopick.cli.run import _report


def test_the_report_ends_with_the_final_particle_set(capsys, tmp_path):
    final = {"job_dir": "Extract/job011/", "counts": {"particles": 1940},
             "output_nodes": [["Extract/job011/particles.star", "ParticlesData.star.relion"]]}
    report = {"steps": [{"step": "Final extraction", "state": "Completed", "job_dir": "Extract/job011/",
                         "cached": False, "result": final}], "not_run": []}
    assert _report(Path(tmp_path), Completed(data=report), [], local_api=False) == 0
    out = capsys.readouterr().out
    assert f"Final particle set: {tmp_path}/Extract/job011/particles.star (1940 particles)" in out
