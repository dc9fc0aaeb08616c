"""2D classification: RELION's Class2D job with the EM algorithm (relion_spec.md §4).

The job's tabs, in the GUI's words: the particles ("Input images STAR file", or an
optimiser file to continue from); "Number of classes", "Regularisation parameter T",
"Number of EM iterations"; "Mask diameter" with "Mask individual particles with zeros?",
"Limit resolution E-step to", "Center class averages?"; "Do CTF-correction?" and "Ignore CTFs
until first peak?"; "In-plane angular sampling", "Offset search range" and "step" (the fine
values; the coarse pass uses twice the steps, as ``relion_refine --psi_step 12 --offset_step 2
--oversampling 1`` for the GUI's 6° and 1 px).

What it does: iteration 0 estimates the noise spectrum and makes K references from random
subsets at random angles; each EM iteration then takes the expectation over classes ×
in-plane angles × translations and maximises (:mod:`cryopick.classification`). Every
iteration's files are written as relion_refine writes them (:mod:`cryopick.stages.class2d_files`);
the optimiser file last, so an interrupted job re-run with the same parameters resumes after
the last complete iteration. ``--continue`` starts from another job's optimiser file instead
(this job's files then count on from that iteration).

Where cryopick differs from RELION 3.1: the noise spectrum is estimated per optics group (as
RELION 4), its file also lists it per micrograph group (as 3.1 reads it); "Allow coarser
sampling?" is not implemented (refused); all optics groups must share box and pixel size.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from cryopick.classification.state import ParticleState
from cryopick.errors import BadInputError
from cryopick.io import nodes
from cryopick.io.paths import ProjectPaths
from cryopick.report.gallery import mosaic, write_class_gallery, write_png
from cryopick.stages import class2d_files as files
from cryopick.stages.base import Progress, Stage, StageContext, StageResult, resolve_device
from cryopick.stages.class2d_inputs import ParticleSet, read_images, read_particle_set
from cryopick.stages.fields import input_file, param, runtime

#: Particle sets up to this fraction of the machine's memory are read into RAM; larger ones are streamed.
IN_MEMORY_FRACTION = 0.25
GALLERY_PDF, GALLERY_PNG = "class_gallery.pdf", "class_gallery.png"


@dataclass(frozen=True)
class Params:
    """Class2D job: "I/O", "CTF", "Optimisation", "Sampling" and "Compute" tabs (EM algorithm)."""

    particles_star: str = input_file(help="Input images STAR file", cli="--i", node=nodes.PARTICLES, job_option="fn_img")
    continue_optimiser_star: str = input_file(help="Continue from this _optimiser.star", cli="--continue",
                                              node=nodes.OPTIMISER_CLASS2D, job_option="fn_cont", required=False)
    nr_classes: int = param(1, help="Number of classes", cli="--classes", relion="--K", relion_default=1,
                            job_option="nr_classes", minimum=1, maximum=10000)
    tau2_fudge: float = param(2.0, help="Regularisation parameter T", cli="--tau2-fudge", relion="--tau2_fudge",
                              relion_default=2.0, job_option="tau_fudge", minimum=1e-3)
    nr_iter: int = param(25, help="Number of EM iterations", cli="--iter", relion="--iter", relion_default=25,
                         job_option="nr_iter_em", minimum=1, maximum=1000)
    mask_diameter_angstrom: float = param(200.0, help="Mask diameter", cli="--mask-diameter", unit="Å",
                                          relion="--particle_diameter", relion_default=200.0,
                                          job_option="particle_diameter", minimum=1e-3)
    zero_mask: bool = param(True, help="Mask individual particles with zeros?", cli="--zero-mask",
                            relion="--zero_mask", relion_default=True, job_option="do_zero_mask")
    highres_limit_angstrom: float = param(-1.0, help="Limit resolution E-step to (-1: no limit)",
                                          cli="--limit-resol-estep", unit="Å", relion="--strict_highres_exp",
                                          relion_default=-1.0, job_option="highres_limit")
    center_classes: bool = param(True, help="Center class averages?", cli="--center-classes",
                                 relion="--center_classes", relion_default=True, job_option="do_center")
    ctf: bool = param(True, help="Do CTF-correction?", cli="--ctf", relion="--ctf", relion_default=True,
                      job_option="do_ctf_correction")
    ctf_intact_first_peak: bool = param(False, help="Ignore CTFs until first peak?", cli="--ignore-ctf-first-peak",
                                        relion="--ctf_intact_first_peak", relion_default=False,
                                        job_option="ctf_intact_first_peak")
    psi_step_degrees: float = param(6.0, help="In-plane angular sampling", cli="--psi-step", unit="deg",
                                    relion="--psi_step (x2: the coarse pass)", relion_default=6.0,
                                    job_option="psi_sampling", minimum=0.1, maximum=180.0)
    offset_range_px: float = param(5.0, help="Offset search range", cli="--offset-range", unit="px",
                                   relion="--offset_range", relion_default=5.0, job_option="offset_range", minimum=0.0)
    offset_step_px: float = param(1.0, help="Offset search step", cli="--offset-step", unit="px",
                                  relion="--offset_step (x2: the coarse pass)", relion_default=1.0,
                                  job_option="offset_step", minimum=0.1)
    allow_coarser_sampling: bool = param(False, help="Allow coarser sampling?", cli="--allow-coarser-sampling",
                                         relion="--allow_coarser_sampling", relion_default=False,
                                         job_option="allow_coarser")
    seed: int = param(1, help="Random seed", cli="--seed", relion="--random_seed")
    threads: int = runtime(1, help="Number of threads", cli="--threads", relion="--j", job_option="nr_threads",
                           minimum=1, maximum=1024)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device", relion="--gpu")

    def validate(self) -> None:
        if self.allow_coarser_sampling:
            raise BadInputError("'Allow coarser sampling?' is not implemented in cryopick; run with it off")
        if self.offset_step_px > 0 and self.offset_range_px > 0 and self.offset_step_px > self.offset_range_px:
            raise BadInputError(f"offset search step {self.offset_step_px:g} px is larger than the range "
                                f"{self.offset_range_px:g} px")


def relion_arguments(p: Params, job_rel: str, particles_star: str | None = None) -> list[str]:
    """``relion_refine`` options of RELION's GUI for the same Class2D job (EM), as ``getCommandsClass2DJob`` writes them."""
    words = ["--o", f"{job_rel}run", "--i", particles_star or p.particles_star, "--K", str(p.nr_classes),
             "--tau2_fudge", f"{p.tau2_fudge:g}", "--particle_diameter", f"{p.mask_diameter_angstrom:g}",
             "--flatten_solvent"]
    words += ["--zero_mask"] if p.zero_mask else []
    words += ["--strict_highres_exp", f"{p.highres_limit_angstrom:g}"] if p.highres_limit_angstrom > 0 else []
    words += ["--center_classes"] if p.center_classes else []
    words += (["--ctf"] + (["--ctf_intact_first_peak"] if p.ctf_intact_first_peak else [])) if p.ctf else []
    words += ["--oversampling", "1", "--psi_step", f"{2 * p.psi_step_degrees:g}", "--offset_range",
              f"{p.offset_range_px:g}", "--offset_step", f"{2 * p.offset_step_px:g}", "--norm", "--scale", "--pad", "2",
              "--pool", "3", "--j", str(p.threads), "--dont_combine_weights_via_disc", "--iter", str(p.nr_iter),
              "--random_seed", str(p.seed)]
    return words


