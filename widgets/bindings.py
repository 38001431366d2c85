"""Textual `Binding` objects (with ids, so users can rebind them) built from deeptui.keymap."""

from __future__ import annotations

from textual.binding import Binding

from deeptui.keymap import specs


def bindings(scope: str) -> list[Binding]:
    """Textual bindings (with ids) for one scope of the keymap."""
    return [
        Binding(spec.key, spec.action, spec.description, show=spec.show, id=spec.id,
                priority=spec.priority, tooltip=spec.tooltip)
        for spec in specs(scope)
    ]
