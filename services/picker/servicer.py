"""The picker service: subset selection, selection of new micrographs and LoG picking (its RPCs come from the stage registry)."""

from cryopick.services.runtime.roles import role

ROLE = role("picker")
