"""The pydantic models and enums of the public API (the orchestration guide's names and fields)."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deeptui.errors import WorkflowValidationError


class AgentCapability(StrEnum):
    GENERAL = "general"
    CODE_ANALYSIS = "code_analysis"
    CODE_GENERATION = "code_generation"
    TESTING = "testing"
    DEBUGGING = "debugging"
    DOCUMENTATION = "documentation"
    DATA_PROCESSING = "data_processing"
    FILE_OPERATIONS = "file_operations"
    API_INTEGRATION = "api_integration"
    RESEARCH = "research"


class ExecutionStrategy(StrEnum):
    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    DAG = "dag"
    CONDITIONAL = "conditional"


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.RUNNING)


class WorkflowStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the process running it died (see the store)

    @property
    def finished(self) -> bool:
        return self not in (WorkflowStatus.PENDING, WorkflowStatus.RUNNING)


TriggerRule = Literal["all_success", "all_done", "all_failed", "one_success", "one_failed", "none_failed"]


class RetryConfig(BaseModel):
    """How often a failed attempt is retried, and the wait before retry n (0-based):
    ``min(initial_delay * backoff_multiplier**n, max_delay)``, spread by ``jitter`` (0.1: +-10%)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retries: int = Field(default=3, ge=0)
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    initial_delay: float = Field(default=1.0, ge=0.0)
    max_delay: float = Field(default=60.0, ge=0.0, allow_inf_nan=False)
    jitter: float = Field(default=0.1, ge=0.0, le=1.0)

    def delay(self, retry_index: int) -> float:
        """The wait before retry ``retry_index`` (0 for the first retry), without jitter."""
        initial, factor, cap = self.initial_delay, self.backoff_multiplier, self.max_delay
        if initial <= 0 or factor == 1 or initial >= cap:
            return min(initial, cap)
        # the wait reaches the cap once factor**n >= cap / initial, and stays there: decided
        # on logarithms, as factor**n itself overflows a float after a few hundred retries
        if retry_index * math.log(factor) >= math.log(cap / initial):
            return cap
        return initial * factor**retry_index


_DEFAULT_RETRY = RetryConfig()
TASK_TYPES = ("agent", "shell", "callable")  # how a task's body runs (none: agent)
# a task_type -> its kind, for the kinds not run by an agent (any other task_type: "agent")
NOT_AGENT = {"shell": "shell", "callable": "callable"}


class TaskDefinition(BaseModel):
    """One task of a workflow: what to do, what it needs, what it waits for."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    description: str = ""
    task_type: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    required_capabilities: list[AgentCapability] = Field(default_factory=list)
    required_skills: list[str] = Field(default_factory=list)
    priority: int = 5
    timeout_seconds: float | None = None
    retry_config: RetryConfig = _DEFAULT_RETRY
    parameters: dict[str, Any] = Field(default_factory=dict)
    expected_output_type: str | None = None
    agent_type: str | None = None
    condition: str | None = None
    trigger_rule: TriggerRule = "all_success"
    # changes files: works on an isolated copy, its changes a diff (other tasks: read-only)
    writes: bool = False

    @field_validator("priority")
    @classmethod
    def _priority_in_range(cls, value: int, info: Any) -> int:
        if not 1 <= value <= 10:
            task = info.data.get("id", "?")
            raise ValueError(f"task '{task}': priority {value} is outside 1-10")
        return value

    @field_validator("task_type")
    @classmethod
    def _known_task_type(cls, value: str | None, info: Any) -> str | None:
        """A misspelt type must not quietly run the task as an agent."""
        if value is None or value in TASK_TYPES:
            return value
        import difflib

        task = info.data.get("id", "?")
        close = difflib.get_close_matches(value, TASK_TYPES, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"task '{task}': task_type '{value}' is not one of "
                         f"{', '.join(TASK_TYPES)}{hint}")

    @field_validator("timeout_seconds")
    @classmethod
    def _timeout_positive(cls, value: float | None, info: Any) -> float | None:
        if value is not None and value <= 0:
            task = info.data.get("id", "?")
            raise ValueError(f"task '{task}': timeout_seconds must be positive, got {value}")
        return value

    @property
    def kind(self) -> str:
        """How the task's body runs: "agent", "shell" or "callable"."""
        return NOT_AGENT.get(self.task_type, "agent")


