"""deeptui: run multi-agent pydantic-deep workflows and watch and steer them live.

Public names are imported lazily so that ``deeptui --help`` stays fast: the
heavy modules (pydantic_ai, pydantic_deep, textual) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # models
    "AgentCapability": "deeptui.models",
    "AgentRouting": "deeptui.models",
    "ExecutionStrategy": "deeptui.models",
    "OrchestrationConfig": "deeptui.models",
    "RetryConfig": "deeptui.models",
    "TaskDefinition": "deeptui.models",
    "TaskResult": "deeptui.models",
    "TaskStatus": "deeptui.models",
    "TaskUsage": "deeptui.models",
    "WorkflowDefinition": "deeptui.models",
    "WorkflowState": "deeptui.models",
    "WorkflowStatus": "deeptui.models",
    # errors
    "DeeptuiError": "deeptui.errors",
    "WorkflowValidationError": "deeptui.errors",
    "SkillNotFoundError": "deeptui.errors",
    "WorkflowFileError": "deeptui.errors",
    "ConditionError": "deeptui.errors",
    "TemplateError": "deeptui.errors",
    "StoreError": "deeptui.errors",
    # engine
    "EventBus": "deeptui.bus",
    "WorkflowGraph": "deeptui.graph",
    "TaskRouter": "deeptui.routing",
    "create_default_routing": "deeptui.routing",
    "StateManager": "deeptui.state",
    "SequentialExecutor": "deeptui.scheduler.strategies",
    "ParallelExecutor": "deeptui.scheduler.strategies",
    "DAGExecutor": "deeptui.scheduler.strategies",
    "ConditionalExecutor": "deeptui.scheduler.strategies",
    "SimulatedModel": "deeptui.runners.simulated",
    "TaskOrchestrator": "deeptui.orchestrator",
    "resolve_model": "deeptui.runners.agent",
    # around a run
    "CacheConfig": "deeptui.cache",
    "CacheStrategy": "deeptui.cache",
    "ResultCache": "deeptui.cache",
    "create_cache": "deeptui.cache",
    "aggregate_stats": "deeptui.metrics",
    "TaskMetrics": "deeptui.metrics",
    "WorkflowMetrics": "deeptui.metrics",
    "DAGVisualizer": "deeptui.visualize",
    "VisualizationFormat": "deeptui.visualize",
    "visualize_workflow": "deeptui.visualize",
    "SkillManager": "deeptui.skills_manager",
    "SkillDirectory": "deeptui.skills_manager",
    "Condition": "deeptui.conditions",
    "parse_condition": "deeptui.conditions",
    "trigger_rule_met": "deeptui.conditions",
    "validate_workflow_conditions": "deeptui.conditions",
    "RunStore": "deeptui.store",
    "resume_run": "deeptui.store",
    "load_workflow": "deeptui.loader",
    "loads_workflow": "deeptui.loader",
    "dump_workflow": "deeptui.loader",
    # templates
    "create_ci_cd_pipeline": "deeptui.workflows",
    "create_etl_pipeline": "deeptui.workflows",
    "create_code_review_workflow": "deeptui.workflows",
    "create_documentation_workflow": "deeptui.workflows",
    "list_templates": "deeptui.workflows",
    "get_template": "deeptui.workflows",
    "register_template": "deeptui.workflows",
    # pydantic-deep's own, re-exported as the orchestration guide imports them
    "create_deep_agent": "pydantic_deep",
    "create_default_deps": "pydantic_deep",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deeptui' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
