"""Tasks waiting for an agent type's capacity: which wait on which type, and waking them.

A ready agent task whose every candidate agent type is at its ``max_concurrent_tasks``
waits on each of those types (`TaskRouter.wait_for_capacity`). When one of them frees a
slot (in this run or another: the load is shared), the run puts back on its ready heap
only the best blocked tasks that type has room for; the others stay blocked, without
being routed again. Routing every blocked task on every release made ``route()`` calls
grow with the number of tasks (40 per task at 200 tasks, 429 at 2,000).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from deeptui.models import TaskStatus

if TYPE_CHECKING:
    import asyncio

    from deeptui.models import TaskDefinition, TaskResult
    from deeptui.routing import TaskRouter

Entry = tuple[int, float, int, str]  # a ready heap entry: its last item is the task id


class CapacityWaits:
    """The ready-queue executor's blocked tasks (a mixin: it owns ``blocked``, ``blocked_on``)."""

    loop: asyncio.AbstractEventLoop
    router: TaskRouter
    heap: list[Entry]
    results: dict[str, TaskResult]
    blocked: dict[str, Entry]  # task id -> its heap entry, while it waits for capacity
    blocked_on: dict[str, list[Entry]]  # agent type -> a heap of the tasks waiting on it
    capped: dict[str, None]  # agent types whose limit held a task back while slots were free
    running: dict[str, asyncio.Task[None]]
    limit: int  # the run's slots
    max_running: int

    @property
    def active(self) -> bool:
        raise NotImplementedError

    def _pump(self) -> None:
        raise NotImplementedError

    def _block(self, task: TaskDefinition, entry: Entry) -> None:
        """Every agent type that could take the task is at capacity (maybe held by another
        run): it waits on each of them, until one frees a slot."""
        types = [r.agent_type for r in self.router.candidates(task)]
        self.blocked[task.id] = entry
        if len(self.running) < self.limit:  # a slot is free: the agent types' limits bind
            self.capped.update(dict.fromkeys(types))
        for agent_type in types:
            heapq.heappush(self.blocked_on.setdefault(agent_type, []), entry)
        self.router.wait_for_capacity(self._wake, types)

    def _wake(self, agent_type: str) -> None:
        """``agent_type`` freed a slot (maybe in another run): retry its blocked tasks, soon."""
        self.loop.call_soon(self._unblock, agent_type)

    def _unblock(self, agent_type: str) -> None:
        """Back to the ready heap: the best blocked tasks ``agent_type`` has room for now
        (not every blocked task: routing them all on every release grew with N)."""
        queue = self.blocked_on.get(agent_type)
        if not queue or not self.active:
            return
        room = self.router.free(agent_type)
        room = len(queue) if room is None else room
        blocked, results, woken = self.blocked, self.results, 0
        while queue and woken < room:
            entry = heapq.heappop(queue)
            if blocked.pop(entry[3], None) is None:  # woken already, through another type
                continue
            heapq.heappush(self.heap, entry)
            woken += results[entry[3]].status is TaskStatus.PENDING
        if queue:  # the rest wait for the next release
            self.router.wait_for_capacity(self._wake, (agent_type,))
        self._pump()

    def slot_note(self) -> str | None:
        """Why the run uses fewer slots than it has, e.g. ``5 of 8 slots: general-agent
        limit``: while an agent type's limit holds tasks back with slots free, and once the
        run ended if that ever happened (its peak). None otherwise."""
        if not self.capped:
            return None
        if self.active and not self.blocked:
            return None
        used = len(self.running) if self.active else self.max_running
        if used >= self.limit:
            return None
        return f"{used} of {self.limit} slots: {', '.join(self.capped)} limit"
