"""A run's workspace: the directory its agent tasks work on, through pydantic-deep.

Every task sees the run's directory through `ConfinedWorkspace` (a path that leads
outside it, `..` or a symlink included, is refused). A read-only task gets it behind
`ReadOnlyWorkspace`. A writing task gets a branch overlay of its own: its writes stay
in the overlay, become a diff when it ends, and are then merged into the run's own
overlay, so the tasks downstream of it read the changed files. The real files change
only when a diff is applied (`deeptui.workspace.changes.apply_changes`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from deeptui.errors import WorkflowValidationError
from deeptui.models import TaskChanges, TaskDefinition, WorkflowDefinition
from deeptui.workspace.changes import overlay_changes


SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})


def workspace_root(workflow: WorkflowDefinition) -> Path | None:
    """The run's directory, checked: a workflow without one runs on an in-memory workspace."""
    if workflow.workspace is None:
        return None
    root = Path(workflow.workspace).expanduser()
    if not root.is_dir():
        raise WorkflowValidationError(
            f"workflow '{workflow.id}': workspace '{workflow.workspace}' is not a directory")
    return root.resolve()


@dataclass
class TaskWorkspace:
    """What one agent task works on: the workspace, and its overlay when it writes."""

    workspace: Any
    overlay: Any = None  # a writing task's branch overlay; None: the task is read-only

    @property
    def read_only(self) -> bool:
        return self.overlay is None


class RunWorkspace:
    """The workspace of one run, rooted at ``root``."""

    def __init__(self, root: Path, writers: bool) -> None:
        from pydantic_ai.workspaces import LocalWorkspaceBackend, Workspace
        from pydantic_deep import BranchIsolation, ConfinedWorkspace, branch_workspace

        self.root = root
        self.real = ConfinedWorkspace(Workspace(LocalWorkspaceBackend(root)))
        # writing tasks' changes gather here, so downstream tasks see them; never on disk
        self.view, self.run_overlay = (branch_workspace(self.real, BranchIsolation(workspace="copy"))
                                       if writers else (self.real, None))

    @cached_property
    def fingerprint(self) -> str:
        """What the run's files were when it started (paths, sizes, modification times), so a
        cached answer about them is not reused after they changed. Hidden folders (.git,
        .venv ...) and __pycache__/node_modules are left out; taken once per run."""
        digest = hashlib.sha256(str(self.root).encode())
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
            for name in sorted(files):
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                digest.update(f"{os.path.relpath(path, self.root)}\0{info.st_size}\0"
                              f"{info.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    @classmethod
    def for_workflow(cls, workflow: WorkflowDefinition) -> RunWorkspace | None:
        root = workspace_root(workflow)
        if root is None:
            return None
        return cls(root, any(task.writes for task in workflow.tasks))

    async def for_task(self, task: TaskDefinition) -> TaskWorkspace:
        from pydantic_ai.workspaces import ReadOnlyWorkspace, Workspace
        from pydantic_deep import BranchIsolation, ConfinedWorkspace, branch_workspace

        if not task.writes:
            return TaskWorkspace(ReadOnlyWorkspace(self.view))
        # over the real directory (so commands can run, in a copy of it), with the changes
        # of the writing tasks that ended before it replayed in
        workspace, overlay = branch_workspace(self.real, BranchIsolation(workspace="copy"))
        assert isinstance(workspace, Workspace)
        if self.run_overlay is not None and self.run_overlay.changes():
            await self.run_overlay.flush_to(workspace)
        return TaskWorkspace(ConfinedWorkspace(workspace), overlay)

    async def finish(self, task_workspace: TaskWorkspace) -> TaskChanges | None:
        """A writing task ended well: its diff, merged into the run's view for downstream tasks."""
        overlay = task_workspace.overlay
        if overlay is None:
            return None
        changes = await overlay_changes(overlay, self.view)
        if changes.files:
            report = await overlay.flush_to(self.view)
            if report.errors:
                failed = ", ".join(f"{e.path}: {e.message}" for e in report.errors)
                raise RuntimeError(f"could not pass the changes on to later tasks: {failed}")
        return changes
