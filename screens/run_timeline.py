"""`RunTimeline`: the run screen's timeline toggle (a mixin of `RunScreen`, like `RunFiles`).

The toggle key swaps the run screen's body (DAG, task, log) for a full-width
`TimelineView`, mounted the first time it is asked for. A live run's attempts
come from the history's events table (those recorded before the screen opened)
and from then on from a bus tap this mixin holds while the screen is mounted
(the attempt starts and failures the run's state does not keep); a stored run's
from the history's events table. While the timeline shows a running run it is redrawn
every half second.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from deeptui.timeline import AttemptMarks, build_timeline, stored_marks
from deeptui.widgets.timeline import LEGEND, TimelineView

if TYPE_CHECKING:
    from deeptui.models import WorkflowDefinition, WorkflowState

REDRAW_INTERVAL = 0.5  # seconds between redraws of a running run's timeline
COST_SHARE = 5  # ... and at least this many times a build's own time


class RunTimeline:
    """Mixed into `RunScreen`: ``action_toggle_timeline`` and the attempt marks it draws from."""

    run_id: str
    read_only: bool
    workflow: WorkflowDefinition
    state: WorkflowState
    app: Any

    def on_mount(self) -> None:
        self._untap_timeline = None
        self._stored_marks_loaded = False
        self.timeline_marks = AttemptMarks()
        if not self.read_only:  # the attempts recorded so far, then the bus's from now on
            run_id = self.run_id
            self.timeline_marks = stored_marks(self.app.store, run_id)

            def note(event: Any) -> None:
                if event.run_id == run_id:
                    self.timeline_marks.note(event)

            self._untap_timeline = self.app.orchestrator.bus.tap(note, queued=False)

    def on_unmount(self) -> None:
        if self._untap_timeline is not None:
            self._untap_timeline()
            self._untap_timeline = None

    @property
    def timeline_shown(self) -> bool:
        views = self.query(TimelineView)  # type: ignore[attr-defined]
        return bool(views) and views.first().display

    def action_toggle_timeline(self) -> None:
        body = self.query_one("#run-body")  # type: ignore[attr-defined]
        views = self.query(TimelineView)  # type: ignore[attr-defined]
        if not views:
            view = TimelineView(id="run-timeline")
            view.border_title = f"Timeline   {LEGEND}"
            self.mount(view, after=body)  # type: ignore[attr-defined]
            self.set_interval(REDRAW_INTERVAL, self._redraw_timeline)  # type: ignore[attr-defined]
            shown = True
        else:
            view = views.first()
            shown = not view.display
        view.display = shown
        body.display = not shown
        if shown:
            self.refresh_timeline()
            view.focus()
        else:
            self.query_one("#dag").focus()  # type: ignore[attr-defined]

    def refresh_timeline(self) -> None:
        if self.read_only and not self._stored_marks_loaded:
            self._stored_marks_loaded = True
            self.timeline_marks = stored_marks(self.app.store, self.run_id)
        began = time.monotonic()
        timeline = build_timeline(self.workflow, self.state, self.timeline_marks, self.app.now())
        self.query_one(TimelineView).show(timeline)  # type: ignore[attr-defined]
        self._timeline_drawn = (time.monotonic(), time.monotonic() - began)

    def _redraw_timeline(self) -> None:
        """Redraw a running run's timeline, at most a fifth of the time (10,000 tasks: ~0.3 s
        a build, so every 1.5 s rather than every 0.5 s)."""
        if not self.timeline_shown or self.state.status.finished:
            return
        drawn_at, cost = getattr(self, "_timeline_drawn", (0.0, 0.0))
        if time.monotonic() - drawn_at >= COST_SHARE * cost:
            self.refresh_timeline()

