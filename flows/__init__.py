"""Prefect flows: the particle-picking chain (``particle_picking``), facility processing of new
micrographs (``facility``), their job tasks over gRPC (``tasks``, ``client``), content-aware
caching (``caching``), artifacts, and the local launcher behind ``cryopick run`` (``launch``).
"""
