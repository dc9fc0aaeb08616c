"""Running the jobs of a flow one after another, with a record of what ran, was cached or stopped.

A step whose service answers UNIMPLEMENTED stops the chain: the flow ends **Completed**
with the state name ``Stopped`` and the message ``"<step>: <role> service says: ..."``;
the report lists the steps that were not run. Any other error fails the flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import get_run_logger
from prefect.states import Completed

from cryopick.flows import artifacts
from cryopick.flows.client import StepNotAvailable
from cryopick.flows.params import STEPS
from cryopick.flows.tasks import ProjectRef, for_project, job_task


class ChainStopped(Exception):
    """Raised by :meth:`Chain.run` when a step is not available; carries the message."""


@dataclass
class Chain:
    """The jobs of one flow run, in order.

    Parameters
    ----------
    project : ProjectRef
        The project.
    planned : list[str]
        Titles of every step the flow would run, in order (for the "not run" list).
    """

    project: ProjectRef
    planned: list[str]
    steps: list[dict[str, Any]] = field(default_factory=list)
    stopped_at: str = ""
    message: str = ""

    def run(self, key: str, params: Any, **files: str) -> dict[str, Any]:
        """Run flow step ``key`` (:data:`cryopick.flows.params.STEPS`) with ``params`` on the input ``files``.

        Returns its result dict; raises :class:`ChainStopped` (step not available) or the task's error.
        """
        task_obj = job_task(STEPS[key])
        state = for_project(task_obj, self.project)(project=self.project, params=params, files=files, return_state=True)
        name = task_obj.name
        run_id = str(state.state_details.task_run_id)
        if state.is_completed():
            result = state.result()
            cached = state.name == "Cached"
            self.steps.append({"step": name, "state": state.name, "job_dir": result["job_dir"], "cached": cached, "result": result, "task_run_id": run_id})
            return result
        try:
            state.result()
        except StepNotAvailable as exc:
            self.stopped_at, self.message = name, str(exc)
            self.steps.append({"step": name, "state": "Not available", "job_dir": "", "cached": False, "result": None, "task_run_id": run_id})
            raise ChainStopped(self.message) from None
        raise RuntimeError(f"{name}: task ended in state {state.name}: {state.message}")

    def not_run(self) -> list[str]:
        done = {s["step"] for s in self.steps}
        return [p for p in self.planned if p not in done]

    def report(self) -> dict[str, Any]:
        """JSON-able summary: steps (with results), where it stopped and why, what was not run."""
        return {
            "project_dir": self.project.project_dir,
            "steps": self.steps,
            "stopped_at": self.stopped_at,
            "message": self.message,
            "not_run": self.not_run() if self.stopped_at else [],
        }

    def finish(self, flow_label: str) -> Any:
        """Publish the summary artifact and return the flow's final state (or the report)."""
        from prefect.artifacts import create_table_artifact

        rows = [
            {"step": s["step"], "state": s["state"], "job directory": s["job_dir"],
             "counts": ", ".join(f"{k}={v}" for k, v in (s["result"] or {}).get("counts", {}).items())}
            for s in self.steps
        ]
        rows += [{"step": p, "state": "not run", "job directory": "", "counts": ""} for p in (self.not_run() if self.stopped_at else [])]
        create_table_artifact(key=artifacts.artifact_key(f"{flow_label}-summary"), table=rows,
                              description=self.message or f"{flow_label}: all steps finished")
        report = self.report()
        if self.stopped_at:
            get_run_logger().warning("stopped: %s; not run: %s", self.message, ", ".join(report["not_run"]) or "-")
            return Completed(name="Stopped", message=self.message, data=report)
        return report
