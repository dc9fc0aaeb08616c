"""The topaz service: Topaz training and picking (its RPCs come from the stage registry)."""

from cryopick.services.runtime.roles import role

ROLE = role("topaz")
