"""The classifier service: 2D classification (its RPCs come from the stage registry)."""

from cryopick.services.runtime.roles import role

ROLE = role("classifier")
