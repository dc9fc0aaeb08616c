"""Refuse to run on a deployment's placeholder project.

``prefect.yaml`` ships its deployments with ``project_dir: /data/projects/CHANGE_ME``: a facility
copies a deployment per project and sets the real directory. A run that still names the
placeholder (a schedule turned on too early, a run started from the UI without changing it) must
not fail 144 times a day with a missing-file error: it ends **Cancelled**, before any job, with
a message that says what to set.
"""

from __future__ import annotations

from typing import Any

#: The marker in the shipped deployments' ``project_dir``.
PLACEHOLDER = "CHANGE_ME"


def is_placeholder(project_dir: str) -> bool:
    """``project_dir`` is (inside) the shipped deployments' placeholder project."""
    return PLACEHOLDER in project_dir


def placeholder_refusal(project_dir: str, deployment_hint: str = "") -> str | None:
    """Why a run must not start, or None when ``project_dir`` names a real project.

    Parameters
    ----------
    project_dir : str
        The flow's ``project_dir`` parameter.
    deployment_hint : str
        What to edit, e.g. ``"prefect.yaml"``; appended to the message.
    """
    if not is_placeholder(project_dir):
        return None
    where = f" ({deployment_hint})" if deployment_hint else ""
    return (f"project_dir is still the placeholder {project_dir!r}: set the deployment's project_dir (and "
            f"service_project) to a real RELION project{where}, then run it again; no job was run")


def refused_run(project_dir: str) -> Any:
    """A Cancelled state for a run on the placeholder project, or None to go on (logs the refusal)."""
    message = placeholder_refusal(project_dir, "one deployment per project, see README 'Facility deployment'")
    if message is None:
        return None
    from prefect import get_run_logger
    from prefect.states import Cancelled

    get_run_logger().error(message)
    return Cancelled(message=message)
