"""A Class2D job stopped after an iteration and run again (as after its service was killed) ends byte-identical
to an uninterrupted run: it resumes from the iteration's exact checkpoint, not from the STAR files' rounded values."""

from __future__ import annotations

import shutil
import threading

import pytest

from cryopick.errors import Cancelled
from cryopick.stages import class2d
from cryopick.stages import class2d_files as files

pytestmark = pytest.mark.slow


def _outputs(job) -> dict[str, bytes]:
    return {p.name: p.read_bytes().replace(job.name.encode(), b"jobNNN") for p in sorted(job.iterdir())
            if p.name not in ("note.txt", "run.out", "run.err", "job.star")}


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_stopped_and_run_again_equals_uninterrupted(classified, tmp_path, stop_at):
    root = tmp_path / "p"
    shutil.copytree(classified, root, symlinks=True)
    params = class2d.Params("Extract/job005/particles.star", nr_classes=3, nr_iter=3, mask_diameter_angstrom=200)
    class2d.run(params, root, "Class2D/job010/")

    cancel = threading.Event()

    def progress(p):  # the job is stopped as iteration ``stop_at`` starts: iterations before it are complete
        if p.item == f"iteration {stop_at}":
            cancel.set()

    with pytest.raises(Cancelled):
        class2d.run(params, root, "Class2D/job011/", progress=progress, cancel=cancel)
    job = root / "Class2D/job011"
    assert (job / files.CHECKPOINT.format(stop_at - 1)).is_file()
    class2d.run(params, root, "Class2D/job011/")
    assert f"resuming after iteration {stop_at - 1}" in (job / "run.out").read_text()
    assert _outputs(job) == _outputs(root / "Class2D/job010")


def test_without_a_checkpoint_it_resumes_from_the_star_files(classified, tmp_path):
    """As relion_refine --continue does (and as a job written before checkpoints did): it finishes, from the
    rounded values, so its results may differ slightly from an uninterrupted run's."""
    root = tmp_path / "p"
    shutil.copytree(classified, root, symlinks=True)
    params = class2d.Params("Extract/job005/particles.star", nr_classes=3, nr_iter=2, mask_diameter_angstrom=200)
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        class2d.run(params, root, "Class2D/job011/", progress=lambda p: p.item == "iteration 2" and cancel.set(),
                    cancel=cancel)
    job = root / "Class2D/job011"
    for checkpoint in job.glob(".cryopick_resume_it*.npz"):
        checkpoint.unlink()
    class2d.run(params, root, "Class2D/job011/")
    out = (job / "run.out").read_text()
    assert "resuming after iteration 1" in out and "exact checkpoint" not in out
    assert (job / "RELION_JOB_EXIT_SUCCESS").exists() and (job / "run_it002_optimiser.star").exists()
