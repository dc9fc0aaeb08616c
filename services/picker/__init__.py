"""The picker service (`python -m cryopick.services.picker --project-root DIR`)."""
