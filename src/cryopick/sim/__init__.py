"""The simulator: synthetic micrographs with ground truth, as arrays (no files).

Modules: :mod:`~cryopick.sim.params` (``SimParams`` and presets), :mod:`~cryopick.sim.density`
(pseudo-atomic 3D particles and exact projections), :mod:`~cryopick.sim.junk` (ice, carbon,
aggregates), :mod:`~cryopick.sim.micrograph` (one micrograph). Writing a project to disk is
:mod:`cryopick.synthetic.project` (``cryopick simulate``).
"""
