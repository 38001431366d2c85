"""What a task sends to a worker, and the validation that refuses what cannot be sent.

A callable goes by its import name (``module:qualname``): the worker imports it, so it
must be importable there by that name; a lambda, a nested function or one defined in
``__main__`` is a validation error naming the task, before anything runs. An agent task
sends the orchestration config (model name, offline model, routing) and the skill
folders: the worker builds its own pydantic-deep agents on them (`worker_agents`).
"""

from __future__ import annotations

import importlib
from typing import Any

from deeptui.errors import WorkflowValidationError


def callable_name(fn: Any) -> str | None:
    """``module:qualname`` when importing that gives back ``fn`` itself, else None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    try:
        found = import_callable(f"{module}:{qualname}")
    except Exception:  # noqa: BLE001 - not importable by that name
        return None
    return f"{module}:{qualname}" if found is fn else None


def import_callable(name: str) -> Any:
    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def check_shippable(workflow: Any, orchestrator: Any) -> None:
    """Every callable task's function must be importable by name on the workers, and agent
    tasks need agents a worker can build: a model named by a string, or the offline one."""
    for task in workflow.tasks:
        if task.kind == "agent" and not _agents_shippable(orchestrator):
            raise WorkflowValidationError(
                f"task '{task.id}': an agent task on the cluster runs on agents each worker "
                "builds from the settings: name the model as 'provider:name' (--model) or use "
                "the offline model; an agent or model object of this process cannot be sent")
        if task.kind != "callable":
            continue
        fn = orchestrator.callables.find(task)
        if fn is not None and callable_name(fn) is None:
            raise WorkflowValidationError(
                f"task '{task.id}': callable '{task.parameters.get('callable')}' "
                f"({getattr(fn, '__qualname__', fn)!s}) cannot run on the cluster: a worker "
                "imports it by name, so it must be a module-level function of an installed "
                "module (not a lambda, a nested function or one defined in __main__)")


def _agents_shippable(orchestrator: Any) -> bool:
    if orchestrator.agents.user_agent is not None:
        return False
    if isinstance(orchestrator.config.model, str):
        return True
    return type(orchestrator.model).__name__ == "SimulatedModel"


def payload_for(kind: str, ctx: Any, orchestrator: Any) -> dict[str, Any]:
    """What the worker needs to run one attempt of ``ctx.task``."""
    payload: dict[str, Any] = {
        "task": ctx.task, "workflow_id": ctx.workflow_id, "run_id": ctx.run_id,
        "dependency_outputs": ctx.dependency_outputs, "agent_type": ctx.agent_type,
    }
    files = orchestrator.agents.workspaces.get(ctx.run_id)
    if kind == "shell":
        payload["cwd"] = str(files.root) if files is not None else None
    elif kind == "callable":
        payload["callable"] = callable_name(orchestrator.callables.get(ctx.task))
    else:
        payload["config"] = orchestrator.config
        payload["skill_dirs"] = [d.model_dump(mode="json")
                                 for d in orchestrator.skill_manager.directories]
        if files is not None:
            payload["workspace"] = [str(files.root), files.run_overlay is not None]
    return payload


_agents: dict[str, Any] = {}  # on a worker: the config's JSON -> its agents


def worker_agents(payload: dict[str, Any], run_id: str) -> Any:
    """On a worker: the agents of the orchestration config sent, built once per process,
    with the run's workspace (the same path, mounted on the worker) when it has one."""
    from pathlib import Path

    from deeptui.orchestrator import TaskOrchestrator
    from deeptui.workspace import RunWorkspace

    config = payload["config"]
    key = config.model_dump_json() + repr(payload["skill_dirs"])
    orchestrator = _agents.get(key)
    if orchestrator is None:
        from deeptui.cache import CacheConfig

        orchestrator = TaskOrchestrator(config=config, skill_directories=payload["skill_dirs"],
                                        cache_config=CacheConfig(strategy="none"))
        _agents[key] = orchestrator
    agents = orchestrator.agents
    workspace = payload.get("workspace")
    if workspace is not None and run_id not in agents.workspaces:
        root = Path(workspace[0])
        if not root.is_dir():
            from deeptui.runners.context import TaskFailure

            raise TaskFailure(f"the run's workspace {root} is not on this worker "
                              "(mount it at the same path)")
        agents.workspaces[run_id] = RunWorkspace(root, workspace[1])
    return agents
