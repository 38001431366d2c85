"""`DeeptuiScreen`, `DeeptuiModalScreen`: deeptui's screens, whose ``self.app`` is the `DeeptuiApp`.

The one typed seam between the app and its screens: a screen reaches the
engine as ``self.app.orchestrator`` (a `TaskOrchestrator`) and the history as
``self.app.store`` (a `RunStore` or None), typed, with no ``getattr``. The
annotation is for the type checker only (Textual's own `getters.app` idiom):
at run time ``app`` is Textual's, so importing a screen imports neither the
app module nor the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import ModalScreen, Screen, ScreenResultType

if TYPE_CHECKING:
    from textual import getters

    from deeptui.app import DeeptuiApp


class DeeptuiScreen(Screen[ScreenResultType]):
    """A full screen of deeptui."""

    if TYPE_CHECKING:
        app = getters.app(DeeptuiApp)


class DeeptuiModalScreen(ModalScreen[ScreenResultType]):
    """A modal screen of deeptui (drawn over the screen below)."""

    if TYPE_CHECKING:
        app = getters.app(DeeptuiApp)