def _job_options(p: Params) -> dict[str, Any]:
    """The GUI's Class2D options that the fields do not carry (EM, fixed compute settings)."""
    return {"do_em": True, "do_grad": False, "nr_iter_grad": 200, "dont_skip_align": True, "do_helix": False,
            "nr_pool": 3, "do_parallel_discio": True, "do_preread_images": False, "do_combine_thru_disc": False,
            "use_gpu": p.device == "cuda", "gpu_ids": "", "nr_mpi": 1, "scratch_dir": ""}


@dataclass
class _Plan:
    particles: ParticleSet
    continued: files.Continued | None
    fingerprint_extra: dict = field(default_factory=dict)


def _prepare(p: Params, project: ProjectPaths) -> _Plan:
    ps = read_particle_set(project, p.particles_star, p.ctf)
    width = ps.box_px * ps.pixel_size_angstrom
    if p.mask_diameter_angstrom > width:
        raise BadInputError(f"mask diameter {p.mask_diameter_angstrom:g} Å is larger than the box of {p.particles_star} "
                            f"({ps.box_px} px × {ps.pixel_size_angstrom:g} Å = {width:g} Å)")
    if p.nr_classes > ps.n:
        raise BadInputError(f"{p.nr_classes} classes for {ps.n} particles in {p.particles_star}")
    continued = None
    if p.continue_optimiser_star:
        continued = files.read_continued(project, p.continue_optimiser_star, ps.box_px)
        _check_continued(p, ps, continued)
    return _Plan(ps, continued, {"pixel_size_angstrom": ps.pixel_size_angstrom, "box_px": ps.box_px})


