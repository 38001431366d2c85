"""An agent task on the run's files: its workspace, its approvals, and what it read and wrote.

The pydantic-deep agents built for a run with a workspace have no workspace of their
own (``workspace=False``); each task passes its `TaskWorkspace` to the run, and a
`HandleDeferredToolCalls` capability that takes every tool call needing approval
(running a command) to the `ApprovalGate`, with the task's timeout paused meanwhile.
A read-only task's commands are denied without asking: it may not change anything.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from deeptui.runners.context import TaskContext, one_line

if TYPE_CHECKING:
    from deeptui.workspace import ApprovalGate, TaskWorkspace

# tools that need a person's yes: they run commands (writes are confined to the overlay)
NEEDS_APPROVAL = {"execute": True}
PATH_ARGS = ("path", "file_path", "pattern", "command")


def describe_call(tool: str, args: dict[str, Any]) -> str:
    """``read_file pkg/mod.py``, ``grep eval( .``: the tool and what it works on."""
    shown = [str(args[key]) for key in PATH_ARGS if args.get(key) not in (None, "")]
    return one_line(f"{tool} {' '.join(shown)}".strip() if shown else f"{tool}({one_line(args)})")


def approval_capability(ctx: TaskContext, gate: ApprovalGate | None, workspace: TaskWorkspace) -> Any:
    """The capability that answers this task's approval requests."""
    from pydantic_ai.capabilities import HandleDeferredToolCalls
    from pydantic_ai.tools import DeferredToolResults, ToolApproved, ToolDenied

    async def handle(run_context: Any, requests: Any) -> Any:
        approvals: dict[str, Any] = {}
        for call in requests.approvals:
            what = describe_call(call.tool_name, call.args_as_dict())
            if workspace.read_only or gate is None:
                approvals[call.tool_call_id] = ToolDenied(
                    f"Denied: this task is read-only and may not run `{what}`.")
                ctx.log("approval", f"denied (read-only task): {what}")
                continue
            ctx.log("approval", f"waiting for approval: {what}")
            approved, by = await _ask_paused(ctx, gate, call.tool_name, what)
            ctx.log("approval", f"{'approved' if approved else 'denied'} by {by}: {what}")
            approvals[call.tool_call_id] = ToolApproved() if approved else ToolDenied(
                f"The user denied `{what}` ({by}). Do not retry it; continue without it.")
        return DeferredToolResults(approvals=approvals)

    return HandleDeferredToolCalls(handler=handle)


async def _ask_paused(ctx: TaskContext, gate: ApprovalGate, tool: str, what: str) -> tuple[bool, str]:
    """Ask the gate, with the attempt's timeout stopped while a person decides."""
    timeout = ctx.timeout
    loop = asyncio.get_running_loop()
    remaining = None
    if timeout is not None and timeout.when() is not None:
        remaining = timeout.when() - loop.time()
        timeout.reschedule(None)
    try:
        return await gate.ask(ctx.run_id, ctx.workflow_id, ctx.task.id, tool, what)
    finally:
        if remaining is not None:
            timeout.reschedule(loop.time() + remaining)
