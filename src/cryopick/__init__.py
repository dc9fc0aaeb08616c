"""cryopick: the particle-picking chapter of a RELION single-particle project."""

__version__ = "0.1.0"
