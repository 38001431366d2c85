"""`ActionBar`: every action of a screen as a clickable "key label" item, wrapping onto more rows.

Textual's Footer is one row that cuts off what does not fit; this bar wraps
between items instead, so at 80 columns every action stays on screen and a
mouse user can click it. Items come from the screen's and app's bindings (so a
rebound key shows its new key) in the order given by binding id.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static


class ActionBar(Static):
    """Clickable items, one per binding id, laid out like a footer that wraps."""

    DEFAULT_CSS = """
    ActionBar {
        height: auto;
        width: 1fr;
        background: $footer-background;
        color: $footer-description-foreground;
        padding: 0 0 0 1;
        link-style: none;
        link-color: $footer-description-foreground;
        link-background: $footer-description-background;
        link-style-hover: bold not underline;
        link-background-hover: $block-hover-background;
        link-color-hover: $footer-key-foreground;
    }
    """

    def __init__(self, ids: Sequence[tuple[str, str]], *, optional: frozenset[str] = frozenset(),
                 id: str | None = None) -> None:
        """``ids``: (binding id, short label) pairs, in the order shown; ``optional`` ids
        are left out rather than start a row of their own."""
        super().__init__("", id=id)
        self.items = list(ids)
        self.optional = optional
        self.positions: dict[str, tuple[int, int]] = {}  # binding id -> (x, y) of its item

    def on_mount(self) -> None:
        self.rebuild()

    def on_resize(self) -> None:
        self.rebuild()

    def _found(self) -> dict[str, tuple[str, str]]:
        """binding id -> (key as shown, action with its namespace), after the user's keymap."""
        # The screen's and app's own bindings, whatever has focus (an Input hides
        # printable keys from `active_bindings`), with the user's keymap applied.
        found: dict[str, tuple[str, str]] = {}
        for node, namespace in ((self.screen, "screen"), (self.app, "app")):
            bindings = node._bindings.copy()
            bindings.apply_keymap(self.app._keymap)
            for _key, binding in bindings:
                if binding.id and binding.id not in found:
                    found[binding.id] = (self.app.get_key_display(binding),
                                         f"{namespace}.{binding.action}")
        if self.app.ENABLE_COMMAND_PALETTE:
            found.setdefault("palette", (_key_display(self.app.COMMAND_PALETTE_BINDING),
                                         "app.command_palette"))
        return found

    def rebuild(self) -> None:
        """Redraw the items, wrapping between items (never inside one) to the bar's width."""
        width = max(20, (self.content_size.width or self.app.size.width - 1))
        found = self._found()
        lines: list[list[Content]] = [[]]
        column = 0
        self.positions = {}
        for binding_id, label in self.items:
            if binding_id not in found:
                continue
            key, action = found[binding_id]
            item = Content.from_markup(
                f"[@click={action}][bold $footer-key-foreground]$key[/] $label[/]",
                key=key, label=label)
            start = column + 2 if lines[-1] else 0
            if lines[-1] and start + len(item.plain) > width:
                if binding_id in self.optional:
                    continue
                lines.append([])
                start = 0
            if lines[-1]:
                lines[-1].append(Content("  "))
            lines[-1].append(item)
            self.positions[binding_id] = (start, len(lines) - 1)
            column = start + len(item.plain)
        self.update(Content("\n").join(Content("").join(line) for line in lines))


def _key_display(key: str) -> str:
    return key.replace("ctrl+", "^")
