"""Particle images from known 2D class averages: rotated, shifted, CTF-affected and noisy, with the truth.

Made independently of the classifier's own Fourier machinery: rotation and shift are done in
real space (``scipy.ndimage.map_coordinates``, cubic), the CTF is applied on the full FFT grid.
Conventions are RELION's: the image of class k at in-plane angle ψ and origin o is
``a_k(M_ψ r)`` moved by −o (so shifting the image by +o centres it again), with
``M_ψ = [[cos ψ, sin ψ], [−sin ψ, cos ψ]]`` acting on (x, y) = (column, row) offsets from the
box centre; the CTF multiplies the transform; images are normalised to zero mean and unit
variance of the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import map_coordinates

from cryopick.ctf import CtfParams, ctf_image


@dataclass(frozen=True)
class Particles2D:
    """Simulated particles and what is true about them.

    Attributes
    ----------
    images : ndarray, shape (n, B, B), float32
    classes : ndarray, shape (n,), int
        0-based class of each image.
    psi_deg : ndarray, shape (n,)
    origins_px : ndarray, shape (n, 2)
        (x, y): shifting the image by +origin centres it (RELION's rlnOriginX/Y in pixels).
    defocus_u_angstrom, defocus_v_angstrom, defocus_angle_deg : ndarray, shape (n,)
    """

    images: np.ndarray
    classes: np.ndarray
    psi_deg: np.ndarray
    origins_px: np.ndarray
    defocus_u_angstrom: np.ndarray
    defocus_v_angstrom: np.ndarray
    defocus_angle_deg: np.ndarray


def rotate_and_shift(image: np.ndarray, psi_deg: float, shift_px: tuple[float, float]) -> np.ndarray:
    """``image(M_ψ r)`` moved by ``shift_px`` (x, y), cubic interpolation, zero outside. Shape (B, B)."""
    b = image.shape[0]
    idx = np.arange(b, dtype=np.float64) - b // 2
    y, x = np.meshgrid(idx, idx, indexing="ij")
    x, y = x - shift_px[0], y - shift_px[1]
    c, s = np.cos(np.deg2rad(psi_deg)), np.sin(np.deg2rad(psi_deg))
    xs, ys = c * x + s * y, -s * x + c * y
    return map_coordinates(image, [ys + b // 2, xs + b // 2], order=3, mode="constant", cval=0.0)


def apply_ctf(images: np.ndarray, ctf: np.ndarray) -> np.ndarray:
    """Multiply the (centred) transforms of images (n, B, B) by CTF values (n, B, B//2+1)."""
    b = images.shape[-1]
    ft = np.fft.rfft2(np.fft.ifftshift(images, axes=(-2, -1)))
    return np.fft.fftshift(np.fft.irfft2(ft * ctf, s=(b, b)), axes=(-2, -1))


def simulate_particles(
    classes: np.ndarray,
    n: int,
    pixel_size_angstrom: float,
    rng: np.random.Generator,
    noise_sigma: float = 1.0,
    max_shift_px: float = 3.0,
    defocus_range_angstrom: tuple[float, float] = (8000.0, 20000.0),
    class_fractions: np.ndarray | None = None,
) -> Particles2D:
    """``n`` particle images of the (K, B, B) ``classes`` (white particles, RELION's sign).

    Each image: a random class (``class_fractions``, default uniform), a uniform random ψ, a
    uniform random shift within ``max_shift_px`` per axis, a random astigmatic defocus, the CTF
    at 300 kV / Cs 2.7 mm / Q0 0.1, plus white Gaussian noise of ``noise_sigma``.
    """
    k, b, _ = classes.shape
    p = np.full(k, 1.0 / k) if class_fractions is None else np.asarray(class_fractions, float) / np.sum(class_fractions)
    cls = rng.choice(k, size=n, p=p)
    psi = rng.uniform(0.0, 360.0, n)
    origins = rng.uniform(-max_shift_px, max_shift_px, (n, 2))
    du = rng.uniform(*defocus_range_angstrom, n)
    dv = du - rng.uniform(0.0, 500.0, n)
    angle = rng.uniform(0.0, 180.0, n)
    clean = np.stack([rotate_and_shift(classes[c], a, (-o[0], -o[1])) for c, a, o in zip(cls, psi, origins, strict=True)])
    ctf = ctf_image(b, b, pixel_size_angstrom, CtfParams(du, dv, angle), dtype=np.float64)
    images = apply_ctf(clean, ctf) + rng.normal(0.0, noise_sigma, (n, b, b))
    return Particles2D(images.astype(np.float32), cls, psi, origins, du, dv, angle)


#: Blob layouts of the test classes: (x, y, σx, σy) in units of box/32, amplitude 1.
_SHAPES = (
    ((0, 0, 8, 2), (7, 3, 1.5, 1.5)),                                                 # a rod with a knob
    tuple((6 * np.cos(a), 6 * np.sin(a), 1.3, 1.3) for a in np.deg2rad(np.arange(0, 181, 60))),  # a C of blobs
    ((0, 0, 3, 3), (5, 0, 1.2, 1.2)),                                                 # a compact disc + knob
    ((-6, -4, 2, 2), (6, -4, 1.2, 1.2), (0, 6, 2.5, 1.5)),                            # a lopsided triangle
    ((0, 0, 3.5, 3.5), (6, 0, 1.5, 1.5)),
    ((-3, -3, 4, 1.5), (3, 3, 4, 1.5)),
    ((0, -5, 2, 2), (0, 0, 1.5, 4), (4, 4, 2.5, 1.5)),
    ((-4, 4, 3, 3), (4, -4, 1.5, 1.5), (4, 4, 1.5, 1.5), (-4, -4, 1.5, 1.5)),
)


def known_classes(box_px: int, n_classes: int) -> np.ndarray:
    """Distinct, asymmetric 2D classes made of Gaussian blobs, within about 0.7·box, shape (K, B, B).

    Up to 8 layouts; more classes reuse them rotated by 45°.
    """
    s = box_px / 32.0
    idx = np.arange(box_px, dtype=np.float64) - box_px // 2
    y, x = np.meshgrid(idx, idx, indexing="ij")
    out = np.zeros((n_classes, box_px, box_px))
    for k in range(n_classes):
        shape = _SHAPES[k % len(_SHAPES)]
        for cx, cy, sx, sy in shape:
            out[k] += np.exp(-((x - cx * s) ** 2 / (2 * (sx * s) ** 2) + (y - cy * s) ** 2 / (2 * (sy * s) ** 2)))
        if k >= len(_SHAPES):
            out[k] = rotate_and_shift(out[k], 45.0 * (k // len(_SHAPES)), (0.0, 0.0))
    return out