def _check_continued(p: Params, ps: ParticleSet, c: files.Continued) -> None:
    src = p.continue_optimiser_star
    k = c.model.references.shape[0]
    if k != p.nr_classes:
        raise BadInputError(f"{src}: its model has {k} classes, this job asks for {p.nr_classes}")
    if c.iteration >= p.nr_iter:
        raise BadInputError(f"{src}: iteration {c.iteration} is already at or past the {p.nr_iter} iterations asked for")
    if c.image_names != [str(v) for v in ps.rows["rlnImageName"]]:
        raise BadInputError(f"{src}: its data.star holds other particles than {p.particles_star} "
                            f"({len(c.image_names)} vs {ps.n}); continue with the particles it was run on")


def settings_of(p: Params) -> Any:
    """The classifier's :class:`~cryopick.classification.model.Settings` for these parameters."""
    from cryopick.classification.model import Settings

    return Settings(n_classes=p.nr_classes, tau2_fudge=p.tau2_fudge, n_iterations=p.nr_iter,
                    mask_diameter_angstrom=p.mask_diameter_angstrom, zero_mask=p.zero_mask,
                    highres_limit_angstrom=p.highres_limit_angstrom, center_classes=p.center_classes, ctf=p.ctf,
                    ctf_intact_first_peak=p.ctf_intact_first_peak, psi_step_deg=p.psi_step_degrees,
                    offset_range_px=p.offset_range_px, offset_step_px=p.offset_step_px, seed=p.seed)


def _images(ctx: StageContext, ps: ParticleSet) -> Any:
    """In memory when they fit in :data:`IN_MEMORY_FRACTION` of the RAM, else read from the stacks per batch."""
    from cryopick.io.particle_stacks import StreamedImages

    nbytes = ps.n * ps.box_px * ps.box_px * 4
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        total = 0
    if total and nbytes > IN_MEMORY_FRACTION * total:
        ctx.log(f" + {nbytes / 2**30:.1f} GiB of particles: streamed from their stacks")
        return StreamedImages(ctx.project, ps.stacks, ps.n, ps.box_px)
    ctx.log(f" + reading {ps.n} particles ({nbytes / 2**20:.0f} MiB) into memory")
    return read_images(ctx.project, ps)


def _particle_data(ps: ParticleSet, images: Any) -> Any:
    from cryopick.classification.model import ParticleData

    return ParticleData(
        images=images, pixel_size_angstrom=ps.pixel_size_angstrom,
        defocus_u=ps.column("rlnDefocusU", 0.0), defocus_v=ps.column("rlnDefocusV", 0.0),
        defocus_angle=ps.column("rlnDefocusAngle", 0.0), phase_shift=ps.column("rlnPhaseShift", 0.0),
        bfactor=ps.column("rlnCtfBfactor", 0.0), ctf_scale=ps.column("rlnCtfScalefactor", 1.0),
        voltage_kv=ps.optics_column("rlnVoltage"), cs_mm=ps.optics_column("rlnSphericalAberration"),
        amplitude_contrast=(ps.optics_column("rlnAmplitudeContrast") if "rlnAmplitudeContrast" in ps.optics
                            else np.full(ps.n, 0.1)),
        optics_group=ps.optics_index.copy(), group=ps.group.copy(), group_names=list(ps.group_names),
    )


