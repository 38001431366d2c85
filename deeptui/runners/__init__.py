"""How one task's body runs: a pydantic-deep agent, a shell command, or a Python callable.

A runner gets a `TaskContext` (the task, its dependencies' outputs, the agent type it
was routed to, a log function) and returns the task's output or raises. Retries,
timeouts and statuses are the executor's business. `simulated` is the offline model.
"""

from deeptui.runners.context import LogFn, Runner, TaskContext, TaskFailure, build_prompt

__all__ = ["LogFn", "Runner", "TaskContext", "TaskFailure", "build_prompt"]
