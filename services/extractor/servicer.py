"""The extractor service: particle extraction and re-extraction (its RPCs come from the stage registry)."""

from cryopick.services.runtime.roles import role

ROLE = role("extractor")
