"""The orchestration guide's ``pydantic_deep.orchestration`` names, importable as
``deeptui.orchestration``."""

from deeptui.scheduler.strategies import (  # noqa: F401
    ConditionalExecutor,
    DAGExecutor,
    ParallelExecutor,
    SequentialExecutor,
)
from deeptui.models import (  # noqa: F401
    AgentCapability,
    AgentRouting,
    ExecutionStrategy,
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskResult,
    TaskStatus,
    WorkflowDefinition,
    WorkflowState,
)
from deeptui.orchestrator import TaskOrchestrator  # noqa: F401
from deeptui.routing import TaskRouter, create_default_routing  # noqa: F401
from deeptui.state import StateManager  # noqa: F401
