"""Pseudo-atomic 3D particle models and their exact 2D projections.

A particle is a sum of isotropic 3D Gaussians ("pseudo-atoms"). The projection of a
3D Gaussian along z is a 2D Gaussian with the same σ, so a projection at any
orientation is an analytic sum of 2D Gaussians; on a pixel grid it factorises into
a product of 1-D Gaussians and is computed as one matrix product per particle.

Orientation convention (RELION): ``A = euler_matrix(rot, tilt, psi)`` (ZYZ, RELION's
``Euler_angles2matrix``); the projection image at ``(x, y)`` is ``∫ V(Aᵀ(x, y, z)) dz``,
so an atom at ``r`` lands at image position ``(A r)[:2]`` (x = column, y = row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Domains of the default asymmetric particle: centre (Å, in a ~170 Å envelope),
# spread (Å), number of pseudo-atoms. Chosen by hand to be clearly non-symmetric
# (an elongated body with an off-axis head and a bent arm).
_DOMAINS = (
    ((-42.0, -8.0, 0.0), 26.0, 110),
    ((8.0, 18.0, 8.0), 23.0, 90),
    ((46.0, -14.0, -6.0), 19.0, 70),
    ((4.0, -40.0, 26.0), 15.0, 45),
)
_ARM = ((46.0, -14.0, -6.0), (62.0, 28.0, 10.0), 24)  # from, to, atoms along the segment


@dataclass(frozen=True)
class PseudoAtomModel:
    """A 3D density as a sum of Gaussians.

    Attributes
    ----------
    positions_angstrom : ndarray, shape (n, 3)
        Atom centres (x, y, z) in Å, relative to the particle centre.
    sigma_angstrom : ndarray, shape (n,)
        Gaussian standard deviations (Å).
    weights : ndarray, shape (n,)
        Integrated mass of each Gaussian (arbitrary units; sum normalised to 1).
    """

    positions_angstrom: np.ndarray
    sigma_angstrom: np.ndarray
    weights: np.ndarray

    @property
    def radius_angstrom(self) -> float:
        """Largest distance of an atom centre from the origin plus 2σ."""
        r = np.linalg.norm(self.positions_angstrom, axis=1) + 2.0 * self.sigma_angstrom
        return float(r.max())


def _rotation_about_axis(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


#: Particle shapes :func:`make_particle_models` builds.
SHAPES = ("asymmetric", "globular", "elongated", "ring", "tetrahedral", "dumbbell")


def _symmetric_domains(shape: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Domains (centre Å (3,), spread Å (3,), atoms) of the shapes other than the asymmetric one.

    ``globular``: one large round body with three small surface bumps (apoferritin-like blobs
    in 2D); ``elongated``: four domains on a line, about 3:1 (a rod); ``ring``: seven domains
    on a circle (C7, a ring seen from the top, a bar from the side); ``tetrahedral``: four
    equal domains on a tetrahedron's vertices (a compact symmetric assembly); ``dumbbell``: two
    unequal round domains side by side.
    """
    if shape == "globular":
        bumps = rng.normal(size=(3, 3))
        bumps = 45.0 * bumps / np.linalg.norm(bumps, axis=1, keepdims=True)
        return [(np.zeros(3), np.full(3, 32.0), 260)] + [(b, np.full(3, 11.0), 25) for b in bumps]
    if shape == "elongated":
        return [(np.array([x, rng.normal(0, 4.0), rng.normal(0, 4.0)]), np.array([20.0, 22.0, 22.0]), 80)
                for x in (-60.0, -20.0, 20.0, 60.0)]
    if shape == "ring":
        phases = 2 * np.pi * np.arange(7) / 7
        return [(np.array([52.0 * np.cos(t), 52.0 * np.sin(t), 0.0]), np.array([12.0, 12.0, 20.0]), 45)
                for t in phases]
    if shape == "tetrahedral":
        vertices = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64) / np.sqrt(3.0)
        return [(40.0 * v, np.full(3, 20.0), 90) for v in vertices]
    if shape == "dumbbell":
        return [(np.array([-38.0, 0.0, 0.0]), np.full(3, 26.0), 150), (np.array([42.0, 0.0, 0.0]), np.full(3, 20.0), 90)]
    raise ValueError(f"unknown particle shape {shape!r}; expected one of {', '.join(SHAPES)}")


