"""Synthetic RELION projects written to disk, built on the simulator (:mod:`cryopick.sim`).

:mod:`~cryopick.synthetic.project` writes a complete simulated project with ground truth
(``cryopick simulate``, ``make demo``, tests and benchmarks);
:mod:`~cryopick.synthetic.extraction` writes tiny structured inputs for the extraction tests,
its RELION parity tests and its benchmark.
"""