def to_arrays(model: Any) -> files.ModelArrays:
    """A classifier :class:`~cryopick.classification.model.Model` as numpy arrays."""
    def np_(t):
        return t.detach().cpu().numpy().astype(np.float64)

    return files.ModelArrays(
        references=model.references.detach().cpu().numpy().astype(np.float32), class_prior=np_(model.class_prior),
        prior_offsets_angstrom=np_(model.prior_offsets_angstrom), sigma2_offset_angstrom2=float(model.sigma2_offset_angstrom2),
        sigma2_noise=np_(model.sigma2_noise), tau2=np_(model.tau2), data_vs_prior=np_(model.data_vs_prior),
        fourier_coverage=np_(model.fourier_coverage), sigma2_class=np_(model.sigma2_class), avg_norm=float(model.avg_norm),
        scale=np_(model.scale), iteration_size=int(model.iteration_size), resolution_shell=int(model.resolution_shell),
        log_likelihood=float(model.log_likelihood), average_pmax=float(model.average_pmax),
        accuracy_rotations_deg=np.asarray(model.accuracy_rotations_deg, dtype=np.float64),
        accuracy_translations_angstrom=np.asarray(model.accuracy_translations_angstrom, dtype=np.float64),
    )


def from_arrays(a: files.ModelArrays, grid: Any, settings: Any, n_groups: int, n_optics: int) -> Any:
    """The classifier's model from arrays read back (:func:`cryopick.stages.class2d_files.read_continued`)."""
    import torch

    from cryopick.classification.model import Model

    def t(x):
        return torch.as_tensor(np.asarray(x), dtype=grid.dtype, device=grid.device)

    noise = a.sigma2_noise if a.sigma2_noise.shape[0] == n_optics else np.repeat(a.sigma2_noise[:1], n_optics, axis=0)
    scale = a.scale if len(a.scale) == n_groups else np.ones(n_groups)
    shell = max(int(a.resolution_shell), settings.minres_map)
    return Model(
        references=t(a.references), class_prior=t(a.class_prior), prior_offsets_angstrom=t(a.prior_offsets_angstrom),
        sigma2_offset_angstrom2=float(a.sigma2_offset_angstrom2), sigma2_noise=t(noise), tau2=t(a.tau2),
        data_vs_prior=t(a.data_vs_prior), fourier_coverage=t(a.fourier_coverage), sigma2_class=t(a.sigma2_class),
        avg_norm=float(a.avg_norm), scale=t(scale), current_size=int(min(2 * (shell + settings.incr_size), grid.box)),
        resolution_shell=shell, log_likelihood=a.log_likelihood, average_pmax=a.average_pmax,
        iteration_size=a.iteration_size, accuracy_rotations_deg=a.accuracy_rotations_deg,
        accuracy_translations_angstrom=a.accuracy_translations_angstrom,
    )


def checkpoint_arrays(model: Any, state: ParticleState, changes: dict) -> dict[str, np.ndarray]:
    """The classifier's model and particle state, exactly, as named arrays (:func:`files.write_checkpoint`)."""
    import torch

    out: dict[str, np.ndarray] = {}
    tensors = []
    for f in dataclasses.fields(model):
        value = getattr(model, f.name)
        if torch.is_tensor(value):
            out[f"model.{f.name}"] = value.detach().cpu().numpy()
            tensors.append(f.name)
        else:
            out[f"model.{f.name}"] = np.asarray(value)
    out["model_tensors"] = np.array(tensors, dtype=str)
    for f in dataclasses.fields(state):
        out[f"state.{f.name}"] = np.asarray(getattr(state, f.name))
    for key, value in (changes or {}).items():
        out[f"changes.{key}"] = np.asarray(value, dtype=np.float64)
    return out


def from_checkpoint(arrays: dict[str, np.ndarray] | None, grid: Any, n_particles: int) -> tuple[Any, ParticleState, dict] | None:
    """``(model, state, changes)`` from :func:`checkpoint_arrays`'s output; None if it does not fit this job."""
    import torch

    from cryopick.classification.model import Model

    if arrays is None or "model_tensors" not in arrays:
        return None
    tensors = {str(x) for x in arrays["model_tensors"]}
    try:
        kw = {}
        for f in dataclasses.fields(Model):
            a = arrays[f"model.{f.name}"]
            kw[f.name] = torch.as_tensor(a, device=grid.device) if f.name in tensors else (a.item() if a.ndim == 0 else a)
        state = ParticleState(**{f.name: arrays[f"state.{f.name}"] for f in dataclasses.fields(ParticleState)})
    except KeyError:
        return None
    if len(state.klass) != n_particles:
        return None
    changes = {k[len("changes."):]: float(v) for k, v in arrays.items() if k.startswith("changes.")}
    return Model(**kw), state, changes