def make_particle_models(
    diameter_angstrom: float = 170.0, n_models: int = 1, seed: int = 2024, atom_sigma_angstrom: float = 6.0,
    shape: str = "asymmetric",
) -> list[PseudoAtomModel]:
    """Build ``n_models`` conformations of one particle.

    The default ``asymmetric`` particle is an elongated body with an off-axis head and a bent
    arm; model k > 1 has its fourth domain and arm swung about a hinge by 35°·(k−1), a clear
    conformational change at low resolution. The other :data:`SHAPES` (see
    :func:`_symmetric_domains`) swing their last domain the same way.

    Parameters
    ----------
    diameter_angstrom : float
        Target maximum extent; atom positions are scaled so that the model fits a
        sphere of this diameter (including 2σ of the atoms).
    n_models : int
        Number of conformations (>= 1).
    seed : int
        Seed of the atom positions (the same seed always gives the same particle).
    atom_sigma_angstrom : float
        Base σ of a pseudo-atom.
    """
    rng = np.random.default_rng(seed)
    if shape != "asymmetric":
        return _models_from_domains(_symmetric_domains(shape, rng), rng, diameter_angstrom, n_models,
                                    atom_sigma_angstrom)
    pos, sig, dom = [], [], []
    for d, (centre, spread, n) in enumerate(_DOMAINS):
        z = rng.normal(0.0, 1.0, size=(4 * n, 3))
        z = z[np.linalg.norm(z, axis=1) < 1.6][:n]  # truncated: no far outliers setting the size
        p = z * spread * np.array([1.0, 0.8, 0.7]) + np.asarray(centre)
        pos.append(p)
        sig.append(atom_sigma_angstrom * rng.uniform(0.8, 1.3, size=n))
        dom.append(np.full(n, d))
    a, b, n_arm = _ARM
    t = np.linspace(0.0, 1.0, n_arm)[:, None]
    pos.append((1 - t) * np.asarray(a) + t * np.asarray(b) + rng.normal(0, 2.0, size=(n_arm, 3)))
    sig.append(np.full(n_arm, atom_sigma_angstrom * 0.9))
    dom.append(np.full(n_arm, len(_DOMAINS)))
    positions = np.concatenate(pos)
    sigmas = np.concatenate(sig)
    domain = np.concatenate(dom)
    positions -= positions.mean(axis=0)
    moving = (domain == 3) | (domain == len(_DOMAINS))
    hinge = positions[domain == 1].mean(axis=0)
    return _conformations(positions, sigmas, moving, hinge, diameter_angstrom, n_models)


def _models_from_domains(domains: list[tuple[np.ndarray, np.ndarray, int]], rng: np.random.Generator,
                         diameter_angstrom: float, n_models: int, atom_sigma_angstrom: float) -> list[PseudoAtomModel]:
    """Atoms drawn inside each domain (truncated Gaussian); the last domain moves between conformations."""
    pos, sig, dom = [], [], []
    for d, (centre, spread, n) in enumerate(domains):
        z = rng.normal(0.0, 1.0, size=(4 * n, 3))
        pos.append(z[np.linalg.norm(z, axis=1) < 1.6][:n] * spread + centre)
        sig.append(atom_sigma_angstrom * rng.uniform(0.8, 1.3, size=len(pos[-1])))
        dom.append(np.full(len(pos[-1]), d))
    positions = np.concatenate(pos)
    positions -= positions.mean(axis=0)
    domain = np.concatenate(dom)
    moving = domain == len(domains) - 1
    return _conformations(positions, np.concatenate(sig), moving, positions[~moving].mean(axis=0), diameter_angstrom,
                          n_models)


