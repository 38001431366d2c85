"""What a run's writing tasks changed: `--apply` after a headless run, and `deeptui apply`.

A writing task's diff is kept with its result and in the history; the real files
change only when it is applied, and never over a file that changed since the task
read it (the files are named and nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from deeptui.cli.common import CLIError, open_store, plural, settings_of
from deeptui.visualize.safe_text import visible
from deeptui.workspace import ApplyConflictError, apply_changes


def after_headless_run(orchestrator: Any, policy: str) -> int:
    """``--apply never|ask|always`` over the tasks of the run that left changes; 1 when
    a diff could not be applied."""
    code = 0
    for run in orchestrator.runs():
        for task_id, result in run.state.task_results.items():
            changes = result.changes
            if changes is None or changes.applied or not changes.files:
                continue
            rid, what = run.state.run_id, f"task '{visible(task_id)}' changed {changes.summary()}"
            if policy == "ask" and sys.stdin.isatty():
                print(changes.diff)
                apply = input(f"{what}: apply to the files? [y/N] ").strip().lower() == "y"
            else:
                apply = policy == "always"
            if not apply:
                print(f"{what}: kept, not applied (deeptui apply {rid} {task_id})")
                continue
            try:
                orchestrator.apply_changes(rid, task_id)
                print(f"{what}: applied")
            except ApplyConflictError as exc:
                print(f"deeptui: error: task '{visible(task_id)}': {visible(str(exc))}", file=sys.stderr)
                code = 1
    return code


def cmd_apply(args: argparse.Namespace) -> int:
    """Apply (or with --discard, drop) a stored run's task diff to the real files."""
    store = open_store(settings_of(args))
    try:
        stored = store.load_run(args.run)
        rid = stored.summary.run_id
        result = stored.state.task_results.get(args.task)
        if result is None:
            raise CLIError(f"run '{visible(rid)}' has no task '{visible(args.task)}'")
        changes = result.changes
        if changes is None or not changes.files:
            raise CLIError(f"task '{visible(args.task)}' of run '{visible(rid)}' has no changes to apply")
        if changes.applied:
            raise CLIError(f"task '{visible(args.task)}' of run '{visible(rid)}': already applied")
        if args.discard:
            store.record_event(rid, args.task, "changes_discarded")
            print(f"discarded the changes of task '{visible(args.task)}'")
            return 0
        if args.diff:
            print(changes.diff, end="")
            return 0
        root = stored.workflow.workspace
        if root is None:
            raise CLIError(f"run '{visible(rid)}' has no workspace to apply the changes to")
        try:
            written = apply_changes(root, changes)
        except ApplyConflictError as exc:
            raise CLIError(f"task '{visible(args.task)}': {exc}") from None
        store.record_event(rid, args.task, "changes_applied", changes.model_dump_json())
        print(f"applied {plural(len(written), 'file')} to {visible(root)}: "
              + ", ".join(visible(p) for p in written))
        return 0
    finally:
        store.close()
