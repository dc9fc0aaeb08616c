"""Topaz training: RELION's AutoPick job, Topaz tab, "Perform topaz training? Yes" (relion_spec.md §6).

Parameters follow RELION's wrapper: the binning factor and the training radius come from the
particle diameter, π from the expected number of particles per micrograph, the held-out
micrographs are chosen as RELION chooses them (:mod:`cryopick.picking.topaz_split`), and the
particles' origin offsets are applied (:mod:`cryopick.stages.topaz_train_inputs`). Training is
topaz's (resnet8, 32 units, from the pretrained network; GE-binomial; Adam), in this process
and on micrographs binned in memory (:mod:`cryopick.picking.topaz_training`).

Outputs in the job directory:

``model_epoch1.sav`` … ``model_epochN.sav``
    The network after each epoch, in topaz's format (``topaz extract -m`` and RELION's wrapper
    read them); RELION picks with the last one.
``model_best.sav``
    The network that separates the held-out micrographs' particles best (highest held-out
    AUPRC) among the starting network (epoch 0), every epoch and the pretrained networks named
    by ``--compare-pretrained`` (default: topaz-pick's own, resnet16_u64). Training on few
    micrographs or noisy labels can make a network worse than the one it started from;
    picking with this file never loses what the held-out labels can see. The last epoch's
    model when nothing is held out.
``model_selection.txt``
    Every candidate's held-out figures (AUPRC, precision, loss) and the one chosen.
``model_training.txt``
    topaz's table: per epoch the training means and the held-out figures (loss, GE penalty,
    precision, adjusted precision, TPR, FPR, AUPRC); epoch 0 (held out only) is the starting
    network.
``training_curves.png``
    Loss, precision and AUPRC per epoch, training and held out; the pretrained networks'
    held-out AUPRC as lines, the chosen network marked.
``input_training_coords.star`` and ``<post(mic)>_train.star``
    The training coordinates per micrograph, as RELION writes them (origin offsets applied).

CPU: topaz's defaults (10 epochs × 1,000 updates of 256 crops) take hours on two cores; the
``cpu`` preset (:data:`cryopick.stages.presets.TUTORIAL_CPU`) fine-tunes the pretrained network
in a few minutes (see ``benchmarks/bench_topaz.py`` for what it reaches).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from cryopick.errors import BadInputError
from cryopick.io import nodes
from cryopick.io.atomic import atomic_path, write_text_atomic
from cryopick.io.coords import picks_columns, write_coordinate_list, write_coordinates
from cryopick.io.paths import ProjectPaths
from cryopick.io.topaz_model import BEST_MODEL, DEFAULT_PRETRAINED, PRETRAINED, load_pretrained, model_file_name, save_sav
from cryopick.picking.log import relion_round
from cryopick.picking.topaz_geometry import TopazGeometry
from cryopick.picking.topaz_split import split_micrographs
from cryopick.picking.topaz_training import EpochFigures, HeldOut, LabelledMicrograph, TrainingSettings, train
from cryopick.stages.base import Progress, Stage, StageContext, StageResult, read_micrographs, resolve_device
from cryopick.stages.fields import input_file, param, runtime
from cryopick.stages.topaz_pick import read_binned
from cryopick.stages.topaz_train_inputs import on_micrograph, particle_centres, pick_centres

#: The network training starts from (``topaz train``'s default: resnet8, 32 units, pretrained).
START_MODEL = "resnet8_u32"
TRAIN_COLUMNS = ("loss", "ge_penalty", "precision", "adjusted_precision", "tpr", "fpr")
TEST_COLUMNS = ("loss", "precision", "adjusted_precision", "tpr", "fpr", "auprc")


@dataclass(frozen=True)
class Params:
    """AutoPick job, "Topaz" tab: training."""

    micrographs_star: str = input_file(help="Input micrographs for autopick", cli="--i", node=nodes.MICROGRAPHS,
                                       job_option="fn_input_autopick")
    particle_diameter_angstrom: float = param(help="Particle diameter", cli="--diameter", unit="Å",
                                              relion="--particle_diameter", job_option="topaz_particle_diameter",
                                              minimum=1e-3)
    particles_star: str = input_file(help="Particles STAR file for training", cli="--particles", node=nodes.PARTICLES,
                                     job_option="topaz_train_parts", required=False)
    coords_star: str = input_file(help="Input picked coordinates for training", cli="--coords", node=nodes.COORDS,
                                  job_option="topaz_train_picks", required=False)
    nr_particles_per_micrograph: int = param(200, help="Nr of particles per micrograph", cli="--per-mic",
                                             relion="--topaz_nr_particles", job_option="topaz_nr_particles",
                                             minimum=1)
    test_ratio: float = param(0.2, help="Fraction of picks held out for testing", cli="--test-ratio",
                              relion="--topaz_test_ratio", minimum=0.0, maximum=0.9)
    nr_epochs: int = param(10, help="Training epochs", cli="--epochs", minimum=1, maximum=10000)
    epoch_size: int = param(1000, help="Updates per epoch", cli="--epoch-size", minimum=1)
    minibatch_size: int = param(256, help="Crops per update", cli="--minibatch-size", minimum=2, maximum=65536)
    learning_rate: float = param(0.0002, help="Adam learning rate", cli="--learning-rate", minimum=1e-9, maximum=1.0)
    downscale: int | None = param(None, help="Downscaling factor (default: from the diameter)", cli="--downscale",
                                  relion="--topaz_downscale", minimum=1)
    radius_px: int | None = param(None, help="Training radius in downscaled pixels (default: from the diameter)",
                                  cli="--radius", unit="px", relion="--topaz_radius", minimum=0)
    normalisation: Literal["gmm", "relion"] = param(
        "gmm", help="Micrograph normalisation: topaz preprocess's GMM, or RELION wrapper's mean/std",
        cli="--normalise")
    start_model: Literal["resnet8_u32", "resnet8_u64", "resnet16_u32", "resnet16_u64"] = param(
        START_MODEL, help="Pretrained network training starts from (topaz train's default: resnet8_u32)",
        cli="--start-model")
    compare_pretrained: str = param(
        DEFAULT_PRETRAINED, help="Pretrained networks (comma-separated; empty: none) that model_best.sav is also "
        "chosen from, by held-out AUPRC, with the starting network and every epoch", cli="--compare-pretrained")
    seed: int = param(1, help="Random seed (test split, normalisation, training)", cli="--seed", relion="--random_seed")
    threads: int = runtime(0, help="CPU threads for training (0: torch's default, all cores)", cli="--threads",
                           relion="--topaz_workers", minimum=0, maximum=1024)
    device: Literal["auto", "cpu", "cuda"] = runtime("auto", help="Compute device", cli="--device", relion="--gpu")

    def validate(self) -> None:
        if bool(self.particles_star) == bool(self.coords_star):
            raise BadInputError("topaz-train: give exactly one of --particles (a particles STAR) "
                                "and --coords (a coordinate-file list)")
        unknown = [n for n in compared_networks(self.compare_pretrained) if n not in PRETRAINED]
        if unknown:
            raise BadInputError(f"topaz-train --compare-pretrained: unknown pretrained network(s) {', '.join(unknown)}; "
                                f"choose from {', '.join(PRETRAINED)}")


def compared_networks(names: str) -> list[str]:
    """The pretrained networks named in ``--compare-pretrained`` (comma-separated), in order, without repeats."""
    return list(dict.fromkeys(n.strip() for n in names.split(",") if n.strip()))


@dataclass
class _Plan:
    names: list[str]
    centres: dict[str, np.ndarray]
    pixel_size_angstrom: float
    geometry: TopazGeometry
    train: list[str]
    test: list[str]
    ignored: int
    off_micrograph: int = 0

    @property
    def fingerprint_extra(self) -> dict:
        return {"pixel_size_used": self.pixel_size_angstrom}


def _prepare(params: Params, project: ProjectPaths) -> _Plan:
    names, apix = read_micrographs(project, params.micrographs_star)
    geometry = TopazGeometry.for_particle(params.particle_diameter_angstrom, apix, params.downscale, params.radius_px)
    known = set(names)
    given = particle_centres(project, params.particles_star, apix) if params.particles_star \
        else pick_centres(project, params.coords_star, known)
    centres, off = _training_centres(params, project, names, given)
    used = [m for m in names if m in centres]
    split = split_micrographs([len(centres[m]) for m in used], params.test_ratio, params.seed)
    ignored = sum(len(v) for m, v in given.items() if m not in known)
    resolve_device(params.device)
    return _Plan(names, centres, apix, geometry, [used[i] for i in split.train], [used[i] for i in split.test], ignored,
                 off)


def _training_centres(params: Params, project: ProjectPaths, names: list[str],
                      given: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    """The particles to train on: those on micrographs of the micrographs STAR, and on the micrograph itself.

    Raises
    ------
    BadInputError
        None is left; the message says whether the input names other micrographs or its particles
        lie off theirs.
    """
    source = params.particles_star or params.coords_star
    named = {m: given[m] for m in names if m in given}
    if not named:
        raise BadInputError(f"{source}: names none of the micrographs of {params.micrographs_star}, so none of its "
                            f"particles lie on them")
    centres, off = on_micrograph(project, {m: xy for m, xy in named.items() if len(xy)})
    if not centres:
        raise BadInputError(f"{source}: none of its particles lie on the micrographs of {params.micrographs_star}"
                            + (f" ({off} lie off the micrograph they are listed for)" if off else ""))
    return centres, off


def _labelled(ctx: StageContext, name: str, xy: np.ndarray, downscale: int) -> LabelledMicrograph:
    image = read_binned(ctx, name, downscale)
    binned = np.array([[relion_round(x / downscale), relion_round(y / downscale)] for x, y in xy], dtype=np.int64).reshape(-1, 2)
    inside = (binned[:, 0] >= 0) & (binned[:, 0] < image.shape[1]) & (binned[:, 1] >= 0) & (binned[:, 1] < image.shape[0])
    return LabelledMicrograph(image, binned[inside])


def _write_training_coords(ctx: StageContext, plan: _Plan) -> None:
    rels = []
    for name in plan.train + plan.test:
        rel, path = ctx.job.item_output(name, "_train.star")
        xy = plan.centres[name]
        write_coordinates(path, picks_columns(xy[:, 0], xy[:, 1], np.zeros(len(xy))))
        rels.append(rel)
    write_coordinate_list(ctx.job.output("input_training_coords.star"), plan.train + plan.test, rels)


def _table(rows: list[EpochFigures]) -> str:
    head = "\t".join(("epoch", "iter", "split", *TRAIN_COLUMNS, "auprc"))
    lines = [head]
    for r in rows:
        if r.epoch > 0:  # epoch 0, the starting network, has held-out figures only
            lines.append("\t".join([str(r.epoch), str(r.updates), "train", *(f"{r.train[c]:.6g}" for c in TRAIN_COLUMNS),
                                     "-"]))
        test = [f"{r.test['loss']:.6g}", "-", *(f"{r.test[c]:.6g}" for c in TEST_COLUMNS[1:])]
        lines.append("\t".join([str(r.epoch), str(r.updates), "test", *test]))
    return "\n".join(lines) + "\n"


@dataclass
class _Choice:
    """The candidates for ``model_best.sav`` so far and the best of them (highest held-out AUPRC)."""

    rows: list[tuple[str, dict]] = field(default_factory=list)
    best_label: str | None = None
    best_auprc: float = float("-inf")
    best_model: object = None
    best_epoch: int | None = None  # None: a pretrained network

    def consider(self, label: str, test: dict, model, epoch: int | None = None) -> None:
        """Add a candidate; keep a CPU copy of its network if it is the best so far (ties: the earlier)."""
        self.rows.append((label, test))
        if np.isfinite(test["auprc"]) and test["auprc"] > self.best_auprc:
            self.best_label, self.best_auprc, self.best_epoch = label, test["auprc"], epoch
            self.best_model = copy.deepcopy(model).cpu()

    def table(self) -> str:
        lines = ["network\theld_out_auprc\theld_out_precision\theld_out_loss\tchosen"]
        lines += [f"{label}\t{t['auprc']:.6g}\t{t['precision']:.6g}\t{t['loss']:.6g}\t"
                  f"{'yes' if label == self.best_label else 'no'}" for label, t in self.rows]
        return "\n".join(lines) + "\n"


def _plot(rows: list[EpochFigures], choice: _Choice, out) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r.epoch for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), dpi=80)
    for ax, key, title in zip(axes, ("loss", "precision", "auprc"), ("loss", "precision", "AUPRC (held out)")):
        if key != "auprc":
            ax.plot(epochs[1:], [r.train[key] for r in rows[1:]], "o-", label="training")
        ax.plot(epochs, [r.test[key] for r in rows], "s-", label="held out")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch (0: start)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for k, (label, test) in enumerate(row for row in choice.rows if row[0].startswith("pretrained")):
        chosen = " (chosen)" if label == choice.best_label else ""
        axes[2].axhline(test["auprc"], color=f"C{k + 2}", linestyle="--", linewidth=1, label=label + chosen)
    if choice.best_epoch is not None and np.isfinite(rows[choice.best_epoch].test["auprc"]):
        axes[2].plot([choice.best_epoch], [rows[choice.best_epoch].test["auprc"]], "o", markersize=11,
                     markerfacecolor="none", markeredgecolor="black", label="chosen")
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)


def _epoch_label(epoch: int, start_model: str) -> str:
    return f"epoch 0 (start: {start_model}, untrained)" if epoch == 0 else f"epoch {epoch}"


def _execute(ctx: StageContext, plan: _Plan) -> StageResult:
    import torch

    p, g = ctx.params, plan.geometry
    device = resolve_device(p.device)
    if p.threads > 0:
        torch.set_num_threads(p.threads)
    n_train = sum(len(plan.centres[m]) for m in plan.train)
    n_test = sum(len(plan.centres[m]) for m in plan.test)
    ctx.log(f" + Topaz training on {len(plan.train)} micrographs ({n_train} particles), "
            f"{len(plan.test)} held out ({n_test}); {plan.ignored} particles on other micrographs ignored, "
            f"{plan.off_micrograph} off their micrograph left out")
    ctx.log(f" + pixel size {plan.pixel_size_angstrom:g} A, diameter {p.particle_diameter_angstrom:g} A: binning "
            f"{g.downscale}, training radius {g.train_radius_px} px (binned); {p.nr_epochs} epochs x {p.epoch_size} "
            f"updates of {p.minibatch_size} crops from {p.start_model} on {device}")
    _write_training_coords(ctx, plan)
    loaded = ctx.for_each(plan.train + plan.test, lambda m: _labelled(ctx, m, plan.centres[m], g.downscale),
                          name=lambda m: m, threads=2)
    ctx.require_items(loaded)
    training, test = loaded.done[: len(plan.train)], loaded.done[len(plan.train):]
    settings = TrainingSettings(p.nr_epochs, p.epoch_size, p.minibatch_size, p.learning_rate,
                                p.nr_particles_per_micrograph, g.train_radius_px, p.seed)
    model = load_pretrained(p.start_model).to(device)
    rows: list[EpochFigures] = []
    choice = _Choice()
    for figures in train(model, training, test, settings, device):
        ctx.check_cancel()
        choice.consider(_epoch_label(figures.epoch, p.start_model), figures.test, figures.model, figures.epoch)
        if figures.epoch > 0:
            save_sav(copy.deepcopy(figures.model).cpu(), ctx.job.output(model_file_name(figures.epoch, p.nr_epochs)))
        rows.append(replace(figures, model=None))
        write_text_atomic(ctx.job.output("model_training.txt"), _table(rows))
        line = (f"epoch {figures.epoch}: " + ("" if figures.epoch == 0 else f"training loss {figures.train['loss']:.4f}, ")
                + f"held-out loss {figures.test['loss']:.4f}, precision {figures.test['precision']:.3f}, "
                f"AUPRC {figures.test['auprc']:.3f}" + (f" (the starting network, {p.start_model})" if figures.epoch == 0 else ""))
        ctx.log(" " + line)
        ctx.progress(Progress(figures.epoch / p.nr_epochs, f"epoch {figures.epoch}", line))
    if test:
        held_out = HeldOut.build(training, test, settings)
        for name in compared_networks(p.compare_pretrained):
            ctx.check_cancel()
            network = load_pretrained(name).to(device)
            figures = held_out.figures(network, device)
            ctx.log(f" pretrained {name}: held-out loss {figures['loss']:.4f}, precision {figures['precision']:.3f}, "
                    f"AUPRC {figures['auprc']:.3f}")
            choice.consider(f"pretrained {name}", figures, network)
    if choice.best_model is None:  # nothing held out: RELION's choice, the last epoch
        choice.best_label, choice.best_epoch = _epoch_label(p.nr_epochs, p.start_model), p.nr_epochs
        choice.best_model = copy.deepcopy(model).cpu()
    save_sav(choice.best_model, ctx.job.output(BEST_MODEL))
    write_text_atomic(ctx.job.output("model_selection.txt"), choice.table())
    with atomic_path(ctx.job.output("training_curves.png")) as tmp:
        _plot(rows, choice, tmp)
    last = rows[-1]
    last_rel = f"{ctx.job.rel}{model_file_name(p.nr_epochs, p.nr_epochs)}"
    best_rel = f"{ctx.job.rel}{BEST_MODEL}"
    ctx.log(f" + Written {last_rel} (the last epoch, which RELION picks with) and {best_rel}: {choice.best_label}, "
            + (f"held-out AUPRC {choice.best_auprc:.3f}" if test else "nothing held out"))
    ctx.log(f" + Pick with it: cryopick topaz-pick --model {best_rel}")
    return StageResult(
        job_dir=ctx.job.rel,
        output_nodes=[(f"{ctx.job.rel}input_training_coords.star", nodes.COORDS)],
        counts={"training_micrographs": len(plan.train), "test_micrographs": len(plan.test),
                "training_particles": n_train, "test_particles": n_test, "epochs": p.nr_epochs},
        summary={"test_auprc": last.test["auprc"],
                 "best_epoch": float("nan") if choice.best_epoch is None else choice.best_epoch,
                 "best_is_pretrained": float(choice.best_epoch is None),
                 "best_test_auprc": choice.best_auprc if test else float("nan"),
                 "start_test_auprc": rows[0].test["auprc"], "test_precision": last.test["precision"],
                 "test_loss": last.test["loss"], "train_loss": last.train["loss"], "downscale": g.downscale,
                 "radius_px": g.train_radius_px},
        figures=[f"{ctx.job.rel}training_curves.png"],
    )


run = Stage("topaz-train", _prepare, _execute,
            job_options=lambda p: {"do_log": False, "do_topaz": True, "do_topaz_train": True, "do_topaz_pick": False,
                                   "do_topaz_train_parts": bool(p.particles_star), "use_gpu": p.device != "cpu"}).run
