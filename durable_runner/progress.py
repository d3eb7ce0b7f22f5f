"""What one execution has done so far: the state behind the `progress` query and the `wait_progress` update.

Owned by the workflow and changed only by workflow code, so it is deterministic and rebuilt exactly on replay.
Each change also sets the workflow's "current details" so Temporal's UI shows the step in progress.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow

from durable_runner.contract import Progress, RunState

__all__ = ["ProgressTracker"]


class ProgressTracker:
    """Steps known so far (validate, plan, one per mutation, compensation), which is current, how many are done."""

    def __init__(self, operation_id: str) -> None:
        self._operation_id = operation_id
        self._state = RunState.VALIDATING
        self._steps: list[str] = ["validate", "plan"]
        self._current = 0
        self._completed = 0
        self._finished = False

    @property
    def completed(self) -> int:
        return self._completed

    @property
    def finished(self) -> bool:
        return self._finished

    def add_steps(self, names: Sequence[str]) -> None:
        self._steps.extend(names)

    def begin(self, state: RunState | None = None) -> None:
        """Start the next step (steps run one after the other, in the order they were added)."""
        self._current = min(self._completed, len(self._steps) - 1)
        if state is not None:
            self._state = state
        elif self._state in (RunState.VALIDATING, RunState.PLANNING):
            self._state = RunState.RUNNING
        self._publish()

    def end(self) -> None:
        """The current step finished, one way or the other."""
        self._completed += 1
        self._publish()

    def compensating(self, names: Sequence[str]) -> None:
        self._state = RunState.COMPENSATING
        self._steps.extend(names)

    def finish(self, ok: bool) -> None:
        self._state = RunState.SUCCEEDED if ok else RunState.FAILED
        self._finished = True
        self._publish()

    def snapshot(self) -> Progress:
        step = self._steps[self._current] if not self._finished else ""
        return Progress(
            operation_id=self._operation_id,
            state=self._state,
            step=step,
            step_index=self._current,
            completed=self._completed,
            steps=list(self._steps),
            finished=self._finished,
        )

    def _publish(self) -> None:
        if not workflow.in_workflow():  # unit tests drive the tracker directly
            return
        if self._finished:
            workflow.set_current_details(f"**{self._state.value}** after {self._completed} step(s)")
        else:
            workflow.set_current_details(
                f"step {self._current + 1}/{len(self._steps)}: **{self._steps[self._current]}** ({self._state.value})"
            )
