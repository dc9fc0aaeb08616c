"""Class-level features for RELION 4's class ranker, from model.star values (relion_spec.md §5.2–5.3).

Resolution (with RELION's fallbacks), resolution weighted by ln(particle count) and relative
to the box, and the angular/translational accuracies (with RELION's defaults for small classes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cryopick.errors import BadInputError
from cryopick.ranking.checks import require_positive

#: Resolution (Å) given to a class with no resolved shell (RELION's "999" for unknown values).
UNRESOLVED_ANGSTROM = 999.0
#: Classes with this many particles or fewer get no features (score −999).
MIN_CLASS_PARTICLES = 10
#: Accuracies above this are "not estimated" in model.star.
UNKNOWN_ACCURACY = 99.0
#: Classes with at most this many particles and unknown accuracies get :data:`SMALL_CLASS_ACCURACY`.
SMALL_CLASS_PARTICLES = 100
#: (rotation in degrees, translation in Å) for such classes.
SMALL_CLASS_ACCURACY = (5.0, 8.0)


@dataclass(frozen=True)
class ModelClass:
    """What model.star says about one class: its ``model_classes`` row and ``model_class_<k>`` table.

    Attributes
    ----------
    class_distribution : float
        rlnClassDistribution.
    estimated_resolution_angstrom : float
        rlnEstimatedResolution (≤ 0 when unknown).
    accuracy_rotation_deg, accuracy_translation_angstrom : float
        rlnAccuracyRotations, rlnAccuracyTranslationsAngst (> 99 when not estimated).
    ssnr : ndarray, shape (n_shells,), optional
        rlnSsnrMap per shell, for the resolution fallback.
    shell_resolution_angstrom : ndarray, shape (n_shells,), optional
        rlnAngstromResolution per shell, for the resolution fallback.
    """

    class_distribution: float
    estimated_resolution_angstrom: float
    accuracy_rotation_deg: float
    accuracy_translation_angstrom: float
    ssnr: np.ndarray | None = None
    shell_resolution_angstrom: np.ndarray | None = None


@dataclass(frozen=True)
class ClassModelFeatures:
    """The class-level features of one class.

    Attributes
    ----------
    particle_nr : float
        rlnClassDistribution · number of particles (not rounded).
    estimated_resolution_angstrom : float
    weighted_resolution : float
        (1/resolution²)/ln(particle_nr), in 1/Å².
    relative_resolution : float
        Resolution / box side in Å.
    accuracy_rotation_deg, accuracy_translation_angstrom : float
    """

    particle_nr: float
    estimated_resolution_angstrom: float
    weighted_resolution: float
    relative_resolution: float
    accuracy_rotation_deg: float
    accuracy_translation_angstrom: float


def particle_count(class_distribution: float, n_particles: int) -> float:
    """RELION's particle number of a class: rlnClassDistribution · number of particles."""
    return class_distribution * n_particles


def is_ranked(particle_nr: float) -> bool:
    """Whether a class gets features and a score (more than 10 particles); others score −999."""
    return particle_nr > MIN_CLASS_PARTICLES


def estimated_resolution(cls: ModelClass, pixel_size_angstrom: float) -> float:
    """The class's resolution in Å: rlnEstimatedResolution, or a fallback when it is ≤ 0.

    The fallback (RELION's ``findResolution``) scans the shells from 1 upwards and takes the
    resolution of the shell *before* the first one with SSNR < 1; if SSNR never drops below 1
    (or the table is missing) it is 2·apix (Nyquist). An unresolved class (infinite resolution,
    as cryopick's Class2D writes when no shell has SSNR ≥ 1) gets :data:`UNRESOLVED_ANGSTROM`.
    """
    if cls.estimated_resolution_angstrom > 0:
        return float(min(cls.estimated_resolution_angstrom, UNRESOLVED_ANGSTROM))
    if cls.ssnr is not None and cls.shell_resolution_angstrom is not None:
        ssnr = np.asarray(cls.ssnr, dtype=np.float64)
        below = np.flatnonzero(ssnr[1:] < 1.0)
        if below.size:
            return float(min(np.asarray(cls.shell_resolution_angstrom, dtype=np.float64)[below[0]], UNRESOLVED_ANGSTROM))
    return 2.0 * pixel_size_angstrom


def class_accuracies(cls: ModelClass, particle_nr: float,
                     reestimated: tuple[float, float] | None = None) -> tuple[float, float]:
    """(rotation in degrees, translation in Å) accuracies of a class.

    model.star's values, unless either is above 99 (not estimated): then 5° and 8 Å for a
    class of at most 100 particles. For a larger class RELION re-estimates both from 100 of
    its particles; that is not done here: pass the result as ``reestimated``.

    Raises
    ------
    NotImplementedError
        The accuracies need re-estimating and ``reestimated`` is None.
    """
    rotation, translation = cls.accuracy_rotation_deg, cls.accuracy_translation_angstrom
    if rotation <= UNKNOWN_ACCURACY and translation <= UNKNOWN_ACCURACY:
        return float(rotation), float(translation)
    if particle_nr <= SMALL_CLASS_PARTICLES:
        return SMALL_CLASS_ACCURACY
    if reestimated is None:
        raise NotImplementedError(
            f"a class of {particle_nr:.0f} particles has no estimated accuracies in model.star "
            f"(rotation {rotation}, translation {translation}); RELION re-estimates them from 100 of its "
            "particles, which cryopick does not do yet"
        )
    return float(reestimated[0]), float(reestimated[1])


def class_model_features(cls: ModelClass, n_particles: int, box_px: int, pixel_size_angstrom: float,
                         reestimated_accuracies: tuple[float, float] | None = None) -> ClassModelFeatures:
    """The class-level features of one class (relion_spec.md §5.3, "Class-level").

    Parameters
    ----------
    cls : ModelClass
    n_particles : int
        Number of particles in the job's data.star.
    box_px, pixel_size_angstrom : int, float
        Class-average box side and pixel size (rlnOriginalImageSize, rlnPixelSize).
    reestimated_accuracies : (float, float), optional
        See :func:`class_accuracies`.

    Raises
    ------
    BadInputError
        The class has 10 particles or fewer (RELION gives it no features).
    """
    require_positive("the pixel size", pixel_size_angstrom)
    particle_nr = particle_count(cls.class_distribution, n_particles)
    if not is_ranked(particle_nr):
        raise BadInputError(
            f"a class of {particle_nr:.1f} particles is not ranked (RELION needs more than {MIN_CLASS_PARTICLES})"
        )
    resolution = estimated_resolution(cls, pixel_size_angstrom)
    rotation, translation = class_accuracies(cls, particle_nr, reestimated_accuracies)
    return ClassModelFeatures(
        particle_nr=particle_nr,
        estimated_resolution_angstrom=resolution,
        weighted_resolution=(1.0 / (resolution * resolution)) / math.log(particle_nr),
        relative_resolution=resolution / (box_px * pixel_size_angstrom),
        accuracy_rotation_deg=rotation,
        accuracy_translation_angstrom=translation,
    )
