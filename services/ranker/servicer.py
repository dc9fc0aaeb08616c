"""The ranker service: automatic 2D class selection (its RPCs come from the stage registry)."""

from cryopick.services.runtime.roles import role

ROLE = role("ranker")
