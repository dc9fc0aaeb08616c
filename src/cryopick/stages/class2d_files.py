"""What a Class2D job writes after each iteration, in relion_refine's formats, and reading it back.

Per iteration ``NNN`` (relion_spec.md §4.12), under the job's output root ``run``:

* ``run_itNNN_classes.mrcs``: the K class averages;
* ``run_itNNN_model.star``: model_general, model_classes, one spectral table per class
  (SSNR, completeness, σ² and τ² of the reference), model_groups, the noise spectrum of each
  group (``model_group_N``, RELION 3.1's layout) and of each optics group
  (``model_optics_group_N``, RELION 4's);
* ``run_itNNN_data.star``: optics + the particles with their assignments;
* ``run_itNNN_sampling.star``: the sampling grid (offsets in Å);
* ``run_itNNN_optimiser.star``: the settings and file names, with relion_refine's command line
  in its header (which ``relion_refine --continue`` re-parses). Written last: an iteration
  whose optimiser file exists is complete.

Beside them, hidden from RELION, ``.cryopick_resume_itNNN.npz``: the iteration's model and
particle state exactly as the classifier holds them (written before the optimiser file; those
before the previous iteration are removed after it). A job killed and run again resumes from it, so the
result is byte-identical to an uninterrupted run; the STAR files alone (``--continue``, as
relion_refine does) hold rounded values, after which later iterations drift (a few particles
change class).

Everything here is numpy: the classifier's tensors are converted by the stage.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field

import numpy as np

from cryopick.classification.state import ParticleState
from cryopick.errors import BadInputError
from cryopick.io import columns as tbl
from cryopick.io.atomic import atomic_path
from cryopick.io.columns import Columns
from cryopick.io.mrc import read_mrc, write_mrc
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import (
    compose_image_name,
    format_star,
    list_table,
    read_star_raw,
    write_star,
)

ROOT = "run"

#: data_optimiser_general as relion_refine 3.1 writes it for an EM Class2D job: every label it reads back
#: on ``--continue``, in its order, with the values that do not depend on the run (the rest are set per run).
OPTIMISER_LABELS = (
    ("rlnOutputRootName", ""), ("rlnModelStarFile", ""), ("rlnExperimentalDataStarFile", ""),
    ("rlnOrientSamplingStarFile", ""), ("rlnCurrentIteration", 0), ("rlnNumberOfIterations", 0),
    ("rlnDoSplitRandomHalves", 0), ("rlnJoinHalvesUntilThisResolution", -1.0), ("rlnAdaptiveOversampleOrder", 1),
    ("rlnAdaptiveOversampleFraction", 0.999), ("rlnRandomSeed", 0), ("rlnParticleDiameter", 0.0),
    ("rlnWidthMaskEdge", 5), ("rlnDoZeroMask", 1), ("rlnDoSolventFlattening", 1), ("rlnDoSolventFscCorrection", 0),
    ("rlnSolventMaskName", "None"), ("rlnSolventMask2Name", "None"), ("rlnBodyStarFile", "None"),
    ("rlnTauSpectrumName", "None"), ("rlnMaximumCoarseImageSize", -1), ("rlnHighresLimitExpectation", -1.0),
    ("rlnLowresLimitExpectation", -1.0), ("rlnIncrementImageSize", 10), ("rlnDoMapEstimation", 1),
    ("rlnDoFastSubsetOptimisation", 0), ("rlnDoExternalReconstruct", 0), ("rlnDoStochasticGradientDescent", 0),
    ("rlnDoStochasticEM", 0), ("rlnSgdInitialIterations", 50), ("rlnSgdFinalIterations", 50),
    ("rlnSgdInBetweenIterations", 200), ("rlnSgdInitialResolution", 35.0), ("rlnSgdFinalResolution", 15.0),
    ("rlnSgdInitialSubsetSize", 100), ("rlnSgdFinalSubsetSize", 500), ("rlnSgdMuFactor", 0.0),
    ("rlnSgdSigma2FudgeInitial", 8.0), ("rlnSgdSigma2FudgeHalflife", -1), ("rlnSgdSkipAnneal", 0),
    ("rlnSgdSubsetSize", -1), ("rlnSgdWriteEverySubset", 1), ("rlnSgdStepsize", 0.5), ("rlnDoAutoRefine", 0),
    ("rlnAutoLocalSearchesHealpixOrder", 4), ("rlnNumberOfIterWithoutResolutionGain", 0),
    ("rlnBestResolutionThusFar", 0.0), ("rlnNumberOfIterWithoutChangingAssignments", 0), ("rlnDoSkipAlign", 0),
    ("rlnDoSkipRotate", 0), ("rlnOverallAccuracyRotations", 999.0), ("rlnOverallAccuracyTranslationsAngst", 999.0),
    ("rlnChangesOptimalOrientations", 999.0), ("rlnChangesOptimalOffsets", 999.0), ("rlnChangesOptimalClasses", 999.0),
    ("rlnSmallestChangesOrientations", 999.0), ("rlnSmallestChangesOffsets", 999.0), ("rlnSmallestChangesClasses", 999.0),
    ("rlnLocalSymmetryFile", "None"), ("rlnDoHelicalRefine", 0), ("rlnIgnoreHelicalSymmetry", 0),
    ("rlnFourierMask", "None"), ("rlnHelicalTwistInitial", 0.0), ("rlnHelicalRiseInitial", 0.0),
    ("rlnHelicalCentralProportion", 0.3), ("rlnNrHelicalNStart", 1), ("rlnHelicalMaskTubeInnerDiameter", -1.0),
    ("rlnHelicalMaskTubeOuterDiameter", -1.0), ("rlnHelicalSymmetryLocalRefinement", 0),
    ("rlnHelicalSigmaDistance", -1.0), ("rlnHelicalKeepTiltPriorFixed", 0), ("rlnHasConverged", 0),
    ("rlnHasHighFscAtResolLimit", 0), ("rlnHasLargeSizeIncreaseIterationsAgo", 0), ("rlnDoCorrectNorm", 1),
    ("rlnDoCorrectScale", 1), ("rlnDoCorrectCtf", 1), ("rlnDoIgnoreCtfUntilFirstPeak", 0),
    ("rlnCtfDataArePhaseFlipped", 0), ("rlnDoOnlyFlipCtfPhases", 0), ("rlnRefsAreCtfCorrected", 1),
    ("rlnFixSigmaNoiseEstimates", 0), ("rlnFixSigmaOffsetEstimates", 0), ("rlnMaxNumberOfPooledParticles", 3),
)
OPTIMISER_HEADER = "# RELION optimiser; version 3.1.3 (written by cryopick)"


@dataclass
class ModelArrays:
    """The model of one iteration as numpy arrays (see :class:`cryopick.classification.model.Model`).

    Attributes
    ----------
    references : np.ndarray, shape (K, B, B)
    class_prior : np.ndarray, shape (K,)
    prior_offsets_angstrom : np.ndarray, shape (K, 2)
    sigma2_offset_angstrom2 : float
    sigma2_noise : np.ndarray, shape (G, B/2+1)
        Per optics group.
    tau2, data_vs_prior, fourier_coverage, sigma2_class : np.ndarray, shape (K, B/2+1)
    avg_norm : float
    scale : np.ndarray, shape (n_groups,)
    iteration_size : int
        Image size of the iteration's E-step (rlnCurrentImageSize).
    resolution_shell : int
    log_likelihood, average_pmax : float
    accuracy_rotations_deg, accuracy_translations_angstrom : np.ndarray, shape (K,)
    """

    references: np.ndarray
    class_prior: np.ndarray
    prior_offsets_angstrom: np.ndarray
    sigma2_offset_angstrom2: float
    sigma2_noise: np.ndarray
    tau2: np.ndarray
    data_vs_prior: np.ndarray
    fourier_coverage: np.ndarray
    sigma2_class: np.ndarray
    avg_norm: float
    scale: np.ndarray
    iteration_size: int
    resolution_shell: int
    log_likelihood: float
    average_pmax: float
    accuracy_rotations_deg: np.ndarray
    accuracy_translations_angstrom: np.ndarray


@dataclass
class RunInfo:
    """What the optimiser and sampling files record besides the model.

    Attributes
    ----------
    relion_command : str
        relion_refine's options for the same job (header line 2 of the optimiser file).
    options : dict
        Optimiser values that come from the job's parameters (label -> value).
    psi_step_coarse_deg, offset_range_px, offset_step_coarse_px : float
    perturbation : float
        This iteration's random perturbation (fraction of a step).
    changes : dict
        rlnChangesOptimal*/rlnSmallestChanges* and rlnNumberOfIterWithoutChangingAssignments.
    """

    relion_command: str
    options: dict
    psi_step_coarse_deg: float
    offset_range_px: float
    offset_step_coarse_px: float
    perturbation: float = 0.0
    changes: dict = field(default_factory=dict)


def iteration_name(iteration: int, kind: str) -> str:
    """``run_itNNN_<kind>`` (``kind``: ``classes.mrcs``, ``model.star``, ...)."""
    return f"{ROOT}_it{iteration:03d}_{kind}"


def _spectral(box: int, pixel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = np.arange(box // 2 + 1)
    res = idx / (box * pixel)
    ang = np.where(idx > 0, 1.0 / np.where(res > 0, res, 1.0), 999.0)
    return idx.astype(np.int64), res, ang


def estimated_resolution_shell(data_vs_prior: np.ndarray) -> int:
    """RELION's ``maxres``: the last shell, counting from 0, before the SSNR first drops below 1."""
    below = np.flatnonzero(np.asarray(data_vs_prior) < 1)
    return int(below[0]) - 1 if below.size else len(data_vs_prior) - 1


