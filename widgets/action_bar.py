"""`ActionBar`: every action of a screen as a clickable "key label" item, wrapping onto more rows.

Textual's Footer is one row that cuts off what does not fit; this bar wraps
between items instead, so at 80 columns every action stays on screen and a
mouse user can click it. Items come from the bindings of the screen, the app and
the widgets named (so a rebound key shows its new key) in the order given by
binding id; a click runs the action where its binding lives.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.dom import DOMNode
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

    def __init__(self, ids: Sequence[tuple[str, str]], *, optional: Sequence[str] = (),
                 widgets: Sequence[str] = (), id: str | None = None) -> None:
        """``ids``: (binding id, short label) pairs, in the order shown; ``optional`` ids
        are left out where they would add a row (kept in the order given: first first);
        ``widgets``: selectors of the screen's widgets whose own bindings are offered too."""
        super().__init__("", id=id)
        self.items = list(ids)
        self.optional = tuple(optional)
        self.widgets = tuple(widgets)
        self.positions: dict[str, tuple[int, int]] = {}  # binding id -> (x, y) of its item
        self.targets: dict[str, tuple[DOMNode, str]] = {}  # binding id -> (node, action)

    def on_mount(self) -> None:
        self.rebuild()

    def on_resize(self) -> None:
        self.rebuild()

    def _found(self) -> dict[str, tuple[str, DOMNode, str]]:
        """binding id -> (key as shown, node, action), after the user's keymap."""
        # The bindings of the named widgets, the screen and the app, whatever has focus (an
        # Input hides printable keys from `active_bindings`), with the user's keymap applied.
        nodes = [node for node in (next(iter(self.screen.query(selector).results()), None)
                                   for selector in self.widgets) if node is not None]
        found: dict[str, tuple[str, DOMNode, str]] = {}
        for node in (*nodes, self.screen, self.app):
            bindings = node._bindings.copy()
            bindings.apply_keymap(self.app._keymap)
            for _key, binding in bindings:
                if binding.id and binding.id not in found:
                    found[binding.id] = (self.app.get_key_display(binding), node, binding.action)
        if self.app.ENABLE_COMMAND_PALETTE:
            found.setdefault("palette", (_key_display(self.app.COMMAND_PALETTE_BINDING),
                                         self.app, "command_palette"))
        return found

    async def action_press(self, binding_id: str) -> None:
        """A click on an item: its action, run where its binding lives."""
        if binding_id in self.targets:
            node, action = self.targets[binding_id]
            await self.app.run_action(action, node)

    def rebuild(self) -> None:
        """Redraw the items, wrapping between items (never inside one) to the bar's width."""
        width = max(20, (self.content_size.width or self.app.size.width - 1))
        found = self._found()
        items: dict[str, Content] = {}
        self.targets = {}
        for binding_id, label in self.items:
            if binding_id in found:
                key, node, action = found[binding_id]
                self.targets[binding_id] = (node, action)
                items[binding_id] = Content.from_markup(
                    f"[@click=press('{binding_id}')][bold $footer-key-foreground]$key[/] $label[/]",
                    key=key, label=label)
        # an optional item is kept only where it adds no row to what the others need
        shown = [i for i in items if i not in self.optional]
        rows = _rows(_layout(shown, items, width))
        for candidate in (i for i in self.optional if i in items):
            trial = [i for i in items if i in shown or i == candidate]
            if _rows(_layout(trial, items, width)) <= rows:
                shown = trial
        self.positions = _layout(shown, items, width)
        lines: list[list[Content]] = [[] for _ in range(_rows(self.positions))]
        for binding_id in shown:
            line = lines[self.positions[binding_id][1]]
            if line:
                line.append(Content("  "))
            line.append(items[binding_id])
        self.update(Content("\n").join(Content("").join(line) for line in lines))


def _layout(ids: list[str], items: dict[str, Content], width: int) -> dict[str, tuple[int, int]]:
    """Where each item goes, in order, two spaces apart, wrapping before one that does not fit."""
    positions: dict[str, tuple[int, int]] = {}
    x = y = 0
    for binding_id in ids:
        size = len(items[binding_id].plain)
        if x and x + 2 + size > width:
            x, y = 0, y + 1
        elif x:
            x += 2
        positions[binding_id] = (x, y)
        x += size
    return positions


def _rows(positions: dict[str, tuple[int, int]]) -> int:
    return max((y for _, y in positions.values()), default=0) + 1


def _key_display(key: str) -> str:
    return key.replace("ctrl+", "^")