class WorkflowDefinition(BaseModel):
    """A graph of tasks and how to run it.

    Construction validates the graph: duplicate ids, unknown or self
    dependencies and cycles raise an error naming the task (or the cycle).
    Routing and skills are checked by the orchestrator before a run starts,
    because they depend on its configuration.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str = ""
    description: str = ""
    tasks: list[TaskDefinition] = Field(default_factory=list)
    execution_strategy: ExecutionStrategy = ExecutionStrategy.DAG
    default_timeout_seconds: float | None = None
    max_parallel_tasks: int = Field(default=5, ge=1)
    continue_on_failure: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    # the directory agent tasks work on (confined to it); None: an in-memory workspace
    workspace: str | None = None

    @field_validator("default_timeout_seconds")
    @classmethod
    def _default_timeout_positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(f"default_timeout_seconds must be positive, got {value}")
        return value

    @model_validator(mode="after")
    def _check_graph(self) -> WorkflowDefinition:
        from deeptui.graph import check_graph  # (networkx loads on the first validation)

        check_graph(self.tasks)
        if not self.name:
            self.name = self.id
        return self

    def get_task(self, task_id: str) -> TaskDefinition:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise WorkflowValidationError(f"workflow '{self.id}' has no task '{task_id}'")

    @property
    def task_ids(self) -> list[str]:
        return [task.id for task in self.tasks]


class TaskUsage(BaseModel):
    """Model usage of one task (summed over its attempts)."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class FileChange(BaseModel):
    """One file a writing task changed: what it was, what it became, and the diff."""

    model_config = ConfigDict(frozen=True)

    path: str  # relative to the workspace
    status: Literal["added", "modified", "deleted"]
    old_sha256: str | None = None  # what the task started from (None: the file did not exist)
    new_text: str | None = None  # the new content (None: deleted, or too large to keep)
    diff: str = ""  # unified diff, a/ and b/ paths


class TaskChanges(BaseModel):
    """The changes of one writing task, kept until they are applied to the real files."""

    files: list[FileChange] = Field(default_factory=list)
    applied: bool = False

    @property
    def diff(self) -> str:
        return "".join(change.diff for change in self.files)

    def summary(self) -> str:
        counts = {s: sum(c.status == s for c in self.files) for s in ("added", "modified", "deleted")}
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no changes"


class TaskResult(BaseModel):
    """The outcome of one task in one run."""

    task_id: str
    status: TaskStatus = TaskStatus.PENDING
    output: Any = None
    error: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    agent_used: str | None = None
    usage: TaskUsage = Field(default_factory=TaskUsage)
    cached: bool = False
    cached_from: str | None = None  # a cached result: the run that produced it, and when
    cached_at: datetime | None = None
    skip_reason: str | None = None
    changes: TaskChanges | None = None  # a writing agent task's diff (see deeptui.workspace)
    worker: str | None = None  # the Dask worker that ran its last attempt (None: this machine)

    @property
    def retry_count(self) -> int:
        return max(self.attempts - 1, 0)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()


