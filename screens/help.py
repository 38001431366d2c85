"""The `?` key help: every binding with its id and current key."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Label, Static

from deeptui.keymap import pretty_key, specs
from deeptui.screens.base import DeeptuiModalScreen
from deeptui.widgets.bindings import bindings

SCOPE_TITLES = {
    "app": "Everywhere", "start": "Start screen", "parameters": "Parameters screen",
    "run": "Run screen", "dag": "Run screen: DAG panel", "graph": "Run screen: DAG graph",
    "dag_view": "Run screen: DAG (graph or list)", "cache": "Cache inspector",
    "metrics": "Metrics dashboard", "history": "History", "history_table": "History: run table",
    "approvals": "Run screen: approvals list", "diff": "Diff review",
    "log": "Run screen: the log", "log_search": "Run screen: log search",
    "output": "Output viewer",
    "help": "This help", "confirm": "Yes/no questions",
}


def key_table(keymap: dict[str, str]) -> Table:
    """Every binding: scope, key (the user's if rebound), action and id."""
    table = Table(box=None, padding=(0, 2), expand=True, show_edge=False)
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    table.add_column("binding id", style="dim", no_wrap=True)
    scope = None
    for spec in specs():
        if spec.scope != scope:
            scope = spec.scope
            table.add_row("", "", "")
            table.add_row(f"[b]{SCOPE_TITLES.get(scope, scope)}[/b]", "", "")
        table.add_row(pretty_key(keymap.get(spec.id, spec.key)), spec.description, spec.id)
    return table


class HelpScreen(DeeptuiModalScreen[None]):
    """The key help: press escape, q or ? (or click Close) to leave."""

    BINDINGS = bindings("help")

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 84; max-width: 100%; height: 90%; border: thick $primary;
                            background: $surface; padding: 0 1; }
    HelpScreen VerticalScroll { height: 1fr; }
    HelpScreen #help-close { dock: bottom; width: 100%; }
    """

    def compose(self) -> ComposeResult:
        keymap = self.app.settings.keymap or {}
        with Vertical():
            yield Label("[b]deeptui keys[/b] — rebind any id in config.toml under \\[keymap]",
                        id="help-title")
            with VerticalScroll():
                yield Static(key_table(keymap))
            yield Button("Close", id="help-close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
