"""The classifier service (`python -m cryopick.services.classifier --project-root DIR`)."""
