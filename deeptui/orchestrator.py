"""`TaskOrchestrator`: the facade that validates, routes, caches, runs and reports workflows.

It owns the runs of one process: each `execute_workflow` (or `start_workflow`) is a new
run with its own `StateManager` and executor; the bus carries every change out. Its
steering methods (`cancel_task`, `retry_task`, `cancel_workflow`, `answer_approval`,
`apply_changes`, `invalidate_cache`, `clear_cache`) are the one way in: the app and the
CLI call them, nothing else changes a run.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from deeptui import bus as ev
from deeptui.checks import check_workflow
from deeptui.errors import UnknownRunError
from deeptui.scheduler.estimates import history_durations
from deeptui.scheduler.run import Run, RunActiveError, finished_beyond, new_run_id
from deeptui.scheduler.strategies import (
    EXECUTORS,
    explain_strategy_choice,
    recommend_strategy,
    with_recommended_strategy,
)
from deeptui.models import (
    ExecutionStrategy,
    OrchestrationConfig,
    TaskDefinition,
    TaskResult,
    WorkflowDefinition,
    WorkflowState,
)
from deeptui.routing import TaskRouter
from deeptui.runners.agent import AgentProvider, resolve_model, run_agent_task, simulated_model
from deeptui.runners.callables import CallableRegistry, run_callable_task
from deeptui.runners.context import Runner, TaskContext, TaskFailure
from deeptui.runners.shell import run_shell_task
from deeptui.state import ProgressCallback, ProgressTap, StateManager
from deeptui.workspace import ApprovalGate, RunWorkspace, apply_task_changes

if TYPE_CHECKING:
    from deeptui.conditions import Condition
    from deeptui.cache import CacheConfig, ResultCache
    from deeptui.metrics import WorkflowMetrics
    from deeptui.skills_manager import SkillManager


def _run_shell(ctx: TaskContext, agents: AgentProvider) -> Awaitable[Any]:
    """A shell task's runner: in its run's workspace unless the task names a cwd."""
    files = agents.workspaces.get(ctx.run_id)
    return run_shell_task(ctx, default_cwd=str(files.root) if files else None)


class TaskOrchestrator:
    """``TaskOrchestrator(agent=None, deps=None, config=None, *, cache_config=None,
    skill_directories=None, model=None, bus=None, store=None)``.

    With ``agent`` (as the orchestration guide does), every agent task runs on it; without,
    one pydantic-deep agent per agent type is built on ``model`` (a ``"provider:name"``
    string or a pydantic-ai Model), the offline `SimulatedModel` when none is named.
    """

    def __init__(
        self,
        agent: Any = None,
        deps: Any = None,
        config: OrchestrationConfig | None = None,
        *,
        cache_config: CacheConfig | None = None,
        skill_directories: list[dict[str, Any] | str] | None = None,
        model: Any = None,
        bus: ev.EventBus | None = None,
        store: Any = None,
    ) -> None:
        from deeptui.cache import create_cache
        from deeptui.skills_manager import SkillManager

        self.config = config or OrchestrationConfig()
        self.bus = bus or ev.EventBus()
        self.cache: ResultCache = create_cache(cache_config)
        self.skill_manager: SkillManager = SkillManager(skill_directories)
        self.router = TaskRouter(self.config.agent_routing)
        self.callables = CallableRegistry()
        self.agents = AgentProvider(agent, deps, self.config.agent_routing,
                                    resolve_model(model or self.config.model), self.skill_manager,
                                    offline=partial(simulated_model, self.config))
        self.approvals = ApprovalGate(self.bus, self.config.approvals)
        self.agents.approvals = self.approvals
        # task kind -> the runner of its body; the executors run tasks through it
        self.runners: dict[str, Runner] = {
            "agent": partial(run_agent_task, agents=self.agents),
            "shell": partial(_run_shell, agents=self.agents),
            "callable": partial(run_callable_task, registry=self.callables),
        }
        self.store = store
        self.validators: list[Callable[[WorkflowDefinition], None]] = []  # e.g. deeptui.cluster's
        self.cluster: Any = None  # where task bodies run: None here, or a ClusterConnection
        self.rng = random.Random(self.config.simulated_seed)
        self.retry_sleep: Callable[[float], Any] = asyncio.sleep  # tests swap in a fake clock
        self._checked: tuple[WorkflowDefinition, dict[str, Condition]] | None = None
        self._runs: dict[str, Run] = {}
        self._latest: dict[str, str] = {}
        if store is not None:
            store.attach(self)

    @property
    def model(self) -> Any:
        return self.agents.model  # the offline model is built when first asked for

    @property
    def model_name(self) -> str:
        return self.agents.model_name

    # -- registration ------------------------------------------------------

    def register_callable(self, name: str, fn: Callable[..., Any]) -> None:
        """Make ``fn(task, parameters, dependency_outputs)`` runnable as
        ``TaskDefinition(task_type="callable", parameters={"callable": name})``."""
        self.callables.register(name, fn)

    # -- validation --------------------------------------------------------

    def validate(self, workflow: WorkflowDefinition, *,
                 for_next_run: bool = False) -> dict[str, Condition]:
        """Everything that would stop a run, checked before anything runs
        (`deeptui.checks`). Returns the parsed conditions (task id -> Condition).

        ``for_next_run``: the next run started (if it is of this same definition object)
        takes these checks instead of checking again; only for a caller that starts it
        next and changes nothing in between (the CLI: 0.15 s at 100,000 tasks).
        """
        conditions = check_workflow(workflow, self.callables, self.router, self.skill_manager,
                                    self.validators)
        self._checked = (workflow, conditions) if for_next_run else None
        return conditions

    # -- running -----------------------------------------------------------

    def _new_run(self, workflow: WorkflowDefinition, run_id: str | None,
                 initial_results: dict[str, TaskResult] | None,
                 progress_callback: ProgressCallback | None) -> Run:
        checked, self._checked = self._checked, None  # (`validate`'s for_next_run: once)
        conditions = checked[1] if checked and checked[0] is workflow else self.validate(workflow)
        current = self._runs.get(run_id) if run_id else None
        if current is not None and current.task is not None and not current.task.done():
            raise RunActiveError(f"run '{run_id}' is still running; wait for it or cancel it first")
        run_id = run_id or new_run_id(workflow.id)
        sm = StateManager(workflow, run_id, self.bus, initial_results=initial_results,
                          log_ring_size=self.config.log_ring_size, model=self.model_name)
        progress = None
        if progress_callback is not None:  # a bus subscriber, until the run is forgotten
            progress = ProgressTap(progress_callback, sm.state)
            progress.remove = self.bus.tap(progress, queued=False)
        executor_cls = EXECUTORS[workflow.execution_strategy]
        executor = executor_cls(
            sm, self.router, self.runners, conditions,
            cache=None if self.cache.config.strategy == "none" else self.cache,
            callables=self.callables,
            model_name=self.model_name,
            parallel=self.config.enable_parallel_execution,
            rng=self.rng,
            sleep=lambda delay: self.retry_sleep(delay),
            durations=history_durations(self.store, workflow),  # one query, none without a store
        )
        run = Run(workflow, sm, executor, progress=progress)
        files = RunWorkspace.for_workflow(workflow)
        if files is not None:
            self.agents.workspaces[run_id] = files
            executor.files = lambda: files.fingerprint  # part of its agent tasks' cache keys
        self._runs[run_id] = run
        self._latest[workflow.id] = run_id
        return run

    async def _drive(self, run: Run, resumed: bool) -> WorkflowState:
        await run.executor.execute(resumed=resumed)
        if run.progress is not None:
            await run.progress.flush()
        self._forget_old_runs()
        return run.state

    def _forget_old_runs(self) -> None:
        """Keep at most ``config.keep_finished_runs`` finished runs in memory (an app open all
        day would otherwise hold every run's state and logs); the oldest go first."""
        for rid in finished_beyond(self._runs, self.config.keep_finished_runs):
            self.forget_run(rid)

    def start_workflow(
        self,
        workflow: WorkflowDefinition,
        progress_callback: ProgressCallback | None = None,
        *,
        run_id: str | None = None,
        initial_results: dict[str, TaskResult] | None = None,
    ) -> str:
        """Start a run in the background (the app's way); returns its run id."""
        run = self._new_run(workflow, run_id, initial_results, progress_callback)
        self._launch(run, resumed=bool(initial_results))
        return run.state.run_id

    def _launch(self, run: Run, *, resumed: bool) -> None:
        """Drive the run in the background: its first start, or a restart after a retry."""
        run.task = asyncio.get_running_loop().create_task(
            self._drive(run, resumed), name=f"deeptui-run:{run.state.run_id}")

    async def execute_workflow(
        self,
        workflow: WorkflowDefinition,
        progress_callback: ProgressCallback | None = None,
        *,
        run_id: str | None = None,
        initial_results: dict[str, TaskResult] | None = None,
        auto_strategy: bool = False,
    ) -> WorkflowState:
        """Run the workflow to its end and return its final state.

        ``auto_strategy=True`` runs it with the strategy `recommend_strategy` picks
        instead of its own (``state.execution_strategy`` says which ran).
        ``initial_results`` (used by resume) are kept as they are: completed
        tasks are not run again.
        """
        if auto_strategy:
            workflow = with_recommended_strategy(workflow)
        rid = self.start_workflow(workflow, progress_callback, run_id=run_id,
                                  initial_results=initial_results)
        return await self.wait(rid)

    async def wait(self, workflow_or_run_id: str) -> WorkflowState:
        """Wait until the run (the workflow's latest) has ended; returns its state."""
        run = self._run(workflow_or_run_id)
        while run.task is not None and not run.task.done():
            await asyncio.shield(run.task)
        return run.state

    async def execute_task(self, task: TaskDefinition, workflow_id: str = "adhoc") -> TaskResult:
        """Run one task outside any workflow (its own one-task run)."""
        # alone, it has no dependencies: their condition and trigger rule go with them
        alone = task.model_copy(update={"depends_on": [], "condition": None,
                                        "trigger_rule": "all_success"})
        workflow = WorkflowDefinition(id=workflow_id, name=workflow_id, tasks=[alone])
        state = await self.execute_workflow(workflow)
        return state.task_results[task.id]

    # -- looking up --------------------------------------------------------

    def _run(self, workflow_or_run_id: str) -> Run:
        run_id = self._latest.get(workflow_or_run_id, workflow_or_run_id)
        run = self._runs.get(run_id)
        if run is None:
            raise UnknownRunError(f"no run of workflow or run id '{workflow_or_run_id}'")
        return run

    def find_run(self, workflow_or_run_id: str) -> Run | None:
        try:
            return self._run(workflow_or_run_id)
        except UnknownRunError:
            return None

    def runs(self) -> list[Run]:
        return list(self._runs.values())

    def get_workflow_state(self, workflow_id: str) -> WorkflowState | None:
        run = self.find_run(workflow_id)
        return run.state if run else None

    def get_workflow_progress(self, workflow_id: str) -> dict[str, Any] | None:
        run = self.find_run(workflow_id)
        return run.state_manager.progress() if run else None

    def get_task_log(self, workflow_id: str, task_id: str) -> list[tuple[float, str, str]]:
        run = self.find_run(workflow_id)
        return run.state_manager.task_log(task_id) if run else []

    # -- steering ----------------------------------------------------------

    def cancel_workflow(self, workflow_id: str) -> bool:
        run = self.find_run(workflow_id)
        return run.executor.cancel_run() if run else False

    def cancel_task(self, workflow_id: str, task_id: str) -> bool:
        run = self.find_run(workflow_id)
        if run is None or task_id not in run.state.task_results:
            return False
        return run.executor.cancel_task(task_id)

    def retry_task(self, workflow_id: str, task_id: str) -> bool:
        """Re-run the task and its not-completed downstream, in the same run.

        Works while the run goes on and after it ended (the run restarts;
        ``await orchestrator.wait(workflow_id)`` for its new end).
        """
        run = self.find_run(workflow_id)
        if run is None or task_id not in run.state.task_results:
            return False
        reset = run.executor.retry(task_id)
        if reset is None:
            return False
        if not run.executor.active:  # it had ended: it starts again, from what was reset
            self._launch(run, resumed=True)
        return True

    def answer_approval(self, request_id: str, approve: bool, *, always: bool = False) -> bool:
        """Answer a tool call waiting for a person's approval (``always``: approve that tool
        for the rest of the run); False when no such request waits."""
        return self.approvals.answer(request_id, approve, always)

    # -- changes of writing tasks -------------------------------------------

    def apply_changes(self, workflow_id: str, task_id: str, *, discard: bool = False) -> bool:
        """Apply a writing task's diff to the real files (or drop it); False if there is none.

        Raises `ApplyConflictError`, naming the files, when they changed since the task
        read them (nothing is written then).
        """
        run = self.find_run(workflow_id)
        return run is not None and apply_task_changes(run.workflow, run.state_manager, task_id,
                                                       discard=discard)

    # -- strategy ----------------------------------------------------------

    def recommend_strategy(self, workflow: WorkflowDefinition) -> ExecutionStrategy:
        """The orchestration guide's strategy recommendations (`strategies.recommend_strategy`)."""
        return recommend_strategy(workflow)

    def explain_strategy_choice(self, workflow: WorkflowDefinition) -> str:
        """Why `recommend_strategy` picks its strategy, in a few lines of text."""
        return explain_strategy_choice(workflow)

    # -- cache -------------------------------------------------------------

    def get_cache_stats(self) -> dict[str, Any]:
        return self.cache.stats()

    def invalidate_cache(self, task_id: str) -> int:
        return self.cache.invalidate(task_id)

    def clear_cache(self) -> int:
        return self.cache.clear()

    # -- metrics -----------------------------------------------------------

    def get_workflow_metrics(self, workflow_id: str) -> WorkflowMetrics | None:
        from deeptui.metrics import WorkflowMetrics

        run = self.find_run(workflow_id)
        if run is None:
            return None
        metrics = WorkflowMetrics.from_state(run.workflow, run.state)
        metrics.slot_note = run.executor.slot_note()
        return metrics

    def get_aggregate_stats(self) -> dict[str, Any]:
        """Statistics across every finished run (the store's history when there is one)."""
        from deeptui.metrics import WorkflowMetrics, aggregate_stats

        if self.store is not None:
            return self.store.aggregate_stats()
        # metrics are derived from the runs' states on demand: nothing to keep in step
        return aggregate_stats(WorkflowMetrics.from_state(run.workflow, run.state)
                               for run in self._runs.values() if run.state.status.finished)

    def forget_run(self, run_id: str) -> bool:
        """Drop a finished run from memory (the store, if any, keeps it)."""
        run = self._runs.get(run_id)
        if run is None or run.executor.active:
            return False
        del self._runs[run_id]
        self.agents.workspaces.pop(run_id, None)
        if self._latest.get(run.workflow.id) == run_id:
            del self._latest[run.workflow.id]
        if run.progress is not None:
            run.progress.remove()
        return True

    def close(self) -> None:
        self.cache.close()
        if self.cluster is not None:
            self.cluster.close()


__all__ = ["TaskOrchestrator", "Run", "TaskFailure"]
