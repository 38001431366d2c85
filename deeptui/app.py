"""`DeeptuiApp`: the Textual application shell: screens, key map, theme, and the run entry points.

The app owns one `TaskOrchestrator` (built from the settings unless given)
running in the app's own event loop. Screens reach it, typed, as
``self.app.orchestrator`` (see `deeptui.screens.base`): they listen to its bus,
read a run's live state on the event loop (never changing it), and steer
through its methods (cancel task, retry task, cancel run, invalidate or clear
the cache). ``python -m deeptui.app`` (or ``deeptui``) starts it.

Start-up is lazy so the first frame comes quickly: the start screen needs only
the template registry and the examples list. The engine (pydantic-ai and the
offline model) is imported in a thread after the first frame and the
orchestrator built then (or on first use, whichever comes first); the run
screen and networkx are imported when a run is first opened.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.command import Provider
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from deeptui.errors import DeeptuiError
from deeptui.keymap import check_keymap
from deeptui.quitting import StopsRunsBeforeExit
from deeptui.refresh import start_refreshed
from deeptui.screenshots import SavesScreenshots
from deeptui.visualize.safe_text import visible
from deeptui.widgets.bindings import bindings
from deeptui.widgets.terminal import QuitsWhenTerminalCloses
from deeptui.screens.confirm import ConfirmScreen
from deeptui.screens.help import HelpScreen
from deeptui.screens.start import GoesHome, StartScreen
from deeptui.settings import Settings, build_orchestrator, save_theme

if TYPE_CHECKING:  # the engine is imported after the first frame (ENGINE_MODULES)
    from deeptui.models import WorkflowDefinition
    from deeptui.orchestrator import Run, TaskOrchestrator
    from deeptui.screens.run import RunScreen
    from deeptui.store import RunStore

log = logging.getLogger(__name__)

ENGINE_MODULES = ("deeptui.orchestrator", "deeptui.runners.simulated")  # imported after the first frame
LAZY_SCREENS = {  # screens another module owns, imported when first opened
    "cache": ("deeptui.screens.cache", "CacheScreen"),
    "metrics": ("deeptui.screens.metrics", "MetricsScreen"),
    "history": ("deeptui.screens.history", "HistoryScreen"),
}


def _task_commands() -> type[Provider]:
    """The run screen's palette commands, imported when the palette first opens."""
    from deeptui.screens.run import TaskCommands

    return TaskCommands


def _run_screen_class() -> type[RunScreen] | None:
    """RunScreen if its module is loaded (no run screen can exist before that)."""
    module = sys.modules.get("deeptui.screens.run")
    return getattr(module, "RunScreen", None)