def _conformations(positions: np.ndarray, sigmas: np.ndarray, moving: np.ndarray, hinge: np.ndarray,
                   diameter_angstrom: float, n_models: int) -> list[PseudoAtomModel]:
    """Model k swings the ``moving`` atoms about ``hinge`` by 35°·k; each model scaled to the diameter."""
    models = []
    for k in range(max(1, int(n_models))):
        p = positions.copy()
        if k:
            rot = _rotation_about_axis(np.array([0.3, 0.2, 1.0]), np.deg2rad(35.0 * k))
            p[moving] = (p[moving] - hinge) @ rot.T + hinge
            p -= p.mean(axis=0)
        radius = float((np.linalg.norm(p, axis=1) + 2.0 * sigmas).max())
        scale = 0.5 * diameter_angstrom / radius
        w = np.ones(len(p)) / len(p)
        models.append(PseudoAtomModel(p * scale, sigmas * scale, w))
    return models


def euler_matrix(rot_deg: float, tilt_deg: float, psi_deg: float) -> np.ndarray:
    """RELION's ZYZ rotation matrix ``A`` (``Euler_angles2matrix``), shape (3, 3)."""
    a, b, g = np.deg2rad([rot_deg, tilt_deg, psi_deg])
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return np.array(
        [
            [cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
            [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
            [sc, ss, cb],
        ]
    )


def random_orientations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniformly distributed orientations on SO(3) as RELION angles.

    Returns
    -------
    ndarray, shape (n, 3)
        (rot, tilt, psi) in degrees; rot, psi in [−180, 180), tilt in [0, 180]
        with cos(tilt) uniform.
    """
    rot = rng.uniform(-180.0, 180.0, size=n)
    tilt = np.rad2deg(np.arccos(rng.uniform(-1.0, 1.0, size=n)))
    psi = rng.uniform(-180.0, 180.0, size=n)
    return np.stack([rot, tilt, psi], axis=1)


def _gauss_1d(centres_px: np.ndarray, sigma_px: np.ndarray, n: int) -> np.ndarray:
    """Pixel-integrated 1-D Gaussians, shape (atoms, n), each summing to ~1."""
    from scipy.special import erf

    edges = np.arange(n + 1, dtype=np.float64)[None, :] - 0.5
    z = (edges - centres_px[:, None]) / (np.sqrt(2.0) * sigma_px[:, None])
    return 0.5 * np.diff(erf(z), axis=1)


def project(
    model: PseudoAtomModel,
    angles_deg: tuple[float, float, float],
    pixel_size_angstrom: float,
    box_px: int,
    centre_px: tuple[float, float] | None = None,
) -> np.ndarray:
    """Exact projection of ``model`` at one orientation onto a pixel grid.

    Parameters
    ----------
    model : PseudoAtomModel
    angles_deg : (rot, tilt, psi)
    pixel_size_angstrom : float
    box_px : int
        Output size (square).
    centre_px : (x, y), optional
        Where the particle centre lands (sub-pixel); default the box centre ``box//2``.

    Returns
    -------
    ndarray, shape (box_px, box_px), float32
        Projected mass per pixel (positive = protein); sums to ~1 when the
        particle lies inside the box.
    """
    return project_matrix(model, euler_matrix(*angles_deg), pixel_size_angstrom, box_px, centre_px)


def project_matrix(
    model: PseudoAtomModel,
    matrix: np.ndarray,
    pixel_size_angstrom: float,
    box_px: int,
    centre_px: tuple[float, float] | None = None,
) -> np.ndarray:
    """:func:`project` for an orientation given as its rotation matrix ``A`` (3, 3); shape (box_px, box_px)."""
    cx, cy = (box_px // 2, box_px // 2) if centre_px is None else centre_px
    xy = model.positions_angstrom @ np.asarray(matrix)[:2].T / pixel_size_angstrom
    s = model.sigma_angstrom / pixel_size_angstrom
    gx = _gauss_1d(xy[:, 0] + cx, s, box_px).astype(np.float32)
    gy = (_gauss_1d(xy[:, 1] + cy, s, box_px) * model.weights[:, None]).astype(np.float32)
    return gy.T @ gx
