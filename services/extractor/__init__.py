"""The extractor service (`python -m cryopick.services.extractor --project-root DIR`)."""
