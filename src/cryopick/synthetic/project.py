"""Write a complete simulated RELION project with ground truth.

Layout written under ``out_dir`` (the project root)::

    .gui_projectdir                       RELION project marker
    default_pipeline.star                 Import/job001 -> MotionCorr/job002 -> CtfFind/job003,
                                          rlnPipeLineJobCounter = 4 (next job is job004)
    Import/job001/movies.star             optics + data_movies (names only: movies are not simulated)
    MotionCorr/job002/Movies/mic_001.mrc  float32 micrographs (mode 2), x = column, y = row
    MotionCorr/job002/corrected_micrographs.star
    CtfFind/job003/micrographs_ctf.star   optics + data_micrographs with the CTF actually used
    CtfFind/job003/Movies/mic_001.ctf     |CTF| power-spectrum picture (256², centred) for display
    GroundTruth/particles.star            truth (see below)
    GroundTruth/junk.star                 junk (see below)

``GroundTruth/particles.star`` (RELION ≥ 3.1 layout, readable with
``read_optics_star(path, "particles")``):

* ``data_optics``: rlnOpticsGroupName, rlnOpticsGroup, rlnMicrographOriginalPixelSize,
  rlnVoltage, rlnSphericalAberration, rlnAmplitudeContrast, rlnMicrographPixelSize.
* ``data_particles``: rlnMicrographName (as in micrographs_ctf.star), rlnCoordinateX,
  rlnCoordinateY (0-based px, sub-pixel; x = column, y = row of the stored MRC array),
  rlnAngleRot, rlnAngleTilt, rlnAnglePsi (deg, RELION ZYZ convention: an atom at r of
  the 3D model projects to (A r)[:2]), rlnClassNumber (1-based conformation),
  rlnOpticsGroup, rlnDefocusU, rlnDefocusV, rlnDefocusAngle (the micrograph's CTF).
* ``data_simulation`` (list): cryopickParticleDiameterAngstrom, cryopickSeed,
  cryopickModelSeed, cryopickNrModels, cryopickBfactorAngstrom2, cryopickParticleContrast,
  cryopickIceNoise — simulation settings (RELION ignores this table).

``GroundTruth/junk.star``:

* ``data_optics`` as above.
* ``data_junk``: rlnMicrographName, rlnCoordinateX, rlnCoordinateY (blob centre px; for
  carbon the point of the edge closest to the micrograph centre), rlnAnglePsi (carbon:
  direction of the edge normal pointing into the carbon, deg from +x towards +y; else 0),
  cryopickJunkKind (``ice`` | ``aggregate`` | ``carbon``), cryopickJunkRadiusAngstrom
  (radius enclosing the blob or clump; 0 for carbon). Particles keep clear of every
  blob by their radius, and of the carbon side entirely.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.ctf import CtfParams, ctf_image
from cryopick.errors import BadInputError
from cryopick.io import nodes
from cryopick.io.jobdir import SUCCESS, JobDir
from cryopick.io.mrc import write_mrc
from cryopick.io.optics import OpticsStar, single_optics_group, write_optics_star
from cryopick.io.pipeline import PIPELINE, register_job
from cryopick.io.star import get_table, list_table, read_star, write_star
from cryopick.sim.density import make_particle_models
from cryopick.sim.micrograph import SimulatedMicrograph, simulate_micrograph
from cryopick.sim.params import PRESETS, SimParams, preset

__all__ = ["SimParams", "SimResult", "simulate_project", "PRESETS", "preset", "micrograph_names", "read_junk"]

IMPORT_JOB = "Import/job001/"
MOTIONCORR_JOB = "MotionCorr/job002/"
CTFFIND_JOB = "CtfFind/job003/"
TRUTH_DIR = "GroundTruth"


@dataclass(frozen=True)
class SimResult:
    """What :func:`simulate_project` wrote.

    Attributes
    ----------
    project_root : pathlib.Path
    micrographs_star : pathlib.Path
        ``CtfFind/job003/micrographs_ctf.star``.
    truth_star, junk_star : pathlib.Path
    micrographs : list[str]
        Project-relative micrograph names.
    n_particles : int
    particles_per_micrograph : dict[str, int]
    junk_counts : dict[str, int]
        Number of ``ice``, ``aggregate`` and ``carbon`` items.
    ctf : dict[str, CtfParams]
        CTF used per micrograph.
    """

    project_root: Path
    micrographs_star: Path
    truth_star: Path
    junk_star: Path
    micrographs: list[str]
    n_particles: int
    particles_per_micrograph: dict[str, int]
    junk_counts: dict[str, int]
    ctf: dict[str, CtfParams] = field(default_factory=dict)


def micrograph_names(n: int) -> list[str]:
    """Project-relative micrograph names ``MotionCorr/job002/Movies/mic_001.mrc`` ..."""
    width = max(3, len(str(n)))
    return [f"{MOTIONCORR_JOB}Movies/mic_{i + 1:0{width}d}.mrc" for i in range(n)]


def _optics(params: SimParams, micrograph: bool = True) -> pd.DataFrame:
    return single_optics_group(
        params.pixel_size_angstrom, params.voltage_kv, params.cs_mm, params.amplitude_contrast,
        micrograph_pixel_size=micrograph,
    )


def _carbon_flags(params: SimParams) -> np.ndarray:
    n = params.n_micrographs
    k = int(round(params.carbon_fraction * n))
    flags = np.zeros(n, dtype=bool)
    if k:
        rng = np.random.default_rng((params.seed, 1 << 30))
        flags[rng.choice(n, size=min(k, n), replace=False)] = True
    return flags


def _ctf_picture(ctf: CtfParams, pixel_size_angstrom: float, size: int = 256) -> np.ndarray:
    full = ctf_image(size, size, pixel_size_angstrom, ctf, half=False)
    return np.fft.fftshift(np.abs(full)).astype(np.float32)


def _ctf_row(sim: SimulatedMicrograph, pix: float, rng: np.random.Generator) -> dict[str, float]:
    c = sim.ctf
    return {
        "rlnDefocusU": c.defocus_u_angstrom,
        "rlnDefocusV": c.defocus_v_angstrom,
        "rlnCtfAstigmatism": abs(c.defocus_u_angstrom - c.defocus_v_angstrom),
        "rlnDefocusAngle": c.defocus_angle_deg,
        "rlnCtfFigureOfMerit": float(round(rng.uniform(0.08, 0.3), 6)),
        "rlnCtfMaxResolution": float(round(max(2.2 * pix, rng.uniform(3.5, 6.0)), 6)),
    }


def _finish_job(root: Path, rel: str, type_label: str, command: str, inputs, outputs,
                options: dict[str, object]) -> None:
    job = JobDir(root, rel)
    job.begin(command, type_label, options)
    job.log(f"simulated by cryopick ({command})")
    register_job(root, rel, type_label, "Succeeded", inputs=inputs, outputs=outputs)
    job.mark(SUCCESS)


def simulate_project(params: SimParams, out_dir: str | os.PathLike) -> SimResult:
    """Simulate ``params.n_micrographs`` micrographs and write the project to ``out_dir``.

    Deterministic: the same ``params`` give byte-identical micrographs and STAR files.

    Raises
    ------
    BadInputError
        Impossible parameters, or ``out_dir`` already holds a RELION pipeline.
    """
    params.validate()
    root = Path(out_dir)
    if (root / PIPELINE).exists():
        raise BadInputError(f"{root}: already a RELION project ({PIPELINE} exists); choose an empty directory")
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gui_projectdir").touch()
    for rel in (IMPORT_JOB, f"{MOTIONCORR_JOB}Movies", f"{CTFFIND_JOB}Movies", TRUTH_DIR):
        (root / rel).mkdir(parents=True, exist_ok=True)

    models = make_particle_models(params.diameter_angstrom, params.n_models, params.model_seed,
                                  shape=params.particle_shape)
    names = micrograph_names(params.n_micrographs)
    carbon = _carbon_flags(params)
    pix = params.pixel_size_angstrom
    meta_rng = np.random.default_rng((params.seed, 1 << 31))

    mic_rows, part_rows, junk_rows = [], [], []
    ctfs: dict[str, CtfParams] = {}
    per_mic: dict[str, int] = {}
    for i, name in enumerate(names):
        sim = simulate_micrograph(params, models, i, bool(carbon[i]))
        write_mrc(root / name, sim.image, pix)
        ctf_rel = f"{CTFFIND_JOB}Movies/{Path(name).stem}.ctf"
        write_mrc(root / ctf_rel, _ctf_picture(sim.ctf, pix), pix)
        ctfs[name] = sim.ctf
        per_mic[name] = len(sim.xy_px)
        mic_rows.append({"rlnMicrographName": name, "rlnOpticsGroup": 1, "rlnCtfImage": f"{ctf_rel}:mrc",
                         **_ctf_row(sim, pix, meta_rng)})
        for (x, y), (rot, tilt, psi), k in zip(sim.xy_px, sim.angles_deg, sim.class_number):
            part_rows.append(
                {
                    "rlnMicrographName": name,
                    "rlnCoordinateX": float(x),
                    "rlnCoordinateY": float(y),
                    "rlnAngleRot": float(rot),
                    "rlnAngleTilt": float(tilt),
                    "rlnAnglePsi": float(psi),
                    "rlnClassNumber": int(k),
                    "rlnOpticsGroup": 1,
                    "rlnDefocusU": sim.ctf.defocus_u_angstrom,
                    "rlnDefocusV": sim.ctf.defocus_v_angstrom,
                    "rlnDefocusAngle": sim.ctf.defocus_angle_deg,
                }
            )
        for j in sim.junk:
            junk_rows.append(
                {
                    "rlnMicrographName": name,
                    "rlnCoordinateX": float(j.x_px),
                    "rlnCoordinateY": float(j.y_px),
                    "rlnAnglePsi": float(j.angle_deg),
                    "cryopickJunkKind": j.kind,
                    "cryopickJunkRadiusAngstrom": float(j.radius_angstrom),
                }
            )

    # --- Import (names of movies that are not simulated) and MotionCorr
    movies = pd.DataFrame({"rlnMicrographMovieName": [f"Movies/{Path(n).stem}.tiff" for n in names],
                           "rlnOpticsGroup": np.ones(len(names), dtype=np.int64)})
    movie_optics = _optics(params, micrograph=False)
    write_optics_star(root / IMPORT_JOB / "movies.star", OpticsStar(movie_optics, movies, "movies"))
    corrected = pd.DataFrame({"rlnMicrographName": names, "rlnOpticsGroup": np.ones(len(names), dtype=np.int64)})
    write_optics_star(root / MOTIONCORR_JOB / "corrected_micrographs.star",
                      OpticsStar(_optics(params), corrected, "micrographs"))
    mics_star = root / CTFFIND_JOB / "micrographs_ctf.star"
    write_optics_star(mics_star, OpticsStar(_optics(params), pd.DataFrame(mic_rows), "micrographs"))

    # --- ground truth
    part_cols = ["rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY", "rlnAngleRot", "rlnAngleTilt",
                 "rlnAnglePsi", "rlnClassNumber", "rlnOpticsGroup", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"]
    parts = pd.DataFrame(part_rows, columns=part_cols)
    parts["rlnClassNumber"] = parts["rlnClassNumber"].astype(np.int64)
    parts["rlnOpticsGroup"] = parts["rlnOpticsGroup"].astype(np.int64)
    sim_table = list_table(
        {
            "cryopickParticleDiameterAngstrom": float(params.diameter_angstrom),
            "cryopickSeed": int(params.seed),
            "cryopickModelSeed": int(params.model_seed),
            "cryopickNrModels": int(params.n_models),
            "cryopickBfactorAngstrom2": float(params.bfactor_angstrom2),
            "cryopickParticleContrast": float(params.particle_contrast),
            "cryopickIceNoise": float(params.ice_noise),
        }
    )
    truth_star = root / TRUTH_DIR / "particles.star"
    write_star(truth_star, {"optics": _optics(params), "particles": parts, "simulation": sim_table})
    junk_cols = ["rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY", "rlnAnglePsi", "cryopickJunkKind",
                 "cryopickJunkRadiusAngstrom"]
    junk = pd.DataFrame(junk_rows, columns=junk_cols)
    junk_star = root / TRUTH_DIR / "junk.star"
    write_star(junk_star, {"optics": _optics(params), "junk": junk})

    # --- pipeline: three succeeded jobs, counter -> 4
    size = f"{params.mic_size_px[0]}x{params.mic_size_px[1]}"
    cmd = f"cryopick simulate --seed {params.seed} --n-mics {params.n_micrographs} --mic-size-px {size}"
    # job.star options in RELION's GUI names, so that RELION 4/5 tools (CCP-EM's pipeliner) read the jobs
    _finish_job(root, IMPORT_JOB, "relion.import.movies", cmd, [],
                [(f"{IMPORT_JOB}movies.star", nodes.MOVIES)],
                {"fn_in_raw": f"{MOTIONCORR_JOB}Movies/*.mrc", "is_multiframe": True, "optics_group_name": "opticsGroup1",
                 "angpix": params.pixel_size_angstrom, "kV": int(round(params.voltage_kv)), "Cs": params.cs_mm,
                 "Q0": params.amplitude_contrast})
    _finish_job(root, MOTIONCORR_JOB, "relion.motioncorr.own", cmd,
                [(f"{IMPORT_JOB}movies.star", nodes.MOVIES)],
                [(f"{MOTIONCORR_JOB}corrected_micrographs.star", nodes.MICROGRAPHS_MOTIONCORR)],
                {"input_star_mics": f"{IMPORT_JOB}movies.star", "do_own_motioncor": True})
    _finish_job(root, CTFFIND_JOB, "relion.ctffind.ctffind4", cmd,
                [(f"{MOTIONCORR_JOB}corrected_micrographs.star", nodes.MICROGRAPHS_MOTIONCORR)],
                [(f"{CTFFIND_JOB}micrographs_ctf.star", nodes.MICROGRAPHS_CTF)],
                {"input_star_mics": f"{MOTIONCORR_JOB}corrected_micrographs.star", "use_ctffind4": True})

    kinds = junk["cryopickJunkKind"].tolist()
    return SimResult(
        project_root=root,
        micrographs_star=mics_star,
        truth_star=truth_star,
        junk_star=junk_star,
        micrographs=names,
        n_particles=len(parts),
        particles_per_micrograph=per_mic,
        junk_counts={k: kinds.count(k) for k in ("ice", "aggregate", "carbon")},
        ctf=ctfs,
    )


def read_junk(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``GroundTruth/junk.star``'s ``data_junk`` with numeric radius."""
    t = read_star(path)
    if "junk" not in t:
        return pd.DataFrame(columns=["rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY", "rlnAnglePsi",
                                     "cryopickJunkKind", "cryopickJunkRadiusAngstrom"])
    df = get_table(t, "junk", path, required=("rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY")).copy()
    df["cryopickJunkRadiusAngstrom"] = df["cryopickJunkRadiusAngstrom"].astype(float)
    return df
