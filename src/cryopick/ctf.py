"""RELION's contrast transfer function (CTF) model.

The model is RELION's ``CTF::getCTF`` (src/ctf.h, src/ctf.cpp ``initialise``)::

    ctf(u) = scale · c(u) · exp(−B·|u|²/4)
    c(u)   = −sin(γ(u))                (or 1 where |γ| < π/2 with "intact until first peak")
    γ(u)   = −π·λ·z(u)·|u|² + (π/2)·Cs·λ³·|u|⁴ − φ_shift − atan(Q0/√(1−Q0²))
    z(u)   = U·cos²(θ−α) + V·sin²(θ−α)

with ``u`` the spatial frequency in Å⁻¹, ``θ`` its azimuth measured from the +x axis
(image columns) towards +y (rows), ``α`` = rlnDefocusAngle, ``U``/``V`` = rlnDefocusU/V
(Å, positive = underfocus), ``λ`` the relativistic electron wavelength (Å), ``Cs`` in Å
(mm × 1e7), ``φ_shift`` the phase-plate shift (rad) and ``Q0`` the amplitude contrast.

Sign convention: the CTF is positive at low frequency for underfocus, i.e. it applies
to images with *white* (positive) protein density, as RELION's references and its
contrast-inverted extracted particles. A raw micrograph, where particles are dark,
is ``background − (projection ⊛ psf)`` in this convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError

ArrayLike = float | np.ndarray


@dataclass(frozen=True)
class CtfParams:
    """CTF parameters as RELION stores them (STAR labels in brackets).

    Defocus fields (and phase shift, B-factor, scale) may also be 1-D arrays of equal
    length n: :func:`ctf_image` then returns a batch of n CTF images.

    Attributes
    ----------
    defocus_u_angstrom : float or ndarray (n,)
        [rlnDefocusU] Å, positive = underfocus.
    defocus_v_angstrom : float or ndarray (n,)
        [rlnDefocusV] Å.
    defocus_angle_deg : float or ndarray (n,)
        [rlnDefocusAngle] azimuth of the U axis, degrees from +x towards +y.
    voltage_kv : float
        [rlnVoltage] acceleration voltage, kV.
    cs_mm : float
        [rlnSphericalAberration] mm.
    amplitude_contrast : float
        [rlnAmplitudeContrast] fraction Q0 in [0, 1).
    phase_shift_deg : float or ndarray (n,)
        [rlnPhaseShift] degrees.
    bfactor_angstrom2 : float or ndarray (n,)
        [rlnCtfBfactor] Å².
    scale : float or ndarray (n,)
        [rlnCtfScalefactor].
    """

    defocus_u_angstrom: ArrayLike
    defocus_v_angstrom: ArrayLike
    defocus_angle_deg: ArrayLike
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.1
    phase_shift_deg: ArrayLike = 0.0
    bfactor_angstrom2: ArrayLike = 0.0
    scale: ArrayLike = 1.0


def electron_wavelength_angstrom(voltage_kv: float) -> float:
    """Relativistic electron wavelength λ (Å) at ``voltage_kv`` (RELION's formula).

    λ = 12.2643247 / √(V·(1 + 0.978466e-6·V)), V in volts; 300 kV → 0.019687 Å.
    """
    if voltage_kv <= 0:
        raise BadInputError(f"CTF: voltage must be positive (got {voltage_kv} kV)")
    v = voltage_kv * 1e3
    return float(12.2643247 / np.sqrt(v * (1.0 + 0.978466e-6 * v)))


def frequency_grid(ny: int, nx: int, pixel_size_angstrom: float, half: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Spatial frequencies (Å⁻¹) of the FFT grid.

    Returns
    -------
    fy : ndarray, shape (ny, 1)
        Row frequencies ``k / (ny·pixel)``, k = 0..ny/2, −(ny−1)/2..−1 (the Nyquist row
        positive, as in RELION's ``FOR_ALL_ELEMENTS_IN_FFTW_TRANSFORM2D`` for square images).
    fx : ndarray, shape (1, nx//2+1) if ``half`` else (1, nx)
        Column frequencies (``rfftfreq`` for the half plane).
    """
    fy = _signed_freq(ny, pixel_size_angstrom)[:, None]
    fx = (np.fft.rfftfreq(nx, d=pixel_size_angstrom) if half else _signed_freq(nx, pixel_size_angstrom))[None, :]
    return fy, fx


def _signed_freq(n: int, pixel_size_angstrom: float) -> np.ndarray:
    """``fftfreq`` but with the Nyquist index n/2 at +1/(2·pixel), as RELION's FFTW loops."""
    k = np.arange(n)
    k = np.where(k <= n // 2, k, k - n)
    return k / (n * pixel_size_angstrom)


def _as_batch(value: ArrayLike) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim > 1:
        raise BadInputError(f"CTF: parameter arrays must be scalars or 1-D (got shape {a.shape})")
    return a[..., None, None]  # scalar -> (1, 1); (n,) -> (n, 1, 1)


def ctf_gamma(
    ny: int, nx: int, pixel_size_angstrom: float, params: CtfParams, half: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Phase γ of the CTF and |u|² on the FFT grid.

    Returns
    -------
    gamma : ndarray, shape ([n,] ny, nx//2+1 or nx), float64
    u2 : ndarray, shape (ny, nx//2+1 or nx), float64, Å⁻²
    """
    if not 0.0 <= params.amplitude_contrast < 1.0:
        raise BadInputError(f"CTF: amplitude contrast must be in [0, 1) (got {params.amplitude_contrast})")
    if pixel_size_angstrom <= 0:
        raise BadInputError(f"CTF: pixel size must be positive (got {pixel_size_angstrom} Å)")
    lam = electron_wavelength_angstrom(params.voltage_kv)
    cs = params.cs_mm * 1e7
    fy, fx = frequency_grid(ny, nx, pixel_size_angstrom, half)
    u2 = fx * fx + fy * fy
    theta = np.arctan2(fy, fx)
    du, dv = _as_batch(params.defocus_u_angstrom), _as_batch(params.defocus_v_angstrom)
    alpha = np.deg2rad(_as_batch(params.defocus_angle_deg))
    mean, dev = 0.5 * (du + dv), 0.5 * (du - dv)
    z = mean + dev * np.cos(2.0 * (theta - alpha))
    q0 = params.amplitude_contrast
    k3 = np.arctan(q0 / np.sqrt(1.0 - q0 * q0))
    gamma = -np.pi * lam * z * u2 + 0.5 * np.pi * cs * lam**3 * u2 * u2 - np.deg2rad(_as_batch(params.phase_shift_deg)) - k3
    return gamma, u2


def ctf_image(
    ny: int,
    nx: int,
    pixel_size_angstrom: float,
    params: CtfParams,
    half: bool = True,
    intact_first_peak: bool = False,
    dtype: type = np.float32,
) -> np.ndarray:
    """CTF values on the FFT grid of an (ny, nx) image.

    Parameters
    ----------
    ny, nx : int
        Real-space image size (rows, columns).
    pixel_size_angstrom : float
    params : CtfParams
        Scalars, or 1-D arrays of length n for a batch (see :class:`CtfParams`).
    half : bool
        True: ``numpy.fft.rfft2`` layout, shape (ny, nx//2+1); False: ``fft2`` layout (ny, nx).
        Both unshifted (zero frequency at [0, 0]).
    intact_first_peak : bool
        Set the CTF to 1 (before B-factor and scale) where |γ| < π/2, as RELION's
        ``--ctf_intact_first_peak``.
    dtype : numpy dtype
        float32 (default) or float64.

    Returns
    -------
    ndarray, shape (ny, nx//2+1) / (ny, nx), or (n, ny, ·) for batched parameters
    """
    gamma, u2 = ctf_gamma(ny, nx, pixel_size_angstrom, params, half)
    c = -np.sin(gamma)
    if intact_first_peak:
        c = np.where(np.abs(gamma) < 0.5 * np.pi, 1.0, c)
    b = _as_batch(params.bfactor_angstrom2)
    if np.any(b != 0):
        c = c * np.exp(-0.25 * b * u2)
    c = c * _as_batch(params.scale)
    sizes = [
        np.size(v)
        for v in (
            params.defocus_u_angstrom,
            params.defocus_v_angstrom,
            params.defocus_angle_deg,
            params.phase_shift_deg,
            params.bfactor_angstrom2,
            params.scale,
        )
        if np.ndim(v) == 1
    ]
    shape = ((max(sizes),) if sizes else ()) + u2.shape
    c = np.broadcast_to(c, shape)
    return np.ascontiguousarray(c, dtype=dtype)
