"""Particle extraction with RELION's conventions (relion_spec.md section 3).

Modules
-------
boxes       integer box placement, edge replication, off-micrograph detection
normalise   background circle statistics, dust removal, ramp subtraction, (v - m) / sigma
particles   the per-micrograph pipeline: boxes -> rescale -> normalise -> invert; FOM filter
reextract   coordinates and origins for re-extraction from a refinement's _data.star
synthetic   tiny synthetic inputs for tests and benchmarks
"""
