"""Particle pickers (Laplacian-of-Gaussian) and peak search."""