def _changes(before: Any, after: Any, pixel: float, smallest: dict) -> dict:
    """rlnChangesOptimal* between two iterations and the smallest so far (RELION's bookkeeping)."""
    n = len(after.klass)
    dpsi = np.abs(np.mod(after.psi_deg - before.psi_deg + 180.0, 360.0) - 180.0)
    orient = float(np.sqrt(np.mean(dpsi**2))) if n else 0.0
    offsets = float(np.sqrt(np.sum(((after.offsets_px - before.offsets_px) * pixel) ** 2) / (2 * max(n, 1))))
    klass = float(np.mean(after.klass != before.klass)) if n else 0.0
    out = {"rlnChangesOptimalOrientations": orient, "rlnChangesOptimalOffsets": offsets,
           "rlnChangesOptimalClasses": klass}
    for key, value in (("rlnSmallestChangesOrientations", orient), ("rlnSmallestChangesOffsets", offsets),
                       ("rlnSmallestChangesClasses", klass)):
        out[key] = min(value, smallest.get(key, math.inf))
    return out


def _write_gallery(ctx: StageContext, arrays: files.ModelArrays, counts: np.ndarray, width_angstrom: float,
                   heading: str) -> np.ndarray:
    """``class_gallery.pdf`` (labelled) and ``class_gallery.png`` (10 per row), by decreasing class distribution."""
    shells = [files.estimated_resolution_shell(d) for d in arrays.data_vs_prior]
    resolution = [width_angstrom / s if s > 0 else 999.0 for s in shells]
    order = write_class_gallery(ctx.job.output(GALLERY_PDF), arrays.references, arrays.class_prior, counts, resolution,
                                heading)
    write_png(ctx.job.output(GALLERY_PNG), mosaic(arrays.references, order))
    return order


