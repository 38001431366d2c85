"""Open, resume and re-run a run from the history: what the History and Home screens both offer.

Each function takes the app and a run id, does what the user asked through the
app's own entry points (``open_stored_run``, ``resume_run``, ``start_run``)
and tells the user in one notification when it cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deeptui.errors import DeeptuiError

if TYPE_CHECKING:
    from deeptui.app import DeeptuiApp


def open_run(app: DeeptuiApp, run_id: str) -> None:
    """A run of this session on its live screen, else the stored run read-only."""
    app.open_stored_run(run_id)


def resume_run(app: DeeptuiApp, run_id: str, summary: Any | None = None) -> None:
    """Continue an unfinished stored run (refused for a completed or still-running one)."""
    if summary is not None and str(summary.status) == "completed":
        app.notify(f"Run '{run_id}' completed: nothing to resume. "
                   "Press n to run its workflow again.", severity="warning")
        return
    live = app.orchestrator.find_run(run_id)
    if live is not None and not live.state.status.finished:
        app.notify(f"Run '{run_id}' is still running in this session.", severity="warning")
        return
    app.resume_run(run_id)


def rerun(app: DeeptuiApp, run_id: str) -> None:
    """Start the stored run's workflow again, as a new run."""
    store = app.store
    if store is None:
        app.notify("No history database in this session.", severity="warning")
        return
    try:
        stored = store.load_run(run_id)
    except DeeptuiError as exc:
        app.notify(str(exc), title="Cannot re-run", severity="error")
        return
    app.start_run(stored.workflow)