class DeeptuiApp(GoesHome, SavesScreenshots, StopsRunsBeforeExit, QuitsWhenTerminalCloses,
                 App[None]):
    """Pick a workflow, run it, watch and steer it."""

    TITLE = "deeptui"
    SUB_TITLE = "multi-agent workflows"
    CSS_PATH = "app.tcss"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {_task_commands}

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        orchestrator: TaskOrchestrator | None = None,
        store: RunStore | None = None,
        initial_workflow: WorkflowDefinition | None = None,
        initial_screen: str | None = None,
        initial_resume: str | None = None,
        initial_refresh: bool = False,
        settings_path: Path | None = None,
    ) -> None:
        os.environ.setdefault("PYDANTIC_AI_NO_BANNER", "1")  # no banner over the screen
        super().__init__()
        self.settings = settings or Settings()
        self.settings_path = settings_path
        if store is None and orchestrator is not None:
            store = orchestrator.store
        self.store: RunStore | None = store
        # built on first use or after the first frame
        self._orchestrator: TaskOrchestrator | None = orchestrator
        self.initial_workflow = initial_workflow
        self.initial_screen = initial_screen
        self.initial_resume = initial_resume
        self.initial_refresh = initial_refresh  # the initial run ignores the cache (--refresh)
        # The clock every elapsed-time display reads; tests freeze it.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.log_times = True  # timestamps on log lines (tests switch them off)
        self._theme_ready = False
        self._quit_question: ConfirmScreen | None = None  # on show while quitting asks
        self.error: str | None = None  # why the app closed itself, one line
        self._approvals_watched = False

    def now(self) -> datetime:
        return self.clock()

    @property
    def orchestrator(self) -> TaskOrchestrator:
        """The session's orchestrator, built from the settings on first use."""
        if self._orchestrator is None:
            try:
                self._orchestrator = build_orchestrator(self.settings, store=self.store,
                                                        interactive=True)
            except DeeptuiError as exc:  # e.g. a cache_dir that is not deeptui's: refused
                # the app closes; whoever ran it prints this one line (see deeptui.cli)
                self.error = "deeptui: error: " + " ".join(str(exc).split())
                self.exit(return_code=2)
                raise
        if not self._approvals_watched:
            self._approvals_watched = True
            self._orchestrator.bus.tap(self._approval_elsewhere, queued=False)
        return self._orchestrator

    def _approval_elsewhere(self, event: Any) -> None:
        """Every approval request is a notification at once, whichever screen is showing."""
        from deeptui.bus import ApprovalRequested

        if isinstance(event, ApprovalRequested):
            self.call_later(self._tell_approval, event)  # once the policy had its say

    def _tell_approval(self, event: Any) -> None:
        if not any(r.request_id == event.request_id
                   for r in self.orchestrator.approvals.pending_for(event.run_id)):
            return  # answered at once (the policy, or "always for this run")
        from deeptui.keymap import key_label

        key = key_label("approvals", self.settings.keymap)
        run_screen = _run_screen_class()
        shown = run_screen is not None and any(
            isinstance(s, run_screen) and s.run_id == event.run_id for s in self.screen_stack)
        how = (f"Press {key} on its run screen" if shown
               else f"Open run {event.run_id} (Runs, 3) and press {key}")
        self.notify(f"{event.task_id} wants to run: {event.args}\n{how} to approve or deny it.",
                    title="Approval needed", severity="warning", timeout=30)

    def session_runs(self) -> list[Run]:
        """This session's runs (none before the orchestrator exists; does not build it)."""
        return [] if self._orchestrator is None else list(self._orchestrator.runs())

    @work(thread=True, exclusive=True, group="warm-up", exit_on_error=False,
          description="import the engine")
    def warm_up(self) -> None:
        """Import the engine off the UI thread, then build the orchestrator on it."""
        for name in ENGINE_MODULES:
            importlib.import_module(name)
        self.call_from_thread(lambda: self.orchestrator)

    # -- start-up ------------------------------------------------------------

    def on_mount(self) -> None:
        try:
            self.theme = self.settings.theme
        except Exception:  # an unknown theme name in the config file
            self.notify(f"Unknown theme '{self.settings.theme}'", severity="warning")
        if self.settings.keymap:
            unknown = check_keymap(self.settings.keymap)
            if unknown:
                self.notify(f"keymap: no binding with id {', '.join(unknown)}", severity="warning")
            self.set_keymap(self.settings.keymap)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.handle_stop_signals(True)
        self._theme_ready = True
        self.push_screen(StartScreen())  # it calls warm_up once its first frame is shown
        if self.initial_workflow is not None:
            self.start_run(self.initial_workflow, refresh=self.initial_refresh)
        elif self.initial_resume is not None:
            self.resume_run(self.initial_resume)
        elif self.initial_screen and self.initial_screen != "start":
            self.open_screen(self.initial_screen)

    def on_unmount(self) -> None:
        self.handle_stop_signals(False)

    def _remember_theme(self, theme: Any) -> None:
        name = getattr(theme, "name", str(theme))
        if not self._theme_ready or name == self.settings.theme:
            return
        self.settings.theme = name
        try:
            save_theme(name, self.settings_path)
        except (OSError, ValueError) as exc:  # ValueError: the file is no longer valid TOML
            self.notify(f"Cannot save the theme: {exc}", severity="warning")

    # -- runs ----------------------------------------------------------------

    def start_run(self, workflow: WorkflowDefinition, *, refresh: bool = False) -> str | None:
        """Start ``workflow`` on the orchestrator and open its run screen (``refresh``:
        every task runs, none is read from the cache).

        Returns the run id, or None when the workflow was refused (the reason
        is shown as a notification).
        """
        if self.settings.max_parallel:
            workflow = workflow.model_copy(update={"max_parallel_tasks": self.settings.max_parallel})
        try:
            run_id = (start_refreshed(self.orchestrator, workflow) if refresh
                      else self.orchestrator.start_workflow(workflow))
        except DeeptuiError as exc:
            self.notify(str(exc), title="Cannot start the workflow", severity="error", timeout=10)
            return None
        self.open_run(run_id)
        return run_id

    def open_run(self, run_id: str) -> None:
        """Show a run of this session (running or finished) on a run screen."""
        run = self.orchestrator.find_run(run_id)
        if run is None:
            if self.store is not None:
                self.open_stored_run(run_id)
            else:
                self.notify(f"No run '{run_id}' in this session", severity="warning")
            return
        from deeptui.screens.run import RunScreen

        if isinstance(self.screen, RunScreen) and self.screen.run_id == run_id:
            return
        self.push_screen(RunScreen(run_id, run=run))

    def open_stored_run(self, run_id: str) -> None:
        """Show a finished run from the history store, read-only."""
        if self.orchestrator.find_run(run_id) is not None:
            self.open_run(run_id)
            return
        if self.store is None:
            self.notify("No run history store is configured", severity="warning")
            return
        try:
            stored = self.store.load_run(run_id)
        except Exception as exc:  # the store's own errors carry the message
            self.notify(str(exc), title="Cannot open the run", severity="error")
            return
        logs = getattr(stored, "logs", None)
        from deeptui.screens.run import RunScreen

        self.push_screen(RunScreen(run_id, workflow=stored.workflow, state=stored.state,
                                   logs=logs if isinstance(logs, dict) else None))

    def resume_run(self, run_id: str) -> str | None:
        """Continue an unfinished stored run (its completed tasks are kept) and open it."""
        if self.store is None:
            self.notify("No run history store is configured", severity="warning")
            return None
        try:
            from deeptui.store import start_resume

            new_id = start_resume(self.orchestrator, self.store, run_id)
        except ImportError:
            self.notify("Resuming needs the history store (not available yet)", severity="warning")
            return None
        except Exception as exc:
            self.notify(str(exc), title="Cannot resume", severity="error")
            return None
        self.open_run(new_id)
        return new_id

    def running_runs(self) -> list[Run]:
        return [run for run in self.session_runs() if not run.state.status.finished]

    # -- other screens ---------------------------------------------------------

    def open_screen(self, name: str, **kwargs: Any) -> bool:
        """Push one of the lazily imported screens (cache, metrics, history)."""
        module_name, class_name = LAZY_SCREENS[name]
        try:
            module = __import__(module_name, fromlist=[class_name])
            screen_class = getattr(module, class_name)
        except (ImportError, AttributeError):
            self.notify(f"The {name} screen is not available yet", severity="warning")
            return False
        if isinstance(self.screen, screen_class):  # already on it: a second copy needs two escapes
            return True
        try:
            self.push_screen(screen_class(**kwargs))
        except Exception as exc:
            self.notify(str(exc), title=f"Cannot open {name}", severity="error")
            return False
        return True

    def action_cache(self) -> None:
        self.open_screen("cache")

    def action_history(self) -> None:
        self.open_screen("history")

    def action_metrics(self) -> None:
        run_screen = _run_screen_class()
        run_id = self.screen.run_id if run_screen and isinstance(self.screen, run_screen) else None
        self.open_screen("metrics", run_id=run_id)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        running = self.running_runs()
        if not running:
            self.exit()
            return
        if self._quit_question is not None and self.screen is self._quit_question:
            return  # ctrl+q again: the question is on show

        def answered(yes: bool | None) -> None:
            self._quit_question = None
            if yes:
                self.stop_runs_and_exit()

        names = ", ".join(run.workflow.name for run in running[:3])
        question = ConfirmScreen(f"{len(running)} run(s) still running ({names}). "
                                 "Quit and cancel them?", yes="Quit", no="Stay")
        self._quit_question = question
        self.push_screen(question, answered)

    # -- palette and errors ------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        seen: set[str] = set(getattr(screen, "PALETTE_CONDITIONAL", ()))
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            about = f"{binding.tooltip} · " if binding.tooltip else ""  # as in help: no action names
            yield SystemCommand(f"{binding.description} ({self.get_key_display(binding)})",
                                f"{about}binding id {binding.id or key}",
                                partial(self.run_action, binding.action, active.node))

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification shows its text as written: messages carry task ids, errors
        and paths (user text), so markup is never parsed and control characters are
        shown as visible escapes, whoever calls (screens and widgets call this too)."""
        super().notify(visible(message, multiline=True), title=visible(title),
                       severity=severity, timeout=timeout, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            log.debug("worker %s failed", event.worker.name, exc_info=error)
            self.notify(str(error) or type(error).__name__, title="Error", severity="error")


def main() -> None:
    from deeptui.settings import load_settings

    from deeptui.cache import claim_cache_dir

    try:
        settings = load_settings()
        claim_cache_dir(settings.cache_config())  # refused before the screen opens
    except DeeptuiError as exc:
        raise SystemExit(f"deeptui: error: {exc}") from None
    store = None
    try:
        from deeptui.store import RunStore

        store = RunStore(settings.db)
    except Exception as exc:  # the app still runs, without history
        print(f"deeptui: run history disabled: {exc}")
    try:
        app = DeeptuiApp(settings, store=store)
        app.run()
        if app.error:
            raise SystemExit(app.error)
    finally:
        if store is not None and hasattr(store, "close"):
            store.close()


if __name__ == "__main__":
    main()
