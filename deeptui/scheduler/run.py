"""One run in a process: its definition, state, executor and the asyncio task driving it."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass

from deeptui.errors import DeeptuiError
from deeptui.models import WorkflowDefinition, WorkflowState
from deeptui.scheduler.ready_queue import ReadyQueueExecutor
from deeptui.state import ProgressTap, StateManager

_run_counter = itertools.count(1)


class RunActiveError(DeeptuiError):
    """A run id given to a new run belongs to a run that is still going."""


def new_run_id(workflow_id: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{workflow_id}@{stamp}-{next(_run_counter)}{random.randrange(16**3):03x}"


@dataclass
class Run:
    """One run: its definition, state and executor, and the asyncio task driving it."""

    workflow: WorkflowDefinition
    state_manager: StateManager
    executor: ReadyQueueExecutor
    task: asyncio.Task[WorkflowState] | None = None
    progress: ProgressTap | None = None

    @property
    def state(self) -> WorkflowState:
        return self.state_manager.state


def finished_beyond(runs: dict[str, Run], keep: int | None) -> list[str]:
    """The ids of the finished runs beyond the ``keep`` latest to finish (None: none)."""
    if keep is None:
        return []
    # (as timestamps: a naive time, a state built by hand, compares with an aware one)
    finished = sorted((run.state.completed_at.timestamp(), rid)  # type: ignore[union-attr]
                      for rid, run in runs.items()
                      if not run.executor.active and run.state.status.finished
                      and run.state.completed_at is not None)
    return [rid for _, rid in finished[:-keep]]  # the earliest to finish go first
