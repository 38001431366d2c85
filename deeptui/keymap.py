"""Key bindings of the app as data: one id per binding, rebindable from the config file.

Pure data (no Textual here: the settings and the CLI can check a keymap without
the UI); ``deeptui.widgets.bindings`` turns a scope's specs into Textual
``Binding`` objects. Each screen asks for its bindings by scope
(``bindings("run")``); the app
applies the user's ``Settings.keymap`` (binding id -> key) with
``App.set_keymap``, which Textual matches against these ids. The help screen
and the command palette list the same table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One binding: its id, default key(s), action, footer text and where it lives."""

    id: str
    key: str
    action: str
    description: str
    scope: str
    show: bool = True
    priority: bool = False
    tooltip: str = ""


KEYS: tuple[KeySpec, ...] = (
    # everywhere
    KeySpec("help", "question_mark", "help", "Help", "app"),
    KeySpec("quit", "ctrl+q", "quit", "Quit", "app", priority=True),
    KeySpec("history", "h", "history", "History", "app"),
    KeySpec("cache", "k", "cache", "Cache", "app"),
    KeySpec("metrics", "m", "metrics", "Metrics", "app"),
    KeySpec("home", "H", "home", "Home", "app", tooltip="Back to the home screen from anywhere"),
    # start screen
    KeySpec("tab_home", "1", "show_tab('home')", "Home", "start"),
    KeySpec("tab_files", "2", "show_tab('files')", "Files", "start"),
    KeySpec("tab_runs", "3", "show_tab('runs')", "Runs", "start"),
    KeySpec("start_quit", "q", "app.quit", "Quit", "start", show=False),
    KeySpec("start.rerun", "n", "rerun", "Re-run", "start",
            tooltip="Start the selected recent run's workflow again"),
    KeySpec("start.resume", "R", "resume", "Resume", "start",
            tooltip="Continue the selected recent run if it did not complete"),
    # parameters screen
    KeySpec("run_workflow", "ctrl+r", "run_workflow", "Run", "parameters", priority=True),
    KeySpec("preview", "f5", "preview", "Preview DAG", "parameters"),
    KeySpec("params_back", "escape", "back", "Back", "parameters"),
    # run screen
    KeySpec("select_prev", "up", "select_prev", "Previous task", "dag", show=False),
    KeySpec("select_next", "down", "select_next", "Next task", "dag", show=False),
    KeySpec("select_first", "home", "select_first", "First task", "dag", show=False),
    KeySpec("select_last", "end", "select_last", "Last task", "dag", show=False),
    KeySpec("select_left", "left", "select_left", "Task to the left (graph)", "graph", show=False),
    KeySpec("select_right", "right", "select_right", "Task to the right (graph)", "graph", show=False),
    KeySpec("toggle_graph", "g", "toggle_graph", "Graph/list", "dag_view",
            tooltip="Draw the DAG as boxes and edges, or as the list of levels"),
    KeySpec("follow_frontier", "F", "follow_frontier", "Follow running", "dag_view",
            tooltip="Keep the running tasks in view as the run advances"),
    KeySpec("cancel_task", "c", "cancel_task", "Cancel task", "run"),
    KeySpec("retry_task", "r", "retry_task", "Retry task", "run"),
    KeySpec("cancel_run", "ctrl+x", "cancel_run", "Cancel run", "run"),
    KeySpec("filter", "slash", "filter", "Filter", "run"),
    KeySpec("clear_filter", "escape", "clear_filter", "Clear filter", "run", show=False),
    KeySpec("follow", "f", "toggle_follow", "Follow log", "run"),
    KeySpec("timeline", "T", "toggle_timeline", "Timeline", "run",
            tooltip="Show the run as a timeline (one bar per task over time) or back the DAG"),
    KeySpec("copy", "y", "copy", "Copy output", "run", show=False),
    KeySpec("export", "e", "export", "Export log", "run", show=False),
    KeySpec("run_back", "q", "back", "Back", "run"),
    KeySpec("output", "o", "output", "Output", "run",
            tooltip="Show the selected task's whole output full-screen"),
    KeySpec("refresh_task", "R", "refresh_task", "Run again (no cache)", "run",
            tooltip="Run the selected task again without reading the cache; the result is stored"),
    KeySpec("refresh_run", "ctrl+r", "refresh_run", "Run all again (no cache)", "run", show=False,
            tooltip="Start the workflow again as a new run in which no task reads the cache"),
    # the task log (when it has focus)
    KeySpec("log.search", "slash", "search", "Search log", "log",
            tooltip="Find text in the log; n / N (or enter / shift+enter) move between matches"),
    KeySpec("log.next", "n", "next_match", "Next match", "log"),
    KeySpec("log.previous", "N", "previous_match", "Previous match", "log"),
    KeySpec("log.tools", "t", "toggle_tools", "Collapse tool calls", "log",
            tooltip="Hide (or show again) the results of the agent's tool calls"),
    KeySpec("log_search.previous", "shift+enter", "previous", "Previous match", "log_search"),
    KeySpec("log_search.close", "escape", "close", "Close search", "log_search"),
    # output viewer
    KeySpec("output.back", "escape,q,o", "back", "Back", "output"),
    KeySpec("approvals", "a", "approvals", "Approvals", "run",
            tooltip="Answer the tool calls waiting for your approval"),
    KeySpec("diff", "d", "diff", "Diff", "run",
            tooltip="Review the selected task's changes to your files: apply or discard them"),
    # approvals list (on the run screen)
    KeySpec("approvals.approve", "y", "answer(True)", "Approve", "approvals",
            tooltip="Let the selected tool call run"),
    KeySpec("approvals.deny", "n", "answer(False)", "Deny", "approvals",
            tooltip="Refuse it: the agent is told and goes on without it"),
    KeySpec("approvals.always", "A", "answer(True, True)", "Always (this run)", "approvals",
            tooltip="Approve this tool for the rest of the run"),
    KeySpec("approvals.close", "escape,q", "dismiss", "Close", "approvals"),
    # diff review (a writing task's changes)
    KeySpec("diff.apply", "a", "apply", "Apply", "diff",
            tooltip="Write the changes into your files (refused if they changed since)"),
    KeySpec("diff.discard", "x", "discard", "Discard", "diff", tooltip="Drop the changes (asks first)"),
    KeySpec("diff.back", "escape,q", "back", "Back", "diff"),
    # cache inspector
    KeySpec("cache.invalidate", "i", "invalidate", "Invalidate task", "cache",
            tooltip="Remove every cache entry of the selected task"),
    KeySpec("cache.clear", "ctrl+d", "clear", "Clear all", "cache",
            tooltip="Remove every cache entry (asks first)"),
    KeySpec("cache.clear_alt", "C", "clear", "Clear all", "cache", show=False),
    KeySpec("cache.refresh", "r", "reload", "Refresh", "cache", tooltip="Read the cache again"),
    KeySpec("cache.back", "escape", "back", "Back", "cache", tooltip="Go back"),
    KeySpec("cache.back_q", "q", "back", "Back", "cache", show=False),
    # metrics dashboard
    KeySpec("metrics.export", "e", "export", "Export", "metrics",
            tooltip="Write the report and the metrics JSON to files"),
    KeySpec("metrics.refresh", "r", "reload", "Refresh", "metrics", tooltip="Read the metrics again"),
    KeySpec("metrics.pick", "p", "pick", "Pick run", "metrics", tooltip="Choose another run"),
    KeySpec("metrics.timeline", "T", "show_tab('tab-timeline')", "Timeline", "metrics",
            tooltip="The run as a timeline: one bar per task over time, the critical path marked"),
    KeySpec("metrics.back", "escape", "back", "Back", "metrics", tooltip="Go back"),
    KeySpec("metrics.back_q", "q", "back", "Back", "metrics", show=False),
    # history (the screen's own keys; history.open is the run table's enter)
    KeySpec("history.resume", "R", "resume", "Resume", "history",
            tooltip="Continue an unfinished run; completed tasks are kept"),
    KeySpec("history.rerun", "n", "rerun", "Re-run", "history",
            tooltip="Start the selected run's workflow again"),
    KeySpec("history.export", "e", "export", "Export JSON", "history",
            tooltip="Write everything stored about the run to a JSON file"),
    KeySpec("history.refresh", "r", "reload", "Refresh", "history"),
    KeySpec("history.back", "escape", "back", "Back", "history"),
    KeySpec("history.back_q", "q", "back", "Back", "history", show=False),
    KeySpec("history.open", "enter", "select_cursor", "Open", "history_table",
            tooltip="Open the selected run (DAG, logs, metrics)"),
    # dialogs
    KeySpec("help_close", "escape,q,question_mark", "dismiss", "Close", "help"),
    KeySpec("confirm_yes", "y", "answer(True)", "Yes", "confirm"),
    KeySpec("confirm_no", "n,escape", "answer(False)", "No", "confirm"),
)


def specs(scope: str | None = None) -> list[KeySpec]:
    """The key specs of one scope (all of them without a scope)."""
    return [spec for spec in KEYS if scope is None or spec.scope == scope]


def binding_ids() -> set[str]:
    return {spec.id for spec in KEYS}


_KEY_NAMES = {"question_mark": "?", "slash": "/", "up": "↑", "down": "↓", "escape": "esc"}


def pretty_key(key: str) -> str:
    """A Textual key string as a person reads it: ``question_mark`` is ``?``."""
    return ", ".join(_KEY_NAMES.get(part, part) for part in key.split(","))


def key_label(binding_id: str, keymap: dict[str, str] | None = None) -> str:
    """The key that triggers a binding: the user's if rebound, else the default."""
    key = (keymap or {}).get(binding_id)
    if key is None:
        key = next(spec.key for spec in KEYS if spec.id == binding_id)
    return pretty_key(key)


def check_keymap(keymap: dict[str, str]) -> list[str]:
    """Ids in a user keymap that name no binding (to warn about them)."""
    known = binding_ids()
    return sorted(key for key in keymap if key not in known)
