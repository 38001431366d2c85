"""Which agent type takes a task: `TaskRouter`.

The default routing (`create_default_routing`, one agent type per capability) is data
that `OrchestrationConfig` defaults to, so it lives in `deeptui.models`; it is
re-exported here, where the guide imports it from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from deeptui.errors import WorkflowValidationError
from deeptui.models import (
    AgentCapability,
    AgentRouting,
    TaskDefinition,
    create_default_routing,
    default_agent_type,
)

# Names of agent types in code written for pydantic-deep, and deeptui's agent type for each.
# An agent type configured under the alias's own name wins over the alias.
AGENT_TYPE_ALIASES = {"general-purpose": default_agent_type(AgentCapability.GENERAL)}


class TaskRouter:
    """Routes agent tasks to agent types and counts how many each is running.

    A task goes to its explicit ``agent_type`` if it has one (``general-purpose``,
    pydantic-deep's name, is ``general-agent`` unless configured itself); otherwise to an
    agent type whose capabilities cover the task's (a task naming none needs
    ``general``), higher routing priority first, least loaded among equals,
    and never above an agent type's ``max_concurrent_tasks`` (when it has one).

    A run whose task found every candidate at capacity waits on those agent types only:
    a release of one wakes the runs waiting on it, which retry as many of their blocked
    tasks as it has room for (`free`), not every blocked task.
    """

    def __init__(self, routing: Sequence[AgentRouting]) -> None:
        self.routing = {r.agent_type: r for r in routing}
        # Higher priority first; definition order among equals (stable sort).
        self._ranked = sorted(routing, key=lambda r: -r.priority)
        self.load: dict[str, int] = {r.agent_type: 0 for r in routing}
        self._candidates_cache: dict[frozenset[AgentCapability], list[AgentRouting]] = {}
        # agent type -> the runs with a task waiting for its capacity (the load is shared by
        # every run): each is called once, at that type's next release
        self._waiting: dict[str, dict[Callable[[str], None], None]] = {}

    @staticmethod
    def _needs(task: TaskDefinition) -> frozenset[AgentCapability]:
        return frozenset(task.required_capabilities or (AgentCapability.GENERAL,))

    def candidates(self, task: TaskDefinition) -> list[AgentRouting]:
        """Agent types that may take the task, best first (ignoring load)."""
        if task.agent_type is not None:
            routing = self.routing.get(task.agent_type) or self.routing.get(
                AGENT_TYPE_ALIASES.get(task.agent_type, ""))
            return [routing] if routing else []
        needs = self._needs(task)
        cached = self._candidates_cache.get(needs)
        if cached is None:
            cached = [r for r in self._ranked if needs.issubset(r.capabilities)]
            self._candidates_cache[needs] = cached
        return cached

    def check(self, task: TaskDefinition) -> None:
        """Raise WorkflowValidationError if no agent type can ever take the task."""
        if self.candidates(task):
            return
        if task.agent_type is not None:
            known = ", ".join(sorted(self.routing)) or "none"
            alias = AGENT_TYPE_ALIASES.get(task.agent_type)
            read_as = f", nor '{alias}' it stands for" if alias else ""
            raise WorkflowValidationError(
                f"task '{task.id}': agent_type '{task.agent_type}' is not configured{read_as} "
                f"(configured agent types: {known})"
            )
        needs = ", ".join(sorted(c.value for c in self._needs(task)))
        raise WorkflowValidationError(
            f"task '{task.id}': no agent type covers the capabilities [{needs}]; "
            "add an AgentRouting with them to OrchestrationConfig.agent_routing"
        )

    def route(self, task: TaskDefinition) -> str | None:
        """The agent type to run the task now, or None while all candidates are at capacity."""
        best: AgentRouting | None = None
        for routing in self.candidates(task):
            if best is not None and routing.priority < best.priority:
                break
            load = self.load[routing.agent_type]
            limit = routing.max_concurrent_tasks
            if limit is not None and load >= limit:
                continue
            if best is None or load < self.load[best.agent_type]:
                best = routing
        return best.agent_type if best else None

    def free(self, agent_type: str) -> int | None:
        """How many more tasks the agent type may take now (None: no limit of its own)."""
        limit = self.routing[agent_type].max_concurrent_tasks
        return None if limit is None else max(0, limit - self.load[agent_type])

    def acquire(self, agent_type: str) -> None:
        self.load[agent_type] += 1

    def release(self, agent_type: str) -> None:
        """A task of ``agent_type`` ended: the runs waiting for that type are told (once)."""
        self.load[agent_type] -= 1
        waiting = self._waiting.pop(agent_type, None)
        if waiting:
            for wake in waiting:
                wake(agent_type)

    def wait_for_capacity(self, wake: Callable[[str], None], agent_types: Iterable[str]) -> None:
        """Call ``wake(agent_type)`` at the next release of any of ``agent_types`` (once)."""
        for agent_type in agent_types:
            self._waiting.setdefault(agent_type, {})[wake] = None

    def stop_waiting(self, wake: Callable[[str], None]) -> None:
        for waiting in self._waiting.values():
            waiting.pop(wake, None)


__all__ = ["AgentRouting", "TaskRouter", "create_default_routing", "default_agent_type"]