class WorkflowState(BaseModel):
    """The state of one run of a workflow. The StateManager owns and updates it."""

    workflow_id: str
    run_id: str
    workflow_name: str = ""
    execution_strategy: ExecutionStrategy | None = None  # the strategy this run runs with
    status: WorkflowStatus = WorkflowStatus.PENDING
    task_results: dict[str, TaskResult] = Field(default_factory=dict)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None

    def __repr__(self) -> str:
        # a summary in constant time, not 10,000 results: asyncio.run() formats the returned
        # state's repr twice on exit (restoring the SIGINT handler), so do REPLs and logs;
        # counting statuses cost 2.5 ms at 10,000 tasks (enum hashing), 3% of such a run
        return (f"WorkflowState(run_id={self.run_id!r}, status={self.status.value!r}, "
                f"tasks={len(self.task_results)})")

    def _ids_with(self, status: TaskStatus) -> list[str]:
        return [tid for tid, result in self.task_results.items() if result.status == status]

    @property
    def completed_tasks(self) -> list[str]:
        return self._ids_with(TaskStatus.COMPLETED)

    @property
    def failed_tasks(self) -> list[str]:
        return self._ids_with(TaskStatus.FAILED)

    @property
    def skipped_tasks(self) -> list[str]:
        return self._ids_with(TaskStatus.SKIPPED)

    @property
    def cancelled_tasks(self) -> list[str]:
        return self._ids_with(TaskStatus.CANCELLED)

    @property
    def running_tasks(self) -> list[str]:
        return self._ids_with(TaskStatus.RUNNING)

    @property
    def pending_tasks(self) -> list[str]:
        return self._ids_with(TaskStatus.PENDING)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.completed_at or datetime.now(self.started_at.tzinfo)
        return (end - self.started_at).total_seconds()


class AgentRouting(BaseModel):
    """An agent type: its capabilities, priority and concurrency limit (None: no own limit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent_type: str = Field(min_length=1)
    capabilities: list[AgentCapability] = Field(default_factory=list)
    priority: int = Field(default=5, ge=1, le=10)
    max_concurrent_tasks: int | None = Field(default=None, ge=1)
    instructions: str | None = None
    model: str | None = None


_DEFAULT_INSTRUCTIONS = {
    AgentCapability.GENERAL: "You are a capable generalist. Do the task thoroughly and concisely.",
    AgentCapability.CODE_ANALYSIS: "You analyse code: structure, defects, risks. Cite files and lines.",
    AgentCapability.CODE_GENERATION: "You write clean, tested, idiomatic code.",
    AgentCapability.TESTING: "You design and run tests and report what passed and failed.",
    AgentCapability.DEBUGGING: "You find root causes of failures and propose minimal fixes.",
    AgentCapability.DOCUMENTATION: "You write clear, accurate documentation with examples.",
    AgentCapability.DATA_PROCESSING: "You extract, validate, transform and load data carefully.",
    AgentCapability.FILE_OPERATIONS: "You read, write and organise files safely.",
    AgentCapability.API_INTEGRATION: "You integrate with APIs: contracts, errors, retries.",
    AgentCapability.RESEARCH: "You research a question and report findings with sources.",
}


def default_agent_type(capability: AgentCapability) -> str:
    """The default agent type for a capability: ``code_generation`` -> ``code-generation-agent``."""
    return f"{capability.value.replace('_', '-')}-agent"


def create_default_routing() -> list[AgentRouting]:
    """One agent type per capability, equal priority, no concurrency limit of its own."""
    return [
        AgentRouting(
            agent_type=default_agent_type(capability),
            capabilities=[capability],
            priority=5,
            instructions=_DEFAULT_INSTRUCTIONS[capability],
        )
        for capability in AgentCapability
    ]


class OrchestrationConfig(BaseModel):
    """Orchestrator-wide settings."""

    model_config = ConfigDict(extra="forbid")

    agent_routing: list[AgentRouting] = Field(default_factory=create_default_routing)
    enable_parallel_execution: bool = True
    # no effect (kept so configurations passing it stay valid): metrics are derived on demand
    enable_metrics: bool = True
    model: str | None = None
    simulated_latency: tuple[float, float] = (0.2, 1.5)
    simulated_fail_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    simulated_seed: int | None = None
    log_ring_size: int = Field(default=500, ge=10)
    # finished runs kept in memory, oldest first out (None: all; a store keeps them all)
    keep_finished_runs: int | None = Field(default=100, ge=1)
    # tool calls that need a person (commands): "ask" waits (the app), "never" denies, "always"
    approvals: Literal["ask", "never", "always"] = "never"

    @model_validator(mode="after")
    def _unique_agent_types(self) -> OrchestrationConfig:
        seen: set[str] = set()
        for routing in self.agent_routing:
            if routing.agent_type in seen:
                raise ValueError(f"agent type '{routing.agent_type}' is configured twice")
            seen.add(routing.agent_type)
        return self
