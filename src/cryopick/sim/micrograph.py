"""One simulated micrograph with its ground truth.

Image model (x = column, y = row; all noise σ scale as 1/pixel size, see
:class:`cryopick.sim.params.SimParams`)::

    mic = ice_mean(x, y)                                   thickness ramp + smooth field
          − CTF ⊛ B ⊛ (particle_contrast · projections)     particles and aggregates (dark)
          + CTF ⊛ B ⊛ ice_noise                             amorphous ice: Thon rings
          + shot_noise · √thickness(x, y)                   white
          + carbon_mask · (0.5 · CTF ⊛ ice_noise − carbon_step)
          − ice_depth · ice_mask                            contamination (very dark)

``CTF`` is RELION's (positive at low frequency for underfocus, applied to white
protein), so particles come out dark, as on real underfocused micrographs. The CTF
parameters returned are exactly those used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft
from threadpoolctl import threadpool_limits

from cryopick.ctf import CtfParams, ctf_image
from cryopick.sim.density import PseudoAtomModel, project, random_orientations
from cryopick.sim.junk import (
    AGGREGATE,
    BROKEN,
    CARBON,
    ICE,
    JunkItem,
    carbon_mask,
    ice_mask,
    sample_aggregate,
    sample_carbon,
    sample_ice,
)
from cryopick.sim.params import SimParams


@dataclass
class SimulatedMicrograph:
    """A micrograph and its truth.

    Attributes
    ----------
    image : ndarray, shape (ny, nx), float32
    ctf : CtfParams
        The CTF used (scalars).
    xy_px : ndarray, shape (n, 2)
        Particle centres (x = column, y = row), 0-based px.
    angles_deg : ndarray, shape (n, 3)
        (rot, tilt, psi) of each particle, RELION convention.
    class_number : ndarray, shape (n,), int
        1-based model (conformation) index.
    junk : list[JunkItem]
    layers : dict[str, ndarray]
        Only with ``keep_layers``: ``particles`` (noise-free CTF-filtered particle term
        as added to the image, shape (ny, nx)), ``projections`` (before the CTF, positive),
        ``ice_mean``.
    """

    image: np.ndarray
    ctf: CtfParams
    xy_px: np.ndarray
    angles_deg: np.ndarray
    class_number: np.ndarray
    junk: list[JunkItem]
    layers: dict[str, np.ndarray] = field(default_factory=dict)


def _single_threaded_blas():
    """Limit BLAS to one thread while micrographs are simulated in parallel."""
    return threadpool_limits(limits=1, user_api="blas")


def _smooth_field(rng: np.random.Generator, ny: int, nx: int, cells: int = 4) -> np.ndarray:
    """A smooth random field of unit-ish amplitude, shape (ny, nx), float32.

    ``cells × cells`` random amplitudes on Gaussian bumps spaced ny/cells, nx/cells apart
    (separable: one small matrix product).
    """
    coarse = rng.normal(0.0, 1.0, size=(cells, cells)).astype(np.float32)

    def basis(n: int) -> np.ndarray:
        centres = (np.arange(cells) + 0.5) * n / cells
        w = np.exp(-0.5 * ((np.arange(n)[:, None] - centres[None, :]) / (0.6 * n / cells)) ** 2)
        return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)

    return basis(ny) @ coarse @ basis(nx).T


def _place_particles(
    rng: np.random.Generator,
    params: SimParams,
    nx: int,
    ny: int,
    blobs: list[JunkItem],
    carbon: JunkItem | None,
) -> np.ndarray:
    """Rejection-sample non-overlapping particle centres away from edges and junk."""
    pix = params.pixel_size_angstrom
    r_px = 0.5 * params.diameter_angstrom / pix
    min_sep = params.min_separation_diameters * params.diameter_angstrom / pix
    target = params.particles_per_mic
    chosen: list[tuple[float, float]] = []
    attempts = 0
    max_attempts = 200 * max(target, 1)
    bx = np.array([b.x_px for b in blobs])
    by = np.array([b.y_px for b in blobs])
    br = np.array([b.radius_angstrom / pix for b in blobs])
    while len(chosen) < target and attempts < max_attempts:
        batch = 256
        attempts += batch
        xs = rng.uniform(r_px, nx - 1 - r_px, size=batch)
        ys = rng.uniform(r_px, ny - 1 - r_px, size=batch)
        for x, y in zip(xs, ys):
            if blobs and np.any(np.hypot(bx - x, by - y) < br + r_px):
                continue
            if carbon is not None and carbon.carbon_signed_distance(x, y) > -r_px:
                continue
            if chosen:
                c = np.asarray(chosen)
                if np.any(np.hypot(c[:, 0] - x, c[:, 1] - y) < min_sep):
                    continue
            chosen.append((x, y))
            if len(chosen) == target:
                break
    return np.asarray(chosen, dtype=np.float64).reshape(-1, 2)


def _render(
    canvas: np.ndarray,
    model: PseudoAtomModel,
    angles: np.ndarray,
    x: float,
    y: float,
    pixel_size_angstrom: float,
    box: int,
    pad: int,
) -> None:
    """Add one particle projection centred at (x, y) (un-padded px) into the padded canvas."""
    xi, yi = int(np.floor(x)), int(np.floor(y))
    half = box // 2
    img = project(model, tuple(angles), pixel_size_angstrom, box, centre_px=(half + x - xi, half + y - yi))
    r0, c0 = yi - half + pad, xi - half + pad
    r1, c1 = r0 + box, c0 + box
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r1, canvas.shape[0]), min(c1, canvas.shape[1])
    if rr0 < rr1 and cc0 < cc1:
        canvas[rr0:rr1, cc0:cc1] += img[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0]


def half_model(model: PseudoAtomModel, normal: np.ndarray) -> PseudoAtomModel:
    """The atoms of ``model`` on the positive side of the plane through its centre with this normal (3,)."""
    keep = model.positions_angstrom @ np.asarray(normal, dtype=np.float64) > 0
    return PseudoAtomModel(model.positions_angstrom[keep], model.sigma_angstrom[keep], model.weights[keep])


def _render_broken(canvas: np.ndarray, rng: np.random.Generator, params: SimParams, models: list[PseudoAtomModel],
                   box: int, pad: int) -> list[JunkItem]:
    """Add Poisson(broken_per_um2 · area) half particles anywhere on the micrograph; returns them as junk items."""
    nx, ny = params.mic_size_px
    pix = params.pixel_size_angstrom
    r_px = 0.5 * params.diameter_angstrom / pix
    items = []
    for _ in range(rng.poisson(params.broken_per_um2 * nx * ny * pix * pix / 1e8)):
        x, y = rng.uniform(r_px, nx - 1 - r_px), rng.uniform(r_px, ny - 1 - r_px)
        normal = rng.normal(size=3)
        model = half_model(models[int(rng.integers(len(models)))], normal)
        _render(canvas, model, random_orientations(rng, 1)[0], x, y, pix, box, pad)
        items.append(JunkItem(BROKEN, float(x), float(y), 0.5 * params.diameter_angstrom))
    return items


def simulate_micrograph(
    params: SimParams,
    models: list[PseudoAtomModel],
    index: int,
    has_carbon: bool,
    keep_layers: bool = False,
) -> SimulatedMicrograph:
    """Simulate micrograph ``index`` (0-based) of a project.

    Parameters
    ----------
    params : SimParams
    models : list of PseudoAtomModel
        Conformations (``class_number`` k uses ``models[k-1]``).
    index : int
        Micrograph index; the random stream is ``default_rng((params.seed, index))``.
    has_carbon : bool
        Put a carbon edge on this micrograph.
    keep_layers : bool
        Also return the noise-free particle layer etc. (for tests).
    """
    rng = np.random.default_rng((params.seed, index))
    nx, ny = params.mic_size_px
    pix = params.pixel_size_angstrom
    d_px = params.diameter_angstrom / pix
    area_um2 = nx * ny * pix * pix / 1e8
    noise_scale = 1.0 / pix  # σ of a 1 Å pixel -> this pixel size

    # --- CTF of this micrograph
    mean_def = rng.uniform(params.defocus_min_angstrom, params.defocus_max_angstrom)
    astig = rng.uniform(0.0, params.astigmatism_max_angstrom)
    ctf = CtfParams(
        defocus_u_angstrom=float(round(mean_def + 0.5 * astig, 2)),
        defocus_v_angstrom=float(round(mean_def - 0.5 * astig, 2)),
        defocus_angle_deg=float(round(rng.uniform(-180.0, 180.0), 3)),
        voltage_kv=params.voltage_kv,
        cs_mm=params.cs_mm,
        amplitude_contrast=params.amplitude_contrast,
        bfactor_angstrom2=params.bfactor_angstrom2,
    )

    # --- junk geometry
    carbon = sample_carbon(rng, nx, ny) if has_carbon else None
    ice = [sample_ice(rng, nx, ny, pix, params.diameter_angstrom) for _ in range(rng.poisson(params.ice_blobs_per_um2 * area_um2))]
    aggregates = []
    for _ in range(rng.poisson(params.aggregates_per_um2 * area_um2)):
        item, members = sample_aggregate(rng, nx, ny, pix, params.diameter_angstrom)
        if carbon is not None and carbon.carbon_signed_distance(item.x_px, item.y_px) > 0:
            continue
        aggregates.append((item, members))
    blobs = ice + [a for a, _ in aggregates]

    # --- particles
    xy = _place_particles(rng, params, nx, ny, blobs, carbon)
    n = len(xy)
    angles = random_orientations(rng, n)
    classes = rng.integers(1, len(models) + 1, size=n)

    # --- projections on a zero-padded canvas (no wrap-around of the CTF's delocalisation)
    pad = int(np.ceil(0.5 * d_px)) + 16
    shape = (sfft.next_fast_len(ny + 2 * pad, real=True), sfft.next_fast_len(nx + 2 * pad, real=True))
    canvas = np.zeros(shape, dtype=np.float32)
    box = int(np.ceil(1.3 * d_px)) + 8
    with _single_threaded_blas():  # many tiny matrix products: BLAS threads only contend
        for (x, y), a, k in zip(xy, angles, classes):
            _render(canvas, models[k - 1], a, x, y, pix, box, pad)
        for _, members in aggregates:
            member_angles = random_orientations(rng, len(members))
            member_class = rng.integers(1, len(models) + 1, size=len(members))
            for (x, y), a, k in zip(members, member_angles, member_class):
                _render(canvas, models[k - 1], a, x, y, pix, box, pad)
        broken = _render_broken(canvas, rng, params, models, box, pad) if params.broken_per_um2 > 0 else []
    disc_area_px = np.pi * (0.5 * d_px) ** 2
    canvas *= np.float32(params.particle_contrast * disc_area_px)

    # --- one CTF pass for the phase objects: −particles + amorphous ice (Thon rings)
    ctf_half = ctf_image(shape[0], shape[1], pix, ctf, half=True, dtype=np.float32)
    ctf_rms = max(float(np.sqrt(np.mean(ctf_half.astype(np.float64) ** 2))), 1e-6)
    ice_white = rng.standard_normal(size=shape, dtype=np.float32)
    ice_white *= np.float32(params.ice_noise * noise_scale / ctf_rms)
    crop = (slice(pad, pad + ny), slice(pad, pad + nx))
    layers: dict[str, np.ndarray] = {}
    if keep_layers:
        ft = sfft.rfft2(canvas, workers=-1)
        layers["particles"] = -sfft.irfft2(ft * ctf_half, s=shape, workers=-1)[crop]
        layers["projections"] = canvas[crop].copy()
    phase = sfft.irfft2(sfft.rfft2(ice_white - canvas, workers=-1) * ctf_half, s=shape, workers=-1)[crop]

    # --- ice thickness: linear ramp along a random direction + smooth field
    theta = rng.uniform(0.0, 2 * np.pi)
    gx = ((np.arange(nx, dtype=np.float32) - nx / 2) * np.float32(np.cos(theta)) / max(nx, ny))[None, :]
    gy = ((np.arange(ny, dtype=np.float32) - ny / 2) * np.float32(np.sin(theta)) / max(nx, ny))[:, None]
    cells = 2 + int(max(nx, ny) * pix // 3000.0)  # undulations on a ~0.3 µm scale or larger
    thickness = 1.0 + params.ice_gradient * (gx + gy + 0.15 * _smooth_field(rng, ny, nx, cells))
    thickness = np.clip(thickness, 0.3, None).astype(np.float32)
    shot_sigma = np.float32(noise_scale)
    ice_mean = -1.0 * shot_sigma * (thickness - 1.0)
    image = ice_mean + phase
    shot = rng.standard_normal(size=(ny, nx), dtype=np.float32)
    shot *= shot_sigma * np.sqrt(thickness)
    image += shot

    # --- carbon: darker, with stronger amorphous texture, sharp edge
    if carbon is not None:
        cm = carbon_mask(carbon, nx, ny)
        # carbon region: the amorphous texture 1.5x stronger (particles keep off the carbon)
        image += cm * (np.float32(0.5) * phase - np.float32(1.2) * shot_sigma)

    # --- ice contamination: very dark blobs
    for item in ice:
        depth = np.float32(rng.uniform(4.0, 8.0) * shot_sigma)
        image -= depth * ice_mask(item, nx, ny)

    if keep_layers:
        layers["ice_mean"] = ice_mean
    junk = ([carbon] if carbon is not None else []) + ice + [a for a, _ in aggregates] + broken
    return SimulatedMicrograph(
        image=image.astype(np.float32),
        ctf=CtfParams(ctf.defocus_u_angstrom, ctf.defocus_v_angstrom, ctf.defocus_angle_deg, ctf.voltage_kv,
                      ctf.cs_mm, ctf.amplitude_contrast),
        xy_px=xy,
        angles_deg=angles,
        class_number=classes.astype(np.int64),
        junk=junk,
        layers=layers,
    )


__all__ = ["SimulatedMicrograph", "simulate_micrograph", "half_model", "ICE", "CARBON", "AGGREGATE", "BROKEN"]
