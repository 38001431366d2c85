"""A writing task's changes: from its overlay to a diff, and from a diff to the real files.

The diff keeps, per file, the hash of the content the task started from and the
new content, so `apply_changes` can refuse (naming the files) when a real file
changed since the task read it, instead of overwriting someone's edit.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deeptui.errors import DeeptuiError
from deeptui.models import FileChange, TaskChanges, WorkflowDefinition

if TYPE_CHECKING:
    from deeptui.state import StateManager

MAX_KEPT_BYTES = 2_000_000  # new content kept per file for a later apply; larger files: diff only


class ApplyConflictError(DeeptuiError):
    """The real files changed since the task read them: nothing was applied."""


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def file_change(rel: str, old: bytes | None, new: bytes | None) -> FileChange | None:
    """The change from ``old`` to ``new`` at ``rel`` (None when both are the same)."""
    if old == new:
        return None
    status = "added" if old is None else "deleted" if new is None else "modified"
    old_text, new_text = _text(old), _text(new)
    if (old is not None and old_text is None) or (new is not None and new_text is None):
        diff = f"Binary file {rel} {status}\n"
    else:
        diff = "".join(difflib.unified_diff(
            (old_text or "").splitlines(keepends=True), (new_text or "").splitlines(keepends=True),
            "/dev/null" if old is None else f"a/{rel}", "/dev/null" if new is None else f"b/{rel}"))
    keep = new_text if new is not None and len(new) <= MAX_KEPT_BYTES else None
    return FileChange(path=rel, status=status, old_sha256=sha256(old), new_text=keep, diff=diff)


async def overlay_changes(overlay: Any, base: Any) -> TaskChanges:
    """What a branch overlay changed against ``base`` (what the task started from), sorted."""
    root = await overlay.working_dir()
    touched = sorted({c.path for c in overlay.changes() if c.op in ("write", "delete")})
    deleted = overlay.deleted()
    files = []
    for path in touched:
        try:
            old: bytes | None = await base.read_bytes(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            old = None
        new = None if path in deleted else overlay.overlay_bytes(path)
        change = file_change(os.path.relpath(path, root), old, new)
        if change is not None:
            files.append(change)
    return TaskChanges(files=files)


def apply_changes(root: str | Path, changes: TaskChanges) -> list[str]:
    """Write the changes into the real files under ``root``; returns the paths written.

    Refuses (ApplyConflictError naming the files, nothing written) when a file is not
    what the task started from, or its new content was too large to keep.
    """
    base = Path(root).resolve()
    problems = []
    for change in changes.files:
        target = (base / change.path).resolve()
        if not target.is_relative_to(base):
            problems.append(f"{change.path} (outside {base})")
            continue
        current = target.read_bytes() if target.is_file() else None
        if sha256(current) != change.old_sha256:
            problems.append(f"{change.path} (changed since the task read it)")
        elif change.status != "deleted" and change.new_text is None:
            problems.append(f"{change.path} (binary or too large to apply)")
    if problems:
        raise ApplyConflictError("not applied, nothing was written: " + "; ".join(problems))
    written = []
    for change in changes.files:
        target = base / change.path
        if change.status == "deleted":
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((change.new_text or "").encode())
        written.append(change.path)
    return written


def apply_task_changes(workflow: WorkflowDefinition, state: StateManager, task_id: str, *,
                       discard: bool = False) -> bool:
    """Apply a run's writing task's diff to its workspace (or drop it); False if there is none.

    Raises `ApplyConflictError`, naming the files, when they changed since the task read
    them (nothing is written then). The task's result and the bus say what happened.
    """
    result = state.state.task_results.get(task_id)
    changes = result.changes if result else None
    if changes is None or changes.applied or workflow.workspace is None:
        return False
    if not discard:
        apply_changes(workflow.workspace, changes)
    state.changes(task_id, None if discard else changes.model_copy(update={"applied": True}),
                  applied=not discard)
    return True
