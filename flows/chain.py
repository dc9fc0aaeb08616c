"""Running the jobs of a flow one after another, with a record of what ran, was cached or stopped.

A step whose service answers UNIMPLEMENTED stops the chain: the flow ends in a **Cancelled**
state named ``Incomplete`` (grey in the Prefect UI, not a green success) whose message says
where it stopped, why, and what was not run; the report (the state's data) lists the steps.
Any other error fails the flow. Each job waits for the jobs that wrote its inputs, so the run
graph shows how outputs feed the next jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import get_run_logger
from prefect.states import Cancelled

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
    #: Final task state of each job directory run so far (for the run graph's links).
    states: dict[str, Any] = field(default_factory=dict)

    def upstream(self, files: dict[str, str]) -> list[Any]:
        """States of the earlier jobs whose outputs are among ``files`` (the job's inputs)."""
        return [st for job_dir, st in self.states.items() if any(f and f.startswith(job_dir) for f in files.values())]

    def run(self, key: str, params: Any, **files: str) -> dict[str, Any]:
        """Run flow step ``key`` (:data:`cryopick.flows.params.STEPS`) with ``params`` on the input ``files``.

        Returns its result dict; raises :class:`ChainStopped` (step not available) or the task's error.
        """
        task_obj = job_task(STEPS[key])
        # wait_for links the job to the jobs that wrote its inputs: Prefect's run graph draws these edges
        state = for_project(task_obj, self.project)(project=self.project, params=params, files=files,
                                                    wait_for=self.upstream(files), return_state=True)
        name = task_obj.name
        run_id = str(state.state_details.task_run_id)
        if state.is_completed():
            result = state.result()
            cached = state.name == "Cached"
            self.steps.append({"step": name, "state": state.name, "job_dir": result["job_dir"], "cached": cached, "result": result, "task_run_id": run_id})
            self.states[result["job_dir"]] = state
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

        report = self.report()
        create_table_artifact(key=artifacts.artifact_key(f"{flow_label}-summary"), table=summary_rows(report),
                              description=self.headline())
        if self.stopped_at:
            get_run_logger().warning("%s", self.headline())
            return Cancelled(name="Incomplete", message=self.headline(), data=report)
        return report

    def headline(self) -> str:
        """One line: all steps finished, or where the run stopped, why, and what was not run."""
        if not self.stopped_at:
            return f"all {len(self.steps)} steps finished"
        return f"INCOMPLETE: stopped at {self.message}; not run: {', '.join(self.not_run()) or '-'}"


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary table: one row per step, each count its own column (blank where a job has none)."""
    keys = list(dict.fromkeys(k for s in report["steps"] for k in ((s["result"] or {}).get("counts") or {})))
    rows = []
    for s in report["steps"]:
        counts = (s["result"] or {}).get("counts") or {}
        rows.append({"step": s["step"], "state": s["state"], "job directory": s["job_dir"],
                     **{k: counts.get(k, "") for k in keys}})
    rows += [{"step": p, "state": "not run", "job directory": "", **dict.fromkeys(keys, "")} for p in report["not_run"]]
    return rows