def overall_completeness(coverage: np.ndarray, maxres: int) -> float:
    """rlnOverallFourierCompleteness as relion_refine 3.1.3 computes it (``calculateTotalFourierCoverage``).

    The mean of the per-shell completeness over the voxels of a cube of side 2·maxres − 1 whose
    truncated radius is at most maxres (a 3D cube, in 2D too: RELION's definition).
    """
    if maxres < 1:
        return float(coverage[0]) if maxres == 0 else 0.0
    w = 2 * maxres - 1
    idx = np.arange(-(w // 2), -(w // 2) + w)
    k, i, j = np.meshgrid(idx, idx, idx, indexing="ij")
    r = np.sqrt(k * k + i * i + j * j).astype(np.int64)
    return float(np.mean(coverage[r[r <= maxres]]))


def model_tables(job_rel: str, iteration: int, m: ModelArrays, pixel: float, tau2_fudge: float,
                 group_names: list[str], group_counts: np.ndarray) -> dict:
    """The tables of ``run_itNNN_model.star``."""
    k, box = m.references.shape[0], m.references.shape[-1]
    idx, res, ang = _spectral(box, pixel)
    shell = max(int(m.resolution_shell), 1)
    general = list_table({
        "rlnReferenceDimensionality": 2, "rlnDataDimensionality": 2, "rlnOriginalImageSize": box,
        "rlnCurrentResolution": box * pixel / shell, "rlnCurrentImageSize": int(m.iteration_size),
        "rlnPaddingFactor": 2.0, "rlnIsHelix": 0, "rlnFourierSpaceInterpolator": 1,
        "rlnMinRadiusNnInterpolation": 10, "rlnPixelSize": float(pixel), "rlnNrClasses": k, "rlnNrBodies": 1,
        "rlnNrGroups": len(group_names), "rlnTau2FudgeFactor": float(tau2_fudge),
        "rlnNormCorrectionAverage": float(m.avg_norm), "rlnSigmaOffsetsAngst": math.sqrt(max(m.sigma2_offset_angstrom2, 0.0)),
        "rlnOrientationalPriorMode": 0, "rlnSigmaPriorRotAngle": 0.0, "rlnSigmaPriorTiltAngle": 0.0,
        "rlnSigmaPriorPsiAngle": 0.0, "rlnLogLikelihood": float(m.log_likelihood), "rlnAveragePmax": float(m.average_pmax),
    })
    classes_file = f"{job_rel}{iteration_name(iteration, 'classes.mrcs')}"
    est = np.empty(k)
    completeness = np.empty(k)
    for c in range(k):
        s = estimated_resolution_shell(m.data_vs_prior[c])
        est[c] = box * pixel / s if s > 0 else math.inf
        completeness[c] = overall_completeness(m.fourier_coverage[c], s)
    tables: dict = {"model_general": general, "model_classes": {
        "rlnReferenceImage": np.array([compose_image_name(c + 1, classes_file) for c in range(k)], dtype=object),
        "rlnClassDistribution": m.class_prior.astype(np.float64),
        "rlnAccuracyRotations": m.accuracy_rotations_deg.astype(np.float64),
        "rlnAccuracyTranslationsAngst": m.accuracy_translations_angstrom.astype(np.float64),
        "rlnEstimatedResolution": est,
        "rlnOverallFourierCompleteness": completeness,
        "rlnClassPriorOffsetX": m.prior_offsets_angstrom[:, 0].astype(np.float64),
        "rlnClassPriorOffsetY": m.prior_offsets_angstrom[:, 1].astype(np.float64),
    }}
    for c in range(k):
        tables[f"model_class_{c + 1}"] = {
            "rlnSpectralIndex": idx, "rlnResolution": res, "rlnAngstromResolution": ang,
            "rlnSsnrMap": m.data_vs_prior[c].astype(np.float64), "rlnGoldStandardFsc": np.zeros(len(idx)),
            "rlnFourierCompleteness": m.fourier_coverage[c].astype(np.float64),
            "rlnReferenceSigma2": m.sigma2_class[c].astype(np.float64), "rlnReferenceTau2": m.tau2[c].astype(np.float64),
        }
    tables["model_groups"] = {
        "rlnGroupNumber": np.arange(1, len(group_names) + 1, dtype=np.int64),
        "rlnGroupName": np.array(group_names, dtype=object),
        "rlnGroupNrParticles": np.asarray(group_counts, dtype=np.int64),
        "rlnGroupScaleCorrection": m.scale.astype(np.float64),
    }
    noise_of_group = m.sigma2_noise[0] if m.sigma2_noise.shape[0] == 1 else None
    for g in range(len(group_names)):
        s2 = noise_of_group if noise_of_group is not None else m.sigma2_noise.mean(axis=0)
        tables[f"model_group_{g + 1}"] = {"rlnSpectralIndex": idx, "rlnResolution": res,
                                          "rlnSigma2Noise": s2.astype(np.float64)}
    for o in range(m.sigma2_noise.shape[0]):
        tables[f"model_optics_group_{o + 1}"] = {"rlnSpectralIndex": idx, "rlnResolution": res,
                                                 "rlnSigma2Noise": m.sigma2_noise[o].astype(np.float64)}
    return tables


def data_tables(optics: Columns, rows: Columns, group: np.ndarray, a: ParticleState, pixel: float) -> dict:
    """The tables of ``run_itNNN_data.star``: the input columns, then (or replaced in place) RELION's."""
    out = dict(rows)
    n = tbl.n_rows(rows)
    psi = np.where(a.psi_deg > 180.0, a.psi_deg - 360.0, a.psi_deg)
    new = {
        "rlnGroupNumber": group.astype(np.int64) + 1,
        "rlnAngleRot": np.zeros(n), "rlnAngleTilt": np.zeros(n), "rlnAnglePsi": psi.astype(np.float64),
        "rlnOriginXAngst": a.offsets_px[:, 0] * pixel, "rlnOriginYAngst": a.offsets_px[:, 1] * pixel,
    }
    if np.all(a.klass >= 0):
        new.update({
            "rlnClassNumber": a.klass.astype(np.int64) + 1,
            "rlnNormCorrection": a.norm.astype(np.float64),
            "rlnLogLikeliContribution": a.log_likelihood.astype(np.float64),
            "rlnMaxValueProbDistribution": a.pmax.astype(np.float64),
            "rlnNrOfSignificantSamples": a.n_significant.astype(np.int64),
        })
    out.update(new)
    return {"optics": optics, "particles": out}


def sampling_table(info: RunInfo, pixel: float) -> dict:
    """The table of ``run_itNNN_sampling.star`` (offsets in Å, as RELION 3.1)."""
    rng, step = info.offset_range_px * pixel, info.offset_step_coarse_px * pixel
    return {"sampling_general": list_table({
        "rlnIs3DSampling": 0, "rlnIs3DTranslationalSampling": 0, "rlnPsiStep": info.psi_step_coarse_deg,
        "rlnOffsetRange": rng, "rlnOffsetStep": step, "rlnHelicalOffsetStep": -1.0,
        "rlnSamplingPerturbInstance": float(info.perturbation), "rlnSamplingPerturbFactor": 0.5,
        "rlnHealpixOrderOriginal": 2, "rlnPsiStepOriginal": info.psi_step_coarse_deg,
        "rlnOffsetRangeOriginal": rng, "rlnOffsetStepOriginal": step,
    })}


def optimiser_text(job_rel: str, iteration: int, n_iterations: int, m: ModelArrays, info: RunInfo, pixel: float) -> str:
    """``run_itNNN_optimiser.star``: two header lines, then data_optimiser_general."""
    values = dict(OPTIMISER_LABELS)
    values.update({
        "rlnOutputRootName": f"{job_rel}{ROOT}",
        "rlnModelStarFile": f"{job_rel}{iteration_name(iteration, 'model.star')}",
        "rlnExperimentalDataStarFile": f"{job_rel}{iteration_name(iteration, 'data.star')}",
        "rlnOrientSamplingStarFile": f"{job_rel}{iteration_name(iteration, 'sampling.star')}",
        "rlnCurrentIteration": iteration, "rlnNumberOfIterations": n_iterations,
        "rlnBestResolutionThusFar": m.resolution_shell / max(m.references.shape[-1] * pixel, 1e-30),
    })
    unknown = set(info.options) - set(values)
    if unknown:
        raise ValueError(f"optimiser labels {sorted(unknown)} are not in RELION 3.1's optimiser table")
    values.update(info.options)
    active = m.class_prior >= 0.01
    values.update({
        "rlnOverallAccuracyRotations": float(m.accuracy_rotations_deg[active].min()) if active.any() else 999.0,
        "rlnOverallAccuracyTranslationsAngst": float(m.accuracy_translations_angstrom[active].min()) if active.any() else 999.0,
    })
    values.update(info.changes)
    body = format_star({"optimiser_general": list_table(values)})
    return f"{OPTIMISER_HEADER}\n# {info.relion_command}\n{body}"


def write_iteration(job, iteration: int, n_iterations: int, m: ModelArrays, a: ParticleState, info: RunInfo,
                    optics: Columns, rows: Columns, group: np.ndarray, group_names: list[str], pixel: float,
                    tau2_fudge: float) -> str:
    """Write every file of one iteration (the optimiser last); returns the optimiser's project-relative path.

    ``job`` is the stage's :class:`~cryopick.io.jobdir.JobDir`.
    """
    write_mrc(job.output(iteration_name(iteration, "classes.mrcs")), m.references.astype(np.float32), pixel, stack=True)
    counts = np.bincount(group, minlength=len(group_names))
    write_star(job.output(iteration_name(iteration, "model.star")),
               model_tables(job.rel, iteration, m, pixel, tau2_fudge, group_names, counts))
    write_star(job.output(iteration_name(iteration, "data.star")), data_tables(optics, rows, group, a, pixel))
    write_star(job.output(iteration_name(iteration, "sampling.star")), sampling_table(info, pixel))
    optimiser = iteration_name(iteration, "optimiser.star")
    with atomic_path(job.output(optimiser)) as tmp:
        tmp.write_text(optimiser_text(job.rel, iteration, n_iterations, m, info, pixel))
    return f"{job.rel}{optimiser}"


# ----------------------------------------------------------------------------- reading back


@dataclass
class Continued:
    """An earlier iteration, read back to continue from it.

    Attributes
    ----------
    iteration : int
    model : ModelArrays
    state : ParticleState
        Its particles' assignments (klass 0-based; −1 = not yet assigned, iteration 0).
    image_names : list[str]
        rlnImageName of its data.star, in order.
    changes : dict
        Its optimiser's rlnSmallestChanges* (carried on).
    """

    iteration: int
    model: ModelArrays
    state: ParticleState
    image_names: list[str]
    changes: dict


def _value(table, label: str, path: object, kind=float):
    if label not in table.columns:
        raise BadInputError(f"{path}: lacks _{label}")
    return kind(str(table.columns[label][0]) if kind is str else float(table.columns[label][0]))


def _loop(tables: dict, name: str, path: object, labels: tuple[str, ...]) -> dict:
    t = tables.get(name)
    if t is None:
        raise BadInputError(f"{path}: lacks table data_{name}")
    missing = [lab for lab in labels if lab not in t.columns]
    if missing:
        raise BadInputError(f"{path}: table data_{name} lacks {', '.join('_' + m for m in missing)}")
    return t.columns


def read_continued(project: ProjectPaths, optimiser_rel: str, box: int) -> Continued:
    """Read ``run_itNNN_optimiser.star`` and the model, data and classes it names.

    Raises
    ------
    BadInputError, MissingFileError
        A file is missing, lacks a table or label, or its box differs from ``box``.
    """
    opt_path = project.read_path(optimiser_rel, "optimiser STAR")
    opt = read_star_raw(opt_path).get("optimiser_general")
    if opt is None:
        raise BadInputError(f"{optimiser_rel}: lacks table data_optimiser_general (is this a _optimiser.star file?)")
    iteration = int(_value(opt, "rlnCurrentIteration", optimiser_rel))
    model_rel = _value(opt, "rlnModelStarFile", optimiser_rel, str)
    data_rel = _value(opt, "rlnExperimentalDataStarFile", optimiser_rel, str)
    model_path = project.read_path(model_rel, "model STAR")
    tables = read_star_raw(model_path)
    general = tables.get("model_general")
    if general is None:
        raise BadInputError(f"{model_rel}: lacks table data_model_general")
    if int(_value(general, "rlnOriginalImageSize", model_rel)) != box:
        raise BadInputError(f"{model_rel}: its classes are {int(_value(general, 'rlnOriginalImageSize', model_rel))} px, "
                            f"the particles {box} px")
    pixel = _value(general, "rlnPixelSize", model_rel)
    classes = _loop(tables, "model_classes", model_rel, ("rlnReferenceImage", "rlnClassDistribution",
                                                         "rlnClassPriorOffsetX", "rlnClassPriorOffsetY"))
    k = len(classes["rlnReferenceImage"])
    stack = str(classes["rlnReferenceImage"][0]).split("@", 1)[-1]
    refs = read_mrc(project.read_path(stack, "class averages"))
    refs = refs[None] if refs.ndim == 2 else refs
    if refs.shape[0] < k or refs.shape[-1] != box:
        raise BadInputError(f"{stack}: holds {refs.shape[0]} images of {refs.shape[-1]} px; the model names {k} of {box} px")
    spectra = {lab: np.zeros((k, box // 2 + 1)) for lab in ("rlnSsnrMap", "rlnFourierCompleteness", "rlnReferenceSigma2",
                                                            "rlnReferenceTau2")}
    for c in range(k):
        t = _loop(tables, f"model_class_{c + 1}", model_rel, ("rlnSpectralIndex", "rlnSsnrMap", "rlnReferenceTau2"))
        idx = np.asarray(t["rlnSpectralIndex"], dtype=np.int64)
        for lab, arr in spectra.items():
            if lab in t:
                arr[c, idx[idx <= box // 2]] = np.asarray(t[lab], dtype=np.float64)[idx <= box // 2]
    noise_tables = sorted((n for n in tables if n.startswith("model_optics_group_")), key=lambda s: int(s.rsplit("_", 1)[1]))
    if not noise_tables:
        noise_tables = sorted((n for n in tables if n.startswith("model_group_")), key=lambda s: int(s.rsplit("_", 1)[1]))
    if not noise_tables:
        raise BadInputError(f"{model_rel}: lacks the noise spectra (data_model_group_N or data_model_optics_group_N)")
    noise = []
    for name in noise_tables:
        t = _loop(tables, name, model_rel, ("rlnSpectralIndex", "rlnSigma2Noise"))
        s2 = np.zeros(box // 2 + 1)
        idx = np.asarray(t["rlnSpectralIndex"], dtype=np.int64)
        s2[idx[idx <= box // 2]] = np.asarray(t["rlnSigma2Noise"], dtype=np.float64)[idx <= box // 2]
        noise.append(s2)
    noise_arr = np.array(noise)
    if not noise_tables[0].startswith("model_optics_group_"):
        noise_arr = noise_arr.mean(axis=0, keepdims=True)   # RELION 3.1: per micrograph group
    groups = tables.get("model_groups")
    scale = np.asarray(groups.columns.get("rlnGroupScaleCorrection", [1.0]), dtype=np.float64) if groups is not None else np.ones(1)
    res_angstrom = _value(general, "rlnCurrentResolution", model_rel)
    shell = round(box * pixel / res_angstrom) if math.isfinite(res_angstrom) and res_angstrom > 0 else 0
    model = ModelArrays(
        references=np.asarray(refs[:k], dtype=np.float32),
        class_prior=np.asarray(classes["rlnClassDistribution"], dtype=np.float64),
        prior_offsets_angstrom=np.stack([np.asarray(classes["rlnClassPriorOffsetX"], dtype=np.float64),
                                         np.asarray(classes["rlnClassPriorOffsetY"], dtype=np.float64)], axis=1),
        sigma2_offset_angstrom2=_value(general, "rlnSigmaOffsetsAngst", model_rel) ** 2,
        sigma2_noise=noise_arr,
        tau2=spectra["rlnReferenceTau2"], data_vs_prior=spectra["rlnSsnrMap"],
        fourier_coverage=spectra["rlnFourierCompleteness"], sigma2_class=spectra["rlnReferenceSigma2"],
        avg_norm=_value(general, "rlnNormCorrectionAverage", model_rel),
        scale=scale,
        iteration_size=int(_value(general, "rlnCurrentImageSize", model_rel)),
        resolution_shell=shell,
        log_likelihood=_value(general, "rlnLogLikelihood", model_rel),
        average_pmax=_value(general, "rlnAveragePmax", model_rel),
        accuracy_rotations_deg=np.asarray(classes.get("rlnAccuracyRotations", np.full(k, 999.0)), dtype=np.float64),
        accuracy_translations_angstrom=np.asarray(classes.get("rlnAccuracyTranslationsAngst", np.full(k, 999.0)),
                                                  dtype=np.float64),
    )
    data_path = project.read_path(data_rel, "data STAR")
    rows = _loop(read_star_raw(data_path), "particles", data_rel, ("rlnImageName",))
    n = tbl.n_rows(rows)

    def col(label: str, default: float) -> np.ndarray:
        return np.asarray(rows[label], dtype=np.float64) if label in rows else np.full(n, default)

    state = ParticleState(
        psi_deg=np.mod(col("rlnAnglePsi", 0.0), 360.0),
        offsets_px=np.stack([col("rlnOriginXAngst", 0.0), col("rlnOriginYAngst", 0.0)], axis=1) / pixel,
        klass=col("rlnClassNumber", 0.0).astype(np.int64) - 1,
        norm=col("rlnNormCorrection", 1.0),
        log_likelihood=col("rlnLogLikeliContribution", 0.0),
        pmax=col("rlnMaxValueProbDistribution", 0.0),
        n_significant=col("rlnNrOfSignificantSamples", 0.0).astype(np.int64),
    )
    changes = {lab: float(str(opt.columns[lab][0])) for lab in opt.columns if lab.startswith("rlnSmallestChanges")}
    return Continued(iteration, model, state, [str(v) for v in rows["rlnImageName"]], changes)


# ----------------------------------------------------------------------------- exact checkpoints

#: ``.cryopick_resume_itNNN.npz``: one iteration's exact model and particle state (module docstring).
CHECKPOINT = ".cryopick_resume_it{:03d}.npz"


def write_checkpoint(job, iteration: int, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` (name -> array, no objects) as iteration ``iteration``'s checkpoint, atomically and
    byte-reproducibly (an ``.npz`` whose members carry a fixed date)."""
    with atomic_path(job.output(CHECKPOINT.format(iteration))) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for name in sorted(arrays):
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with z.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.asarray(arrays[name]), allow_pickle=False)


def read_checkpoint(job, iteration: int) -> dict[str, np.ndarray] | None:
    """Iteration ``iteration``'s checkpoint, or None if there is none (or it is unreadable)."""
    path = job.file(CHECKPOINT.format(iteration))
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


def remove_checkpoints(job, before: int) -> None:
    """Delete the checkpoints of iterations before ``before``."""
    for path in job.path.glob(".cryopick_resume_it[0-9][0-9][0-9].npz"):
        if int(path.name[len(".cryopick_resume_it"):][:3]) < before:
            path.unlink(missing_ok=True)
