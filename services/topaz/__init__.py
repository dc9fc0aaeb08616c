"""The topaz service (`python -m cryopick.services.topaz --project-root DIR`)."""
