"""The ranker service (`python -m cryopick.services.ranker --project-root DIR`)."""
