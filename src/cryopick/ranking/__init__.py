"""Automatic 2D class selection (RELION's class ranker, relion_spec.md section 5)."""
