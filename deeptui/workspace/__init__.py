"""Agents on the real files: a run's workspace, the diffs of writing tasks, approvals.

`run_workspace` gives each agent task a pydantic-deep workspace rooted at the run's
directory and confined to it (read-only unless the task writes; a writing task works
on a branch overlay, so nothing reaches the real files until its diff is applied);
`changes` turns an overlay into a diff and applies a diff to the real files;
`approvals` holds risky tool calls until a person (or the policy) answers.
"""

from deeptui.workspace.approvals import ApprovalGate, ApprovalPolicy
from deeptui.workspace.changes import ApplyConflictError, apply_changes, apply_task_changes
from deeptui.workspace.run_workspace import RunWorkspace, TaskWorkspace

__all__ = ["ApplyConflictError", "ApprovalGate", "ApprovalPolicy", "RunWorkspace",
           "TaskWorkspace", "apply_changes", "apply_task_changes"]
