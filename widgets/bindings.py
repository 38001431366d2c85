"""Textual `Binding` objects (with ids, so users can rebind them) built from deeptui.keymap."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from deeptui.keymap import specs


def bindings(scope: str) -> list[Binding]:
    """Textual bindings (with ids) for one scope of the keymap."""
    return [
        Binding(spec.key, spec.action, spec.description, show=spec.show, id=spec.id,
                priority=spec.priority, tooltip=spec.tooltip)
        for spec in specs(scope)
    ]


def key_for(node: Any, binding_id: str) -> str:
    """The key shown for ``binding_id`` among ``node``'s bindings, the user's if rebound."""
    found = node._bindings.copy()
    found.apply_keymap(node.app._keymap)
    for _key, binding in found:
        if binding.id == binding_id:
            return str(node.app.get_key_display(binding))
    return binding_id
