"""``cryopick extract``: extract particles as RELION's Extract job (relion_preprocess --extract)."""

from __future__ import annotations

import argparse

NAME = "extract"
HELP = "Extract particles from micrographs (RELION Extract job): stacks, particles.star."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--i", dest="micrographs", required=True, help="micrographs STAR with CTF values (project-relative)")
    p.add_argument("--coords", help="coordinate list autopick.star (project-relative)")
    p.add_argument("--o", dest="output", help="job directory, e.g. Extract/job007/ (default: next Extract/jobNNN/)")
    p.add_argument("--box", type=int, default=256, help="box size in micrograph pixels, even (default 256)")
    p.add_argument("--invert", action="store_true", help="invert contrast (white particles)")
    p.add_argument("--norm", action="store_true", help="normalise the background to mean 0, std 1")
    p.add_argument("--bg-diameter", type=float, default=-1, help="background circle diameter in box pixels (-1: 75%% of the box)")
    p.add_argument("--white-dust", type=float, default=-1, help="remove white dust beyond this many sigma (-1: off)")
    p.add_argument("--black-dust", type=float, default=-1, help="remove black dust beyond this many sigma (-1: off)")
    p.add_argument("--rescale", type=int, default=None, help="Fourier-rescale boxes to this even size")
    p.add_argument("--float16", action="store_true", help="write MRC mode 12 (half precision) stacks")
    p.add_argument("--min-fom", type=float, default=None, help="keep picks with figure of merit above this")
    p.add_argument("--threads", type=int, default=1, help="micrographs processed in parallel (default 1)")
    p.add_argument("--reextract", metavar="DATA_STAR", help="re-extract the particles of this _data.star")
    p.add_argument("--recenter", action="store_true", help="re-centre on the refined origins (with --reextract)")
    p.add_argument("--recenter-x", type=float, default=0.0, help="re-centre on this x of the reference (px)")
    p.add_argument("--recenter-y", type=float, default=0.0, help="re-centre on this y of the reference (px)")
    p.add_argument("--recenter-z", type=float, default=0.0, help="re-centre on this z of the reference (px)")
    p.add_argument("--reset-offsets", action="store_true", help="set origins to zero (with --reextract)")
    p.add_argument("--seed", type=int, default=0, help="seed for dust-replacement values (default 0)")
    p.add_argument("--project-root", default=".", help="project directory (default: current directory)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    import os
    import sys

    if "numpy" not in sys.modules:
        # this process extracts with its own threads and keeps BLAS single-threaded while it
        # does (cryopick.extraction.blas); telling OpenBLAS before it loads also spares the
        # start-up of its idle thread pool (~0.04 s of CPU). An explicit setting is kept.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from cryopick.stages import extract

    if not args.coords and not args.reextract:
        print("cryopick extract: error: give --coords AUTOPICK_STAR or --reextract DATA_STAR", file=sys.stderr)
        return 2
    params = extract.Params(
        micrographs_star=args.micrographs,
        coords_star=args.coords,
        box_size_px=args.box,
        invert_contrast=args.invert,
        normalise=args.norm,
        bg_diameter_px=args.bg_diameter,
        white_dust_sigma=args.white_dust,
        black_dust_sigma=args.black_dust,
        rescale_px=args.rescale,
        float16=args.float16,
        min_fom=args.min_fom,
        threads=args.threads,
        reextract_data_star=args.reextract,
        recenter=args.recenter,
        recenter_x_px=args.recenter_x,
        recenter_y_px=args.recenter_y,
        recenter_z_px=args.recenter_z,
        reset_offsets=args.reset_offsets,
        seed=args.seed,
    )
    job_dir = args.output
    if not job_dir:
        from cryopick.io.pipeline import allocate_job

        job_dir = allocate_job(args.project_root, "Extract")
    from cryopick.cli.progress import ProgressBar

    result = extract.run(params, args.project_root, job_dir, progress=None if args.quiet else ProgressBar("extract"))
    for name, reason in result.failures.items():
        print(f"warning: {name}: {reason}", file=sys.stderr)
    c = result.counts
    print(
        f"{c['particles']} particles from {c['micrographs']} micrographs"
        + (f"; {c['particles_off_micrograph']} picks off the micrograph skipped" if c["particles_off_micrograph"] else "")
        + (f"; {c['micrographs_failed']} micrographs failed" if c["micrographs_failed"] else "")
    )
    for path, _ in result.output_nodes:
        print(path)
    return 0
