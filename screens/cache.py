"""The cache inspector screen: entries, hit/miss statistics, invalidate, clear.

Every binding has an id (for keymaps); the app lists the active screen's
bindings in the command palette (`DeeptuiApp.get_system_commands`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Footer, Header, Label

from deeptui.errors import DeeptuiError
from deeptui.screens.base import DeeptuiScreen
from deeptui.screens.confirm import ConfirmScreen
from deeptui.widgets.bindings import bindings
from deeptui.widgets.cache_table import CacheStats, CacheTable

if TYPE_CHECKING:
    from deeptui.orchestrator import TaskOrchestrator


class CacheScreen(DeeptuiScreen[None]):
    """``CacheScreen(refresh_interval=2.0)``: the orchestrator's result cache.

    Reads ``self.app.orchestrator`` (its ``cache.entries()`` and
    ``get_cache_stats()``), acts through ``invalidate_cache`` and ``clear_cache``.
    """

    TITLE = "Cache"
    DEFAULT_CSS = """
    CacheScreen #cache-stats {
        height: auto; border: round $primary; border-title-color: $text-primary; padding: 0 1;
    }
    CacheScreen #cache-entries { height: 1fr; border: round $primary; }
    CacheScreen #cache-empty { height: auto; padding: 0 1; color: $text-muted; }
    CacheScreen #cache-buttons { height: auto; padding: 0 1; }
    CacheScreen #cache-buttons Button { margin-right: 1; min-width: 10; }
    """
    BINDINGS = bindings("cache")

    def __init__(self, refresh_interval: float | None = 2.0) -> None:
        super().__init__()
        self.refresh_interval = refresh_interval

    def compose(self) -> ComposeResult:
        yield Header()
        stats = CacheStats(id="cache-stats")
        stats.border_title = "Statistics"
        yield stats
        table = CacheTable(id="cache-entries")
        table.border_title = "Entries"
        yield table
        yield Label("", id="cache-empty")
        with Horizontal(id="cache-buttons"):
            yield Button("Invalidate task", id="cache-invalidate", variant="warning",
                         tooltip="Remove the selected task's entries (i)")
            yield Button("Clear all", id="cache-clear", variant="error",
                         tooltip="Remove every entry (ctrl+d)")
            yield Button("Refresh", id="cache-refresh", tooltip="Read the cache again (r)")
            yield Button("Back", id="cache-back", tooltip="Go back (escape)")
        yield Footer()

    @property
    def orchestrator(self) -> TaskOrchestrator:
        return self.app.orchestrator

    def on_mount(self) -> None:
        self.action_reload()
        self.query_one(CacheTable).focus()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.action_reload)

    # -- actions ------------------------------------------------------------

    def action_reload(self) -> None:
        """Read the entries and statistics again."""
        orchestrator = self.orchestrator
        table = self.query_one(CacheTable)
        empty = self.query_one("#cache-empty", Label)
        try:
            entries = orchestrator.cache.entries()
            stats = orchestrator.get_cache_stats()
        except DeeptuiError as exc:
            self.notify(str(exc), title="Cache unavailable", severity="error")
            return
        table.show_entries(entries)
        self.query_one(CacheStats).show_stats(stats)
        if entries:
            empty.update("")
            empty.display = False
        else:
            empty.display = True
            empty.update("The cache is empty: results are stored here as tasks complete.")

    def action_invalidate(self) -> None:
        """Remove every entry of the task under the cursor."""
        task_id = self.query_one(CacheTable).selected_task_id
        if task_id is None:
            self.notify("Select a cache entry first.", severity="warning")
            return
        try:
            removed = self.orchestrator.invalidate_cache(task_id)
        except DeeptuiError as exc:
            self.notify(str(exc), title="Invalidate failed", severity="error")
            return
        plural = "entry" if removed == 1 else "entries"
        self.notify(f"Removed {removed} {plural} of task '{task_id}'.")
        self.action_reload()

    def action_clear(self) -> None:
        """Ask, then remove every entry."""
        if not self.query_one(CacheTable).row_count:
            self.notify("The cache is already empty.")
            return
        self.app.push_screen(
            ConfirmScreen("Remove every cache entry? Tasks will run again next time.",
                          yes="Clear all", no="Cancel"),
            self._clear_confirmed,
        )

    def _clear_confirmed(self, confirmed: bool | None) -> None:
        if not confirmed:
            return
        try:
            removed = self.orchestrator.clear_cache()
        except DeeptuiError as exc:
            self.notify(str(exc), title="Clear failed", severity="error")
            return
        self.notify(f"Cleared the cache ({removed} entries).")
        self.action_reload()

    def action_back(self) -> None:
        self.app.pop_screen()

    @on(Button.Pressed, "#cache-buttons Button")
    async def _button(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"cache-invalidate": "invalidate", "cache-clear": "clear",
                  "cache-refresh": "reload", "cache-back": "back"}[event.button.id or ""]
        await self.run_action(action)
