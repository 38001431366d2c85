"""The ready-queue scheduler every strategy runs on: one run, its limits, cancel and retry.

The scheduler keeps plain dicts in its hot path (like dask's local
scheduler): how many dependencies of each task are unfinished, a heap of ready
tasks ordered by priority, then longest remaining path (in seconds when the history
has the tasks' past durations, else in tasks), then definition order,
and the asyncio tasks running. A task finishing decrements its dependents'
counts and starts what became ready, right in its done callback.

Strategies (`deeptui.scheduler.strategies`) differ only in how they start ready tasks,
through two hooks: ``eligible`` and ``on_restart``. Every run is bounded by
``max_parallel_tasks`` and by each agent type's ``max_concurrent_tasks``.

One task's attempts (cache, retries, timeouts) are `deeptui.scheduler.attempts`;
its body is run by the runner its kind names in ``runners`` (kind ->
async callable of a `TaskContext`), a registry the orchestrator builds: the
executor never calls back into the orchestrator.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from deeptui.graph import WorkflowGraph
from deeptui.models import ExecutionStrategy, TaskStatus, WorkflowStatus
from deeptui.runners import Runner
from deeptui.runners.callables import local_registry
from deeptui.scheduler.attempts import HIT, NOT_LOOKED_UP, look_up, run_task
from deeptui.scheduler.capacity import CapacityWaits
from deeptui.scheduler.gate import skip_reason
from deeptui.scheduler.inline import DONE, INLINE_SLICE, pump_soon, run_inline
from deeptui.scheduler.outcome import drain_unstarted, run_outcome
from deeptui.scheduler.plan import Plan
from deeptui.state import StateManager

if TYPE_CHECKING:
    from deeptui.conditions import Condition
    from deeptui.cache import ResultCache
    from deeptui.runners.callables import CallableRegistry
    from deeptui.models import TaskDefinition
    from deeptui.routing import TaskRouter

FINISHED = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.SKIPPED,
                       TaskStatus.CANCELLED})


class ReadyQueueExecutor(CapacityWaits):
    """Runs one workflow run to the end; obeys cancel and retry while it runs and after."""

    strategy = ExecutionStrategy.DAG
    barrier = False  # whether ``eligible`` can hold a ready task back (PARALLEL's levels)

    def __init__(
        self,
        state: StateManager,
        router: TaskRouter,
        runners: Mapping[str, Runner],
        conditions: dict[str, Condition],
        *,
        cache: ResultCache | None = None,
        callables: CallableRegistry | None = None,
        model_name: str | None = None,
        parallel: bool = True,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        durations: Mapping[str, float] | None = None,
    ) -> None:
        self.sm = state
        self.workflow = state.workflow
        plan = Plan(self.workflow.tasks, durations)
        self.tasks, self.kind, self.dependents, self.roots = (plan.tasks, plan.kind,
                                                             plan.dependents, plan.roots)
        self.estimates, self.heap_key = plan.estimates, plan.heap_key
        self._graph: WorkflowGraph | None = None  # networkx, built when first needed
        self.router = router
        self.runners = runners  # task kind -> the runner of its body
        self.cache = cache
        self.callables = callables  # a callable task's function is part of its cache key
        # callable bodies run in this process: a plain function's first attempt runs inline
        self.inline = local_registry(runners.get("callable"))
        self.pump_queued = False  # a pump that yielded to the loop goes on at its next turn
        self.model_name = model_name
        self.output_texts: dict[str, tuple[Any, str]] = {}  # the cache keys' memo, this run
        # a memory-only cache's `put_later`: the results of inline tasks, stored at once
        # before the cache is read or written, another run's pump, a retry or the run's end
        self.put_later = cache.put_later if cache is not None and cache.memory_only else None
        self.files: Callable[[], str] | None = None  # the run's workspace fingerprint, if any
        self.refresh: set[str] = set()  # tasks whose next start skips the cache read
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.limit = self.workflow.max_parallel_tasks if parallel else 1
        self.results = state.state.task_results
        self.conditions = conditions  # parsed by the orchestrator's validation
        self.waiting: dict[str, int] = {}  # task -> unfinished dependencies
        self.heap: list[tuple[int, float, int, str]] = []
        # tasks whose agent types were all at capacity, and each type's heap of them
        self.blocked: dict[str, tuple[int, float, int, str]] = {}
        self.blocked_on: dict[str, list[tuple[int, float, int, str]]] = {}
        self.capped: dict[str, None] = {}  # agent types whose limit bound (`slot_note`)
        self.running: dict[str, asyncio.Task[None]] = {}
        self.cancel_reasons: dict[str, str] = {}
        self.stopping: str | None = None  # why no new task starts
        self.cancelled_run = False
        # tasks ended only because a failure stopped the run (a retry runs them again)
        self.stopped_by_failure: set[str] = set()
        self.done: asyncio.Future[WorkflowStatus] | None = None
        self.max_running = 0  # the concurrency actually reached

    @property
    def graph(self) -> WorkflowGraph:
        """The workflow's networkx graph (levels, order, downstream), built on first use."""
        if self._graph is None:
            self._graph = WorkflowGraph(self.workflow)
        return self._graph

    # -- policy ----------------------------------------------------------

    def eligible(self, tid: str) -> bool:
        """Whether a ready task may start now (PARALLEL adds its level barrier)."""
        return True

    def on_restart(self) -> None:
        """Called when the run (re)starts, e.g. after a retry of an ended run."""

    # -- running ---------------------------------------------------------

    async def execute(self, *, resumed: bool = False) -> WorkflowStatus:
        """Run every pending task; returns the run's final status."""
        self.loop = asyncio.get_running_loop()
        self.done = self.loop.create_future()
        self.sm.start_workflow(resumed=resumed)
        results = self.results
        self._begin(None if self.sm.counts[TaskStatus.PENDING] == len(results) else
                    (tid for tid, r in results.items() if r.status is TaskStatus.PENDING))
        return await asyncio.shield(self.done)

    def _begin(self, tids: Iterable[str] | None) -> None:
        """(Re)start scheduling ``tids`` (None: every task, all pending): lift any stop, reset
        the policy, start what is ready. The one way a run starts: its first start, a restart
        after it ended (a retry: ``execute`` again) and a retry while it still runs."""
        self.stopping = None
        self.cancelled_run = False
        self.on_restart()
        self._prepare(tids)
        self._pump()

    def _prepare(self, tids: Iterable[str] | None) -> None:
        results, tasks, waiting, counts = self.results, self.tasks, self.waiting, self.sm.counts
        if tids is None:  # every task, none finished: each waits for all its dependencies
            waiting.update({tid: len(task.depends_on) for tid, task in tasks.items()})
            tids = self.roots
        # no task finished yet (a first start): every dependency is unfinished
        fresh = counts[TaskStatus.PENDING] + counts[TaskStatus.RUNNING] == len(results)
        for tid in tids:
            deps = tasks[tid].depends_on
            count = len(deps) if fresh else sum(results[d].status not in FINISHED for d in deps)
            waiting[tid] = count
            if count == 0:
                self._push_ready(tid)

    def _push_ready(self, tid: str) -> None:
        heapq.heappush(self.heap, self.heap_key[tid])
        self.sm.queued(tid)

    def _pump(self) -> None:
        """Start ready tasks while slots are free; finish the run when nothing is left.

        A cache hit ends at once, without a slot, as does a plain callable's inline body:
        after `INLINE_SLICE` seconds of such tasks the pump yields to the loop and goes on
        at its next turn (`pump_soon`), so a run of 10,000 hits lets the app draw and a
        cancel get in; ready tasks still start in the ready queue's order."""
        heap, running, results, limit = self.heap, self.running, self.results, self.limit
        deferred: list[tuple[int, float, int, str]] | None = None
        cached = self.cache is not None
        if self.put_later is not None:  # (another run's results put later: stored first)
            self.cache.claim_waiting(self)  # type: ignore[union-attr]
        slice_end = 0.0  # when tasks ended at once have had this pump's share of the loop
        while heap and len(running) < limit:  # while stopping, only clean-up tasks are pending
            entry = heapq.heappop(heap)
            tid = entry[3]
            if results[tid].status is not TaskStatus.PENDING:
                continue
            if self.barrier and not self.eligible(tid):
                deferred = deferred or []
                deferred.append(entry)
                continue
            task = self.tasks[tid]
            if not self._gate(task):
                continue
            key, outputs, fn = NOT_LOOKED_UP, None, None
            kind = self.kind[tid]
            if kind == "callable" and self.inline is not None:
                fn = self.inline.plain(task)  # (its inline body and its key's source)
            if cached:
                outputs = self.outputs(task)  # (the key's and, run inline, the body's)
                try:
                    key = look_up(self, task, None, outputs, fn)
                except Exception:  # noqa: BLE001 - run_task looks up again and fails the task
                    key = NOT_LOOKED_UP
            if key is HIT:
                self._release_dependents(tid)
            else:
                agent_type = None
                ended = None
                if kind == "agent":
                    agent_type = self.router.route(task)
                    if agent_type is None:
                        self._block(task, entry)
                        continue
                    self.router.acquire(agent_type)
                elif fn is not None and (key is not NOT_LOOKED_UP or not cached):
                    ended = run_inline(self, task, fn, None if key is NOT_LOOKED_UP else key,
                                       outputs)
                    if ended is DONE:
                        self._settle(tid)
                if ended is not DONE:
                    if ended is None:
                        self._start(task, agent_type, key)
                    continue
            if deferred:  # it ended at once (a hit, an inline body): maybe a PARALLEL level
                for held in deferred:
                    heapq.heappush(heap, held)
                deferred = None
            now = time.monotonic()
            if not slice_end:
                slice_end = now + INLINE_SLICE
            elif now > slice_end:  # yield to the loop; go on at its next turn
                pump_soon(self)
                break
        for entry in deferred or ():
            heapq.heappush(heap, entry)
        if self.put_later is not None and self.cache.waiting:  # type: ignore[union-attr]
            self.cache.hold_waiting(self)  # (stored when read, written or the run ends)
        if not self.running and not self.blocked and not self.heap and self.done is not None:
            self._finish()

    def outputs(self, task: TaskDefinition) -> dict[str, Any]:
        """The task's dependencies' outputs (what its key and its body get)."""
        deps = task.depends_on
        return {d: self.results[d].output for d in deps} if deps else {}

    def _gate(self, task: TaskDefinition) -> bool:
        """Decide a ready task's fate from its dependencies: True to start it, else it is skipped."""
        results = self.results
        if task.trigger_rule == "all_success" and task.condition is None:
            for dep in task.depends_on:  # the common case, decided without the rule table
                if results[dep].status is not TaskStatus.COMPLETED:
                    break
            else:
                return True
        reason = skip_reason(task, results, self.conditions)
        if reason is None:
            return True
        self._skip(task.id, reason)
        return False

    def _skip(self, tid: str, reason: str) -> None:
        self.sm.skipped(tid, reason)
        self._release_dependents(tid)

    def _start(self, task: TaskDefinition, agent_type: str | None, key: Any,
               first: Any = None) -> None:
        coro = run_task(self, task, agent_type, key, first)
        handle = self.loop.create_task(coro)
        self.running[task.id] = handle
        if len(self.running) > self.max_running:
            self.max_running = len(self.running)
        handle.add_done_callback(lambda _h, tid=task.id, at=agent_type: self._done(tid, at))

    def _done(self, tid: str, agent_type: str | None) -> None:
        self.running.pop(tid, None)
        if self.results[tid].status not in FINISHED:  # cancelled before its body ever ran
            self.sm.cancelled(tid, self.cancel_reasons.pop(tid, "cancelled before it started"))
        if agent_type is not None:
            self.router.release(agent_type)  # wakes every run waiting for capacity, this one too
        self._settle(tid)
        self._pump()

    def _settle(self, tid: str) -> None:
        """The task ended: a failure may stop the run; its dependents may be ready."""
        if self.results[tid].status is TaskStatus.FAILED and not self.workflow.continue_on_failure:
            self.stop(f"task '{tid}' failed")
        self._release_dependents(tid)

    def _release_dependents(self, tid: str) -> None:
        waiting, results, pending = self.waiting, self.results, TaskStatus.PENDING
        for dependent in self.dependents[tid]:
            count = waiting.get(dependent)
            if count is None:
                continue
            count -= 1
            waiting[dependent] = count
            if count == 0 and results[dependent].status is pending:
                self._push_ready(dependent)

    # -- ending ----------------------------------------------------------

    def _finish(self) -> None:
        done = self.done
        if done is None or done.done():
            return
        status, error = run_outcome(self.results, self.sm.counts,
                                    cancelled_run=self.cancelled_run, stopping=self.stopping)
        self.waiting.clear()
        self.router.stop_waiting(self._wake)
        if self.cache is not None:
            self.cache.settle()  # (the entries its puts set aside go in the LRU now)
        self.sm.finish_workflow(status, error)
        done.set_result(status)

    def stop(self, reason: str, *, cancelled_run: bool = False) -> None:
        """Start nothing new, cancel what runs, end the rest with ``reason``."""
        if self.stopping is None:
            self.stopping = reason
        self.cancelled_run = self.cancelled_run or cancelled_run
        for tid, handle in list(self.running.items()):
            self.cancel_reasons.setdefault(tid, f"cancelled: {reason}")
            handle.cancel()
            if not self.cancelled_run:
                self.stopped_by_failure.add(tid)
        drain_unstarted(self)

    # -- commands --------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.done is not None and not self.done.done()

    def cancel_run(self) -> bool:
        if not self.active:
            return False
        self.stop("run cancelled by the user", cancelled_run=True)
        self._pump()
        return True

    def cancel_task(self, tid: str) -> bool:
        """A running task is cancelled; a pending one ends CANCELLED before it starts."""
        if not self.active:
            return False
        handle = self.running.get(tid)
        if handle is not None:
            self.cancel_reasons[tid] = "cancelled by the user"
            handle.cancel()
            return True
        if self.results[tid].status is TaskStatus.PENDING:
            self.sm.cancelled(tid, "cancelled by the user")
            self.waiting.pop(tid, None)
            self.blocked.pop(tid, None)  # waiting for an agent type's slot: no longer
            self._release_dependents(tid)
            self._pump()
            return True
        return False

    def retry(self, tid: str) -> list[str] | None:
        """Reset the task, its not-completed downstream, and whatever a failure's stop
        ended (cancelled or never started) to pending.

        Returns the reset ids, or None when the task is running or pending (nothing
        to retry). A run still going takes them at once; one that ended is restarted
        by the caller (`execute` again), through the same `_begin`.
        """
        status = self.results[tid].status
        if status in (TaskStatus.RUNNING, TaskStatus.PENDING):
            return None
        again = self.graph.downstream(tid) | self.stopped_by_failure
        self.stopped_by_failure = set()
        ids = [tid] + [d for d in self.graph.order if d in again and d != tid]
        reset = [d for d in ids if self.results[d].status not in
                 (TaskStatus.COMPLETED, TaskStatus.RUNNING)]
        if tid not in reset:
            reset.insert(0, tid)
        for d in reset:
            self.sm.reset(d)
        if self.cache is not None:  # (results put later become entries: as a lookup of a
            self.cache.settle()  # task whose result waits finds it, a retried one does)
        if self.active:  # (even while stopping: the retry lifts the stop)
            self._begin(reset)
        return reset
