"""Particle extraction with RELION's conventions (relion_spec.md section 3).

Modules
-------
boxes       integer box placement, edge replication, off-micrograph detection
normalise   background circle statistics, dust removal, ramp subtraction, (v - m) / sigma
particles   the per-micrograph pipeline: boxes -> rescale -> normalise -> invert; FOM filter
rescale     RELION's Fourier crop as two small matrix products per box
reextract   coordinates and origins for re-extraction from a refinement's _data.star
columns     STAR tables as column dictionaries: the pandas-free reading path of the stage
blas        keeps OpenBLAS single-threaded while micrographs run in parallel threads
"""
