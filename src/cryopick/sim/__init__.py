"""Synthetic RELION projects with ground truth (``cryopick simulate``).

Modules: :mod:`~cryopick.sim.density` (pseudo-atomic 3D particles and exact
projections), :mod:`~cryopick.sim.junk` (ice, carbon, aggregates),
:mod:`~cryopick.sim.micrograph` (one micrograph), :mod:`~cryopick.sim.project`
(the project files: ``SimParams``, ``simulate_project``).
"""
