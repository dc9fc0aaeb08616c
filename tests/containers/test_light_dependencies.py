"""The light service images (containers/Containerfile.light) hold only pyproject's ``service-light``
extra: the picker and extractor must run without torch, topaz, prefect or matplotlib.

Runs in the normal suite (no podman): a subprocess that refuses to import the heavy packages
simulates a small project and runs Select -> LoG picking -> Extract the way the picker and
extractor services do, after importing both service modules.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "topaz", "prefect", "matplotlib", "cupy")


def _name(requirement: str) -> str:
    for sep in "<>=!~[; ":
        requirement = requirement.split(sep)[0]
    return requirement.lower()


def test_service_light_is_a_subset_of_the_dependencies_with_the_same_bounds():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    light = project["optional-dependencies"]["service-light"]
    full = {_name(r): r for r in project["dependencies"]}
    assert light, "service-light extra is empty"
    for requirement in light:
        assert _name(requirement) not in HEAVY, requirement
        assert full.get(_name(requirement)) == requirement, (
            f"service-light {requirement!r} differs from the dependency {full.get(_name(requirement))!r}")


def test_picker_and_extractor_jobs_run_without_heavy_packages(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        HEAVY = {HEAVY!r}

        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HEAVY:
                    raise ImportError(f"{{name}} is not in the light image")
                return None

        sys.meta_path.insert(0, Refuse())
        import cryopick.services.picker, cryopick.services.extractor, cryopick.services.runtime.healthcheck
        from cryopick.io.pipeline import allocate_job
        from cryopick.synthetic.project import preset, simulate_project
        from cryopick.stages import autopick_log, extract, select

        root = sys.argv[1]
        sim = simulate_project(preset("small").replace(n_micrographs=2), root)
        mics = str(sim.micrographs_star.relative_to(sim.project_root))
        job = allocate_job(root, "Select")
        select.run(select.Params(micrographs_star=mics, split_size=1), root, job)
        mics1 = job + "micrographs_split1.star"
        job = allocate_job(root, "AutoPick")
        picks = autopick_log.run(autopick_log.Params(micrographs_star=mics1, diameter_min_angstrom=150,
                                                     diameter_max_angstrom=180), root, job)
        job = allocate_job(root, "Extract")
        parts = extract.run(extract.Params(micrographs_star=mics1, coords_star=picks.job_dir + "autopick.star",
                                           box_size_px=64), root, job)
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(HEAVY))
        print(picks.counts["picks"], parts.counts["particles"], loaded)
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    n_picks, n_particles, loaded = proc.stdout.split(maxsplit=2)
    assert int(n_picks) > 0 and 0 < int(n_particles) <= int(n_picks), proc.stdout
    assert loaded.strip() == "[]", proc.stdout
    assert len(list(tmp_path.glob("Extract/job*/particles.star"))) == 1