def _last_complete_iteration(ctx: StageContext) -> str | None:
    """The newest ``run_itNNN_optimiser.star`` an earlier run of this job left (its iteration is complete)."""
    found = sorted(ctx.job.path.glob(f"{files.ROOT}_it[0-9][0-9][0-9]_optimiser.star"))
    return f"{ctx.job.rel}{found[-1].name}" if found else None


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    import torch

    from cryopick.classification.em import classify
    from cryopick.classification.grid import FourierGrid
    from cryopick.classification.initialise import initialise

    p, ps = ctx.params, plan.particles
    device = torch.device(resolve_device(p.device))
    torch.set_num_threads(max(1, int(p.threads)))
    settings = settings_of(p)
    ctx.log(f" + 2D classification of {ps.n} particles ({ps.box_px} px, {ps.pixel_size_angstrom:g} Å) into "
            f"{p.nr_classes} classes, {p.nr_iter} EM iterations, on {device}")
    data = _particle_data(ps, _images(ctx, ps))
    grid = FourierGrid(ps.box_px, device)
    relion_command = " ".join(relion_arguments(p, ctx.job.rel))
    options = {"rlnRandomSeed": int(p.seed), "rlnParticleDiameter": float(p.mask_diameter_angstrom),
               "rlnWidthMaskEdge": 5, "rlnDoZeroMask": int(p.zero_mask), "rlnDoSolventFlattening": 1,
               "rlnHighresLimitExpectation": float(p.highres_limit_angstrom), "rlnDoCorrectCtf": int(p.ctf),
               "rlnDoIgnoreCtfUntilFirstPeak": int(p.ctf_intact_first_peak), "rlnRefsAreCtfCorrected": int(p.ctf)}
    info = files.RunInfo(relion_command, options, 2 * p.psi_step_degrees, p.offset_range_px, 2 * p.offset_step_px)

    def write(iteration: int, model: Any, state: Any) -> str:
        info.perturbation = float(getattr(model, "sampling_perturbation", 0.0))
        files.write_checkpoint(ctx.job, iteration, checkpoint_arrays(model, state, info.changes))  # before the optimiser
        optimiser = files.write_iteration(ctx.job, iteration, p.nr_iter, to_arrays(model), state, info,
                                          ps.optics, ps.rows, ps.group, ps.group_names, ps.pixel_size_angstrom,
                                          p.tau2_fudge)
        # the previous iteration's is kept too: a re-run of a finished job removes its output nodes (this
        # iteration's data and optimiser files) first, and resumes from the iteration before
        files.remove_checkpoints(ctx.job, before=iteration - 1)
        return optimiser

    resume, exact = plan.continued, None
    if resume is None and ctx.reuse:
        last = _last_complete_iteration(ctx)
        if last is not None:
            resume = files.read_continued(ctx.project, last, ps.box_px)
            exact = from_checkpoint(files.read_checkpoint(ctx.job, resume.iteration), grid, ps.n)
            ctx.log(f" + resuming after iteration {resume.iteration} ({last}"
                    f"{', from its exact checkpoint' if exact else ''})")
    if resume is not None:
        if exact is not None:  # a killed run of this job: exactly where it was
            model, state, info.changes = exact
        else:  # --continue, or no checkpoint: from the STAR files' rounded values, as relion_refine does
            model = from_arrays(resume.model, grid, settings, len(ps.group_names), int(ps.optics_index.max()) + 1)
            state = resume.state
            info.changes = dict(resume.changes)
        first = resume.iteration + 1
        optimiser = f"{ctx.job.rel}{files.iteration_name(resume.iteration, 'optimiser.star')}"
        if plan.continued is not None:
            optimiser = write(resume.iteration, model, state)
    else:
        offsets = np.stack([ps.column("rlnOriginXAngst", 0.0), ps.column("rlnOriginYAngst", 0.0)], axis=1)
        state = ParticleState.initial(ps.n, offsets / ps.pixel_size_angstrom, ps.column("rlnNormCorrection", 1.0))
        model = initialise(data, state, settings, grid)
        optimiser = write(0, model, state)
        first = 1
    total = max(p.nr_iter - first + 1, 1)
    previous = {"state": state}

    def on_batch(iteration: int, done: int, n: int) -> None:
        ctx.check_cancel()
        ctx.progress(Progress(((iteration - first) + done / n) / total, f"iteration {iteration}"))

    def on_iteration(iteration: int, m: Any, s: Any) -> None:
        nonlocal optimiser
        info.changes = _changes(previous["state"], s, ps.pixel_size_angstrom, info.changes)
        previous["state"] = s
        optimiser = write(iteration, m, s)
        populated = int((m.class_prior > 0).sum())
        line = (f"Iteration {iteration}/{p.nr_iter}: resolution {ps.box_px * ps.pixel_size_angstrom / max(m.resolution_shell, 1):.1f} Å "
                f"(image size {m.iteration_size} px), {populated} populated classes, <Pmax> {m.average_pmax:.3f}, "
                f"{100 * info.changes['rlnChangesOptimalClasses']:.1f}% changed class")
        ctx.log(" " + line)
        ctx.progress(Progress((iteration - first + 1) / total, f"iteration {iteration}", line))

    model, state = classify(data, settings, model, state, first, grid, on_iteration=on_iteration, on_batch=on_batch)
    arrays = to_arrays(model)
    last_it = max(first - 1, p.nr_iter)
    data_rel = f"{ctx.job.rel}{files.iteration_name(last_it, 'data.star')}"
    counts = np.bincount(state.klass[state.klass >= 0], minlength=p.nr_classes)
    _write_gallery(ctx, arrays, counts, ps.box_px * ps.pixel_size_angstrom,
                   f"{ctx.job.rel}: iteration {last_it}, {ps.n} particles")
    ctx.log(f" + written {data_rel} and {optimiser}")
    return StageResult(
        job_dir=ctx.job.rel,
        output_nodes=[(data_rel, nodes.PARTICLES_CLASS2D), (optimiser, nodes.OPTIMISER_CLASS2D)],
        counts={"particles": ps.n, "classes": p.nr_classes, "populated_classes": int(np.count_nonzero(counts)),
                "iterations": last_it},
        summary={"resolution_angstrom": ps.box_px * ps.pixel_size_angstrom / max(arrays.resolution_shell, 1),
                 "average_pmax": arrays.average_pmax, "log_likelihood": arrays.log_likelihood,
                 "pixel_size_angstrom": ps.pixel_size_angstrom},
        figures=[f"{ctx.job.rel}{GALLERY_PDF}", f"{ctx.job.rel}{GALLERY_PNG}"],
    )


run = Stage("class2d", _prepare, _execute, job_options=_job_options).run
