"""How workflows and user text are drawn: diagrams (Mermaid, DOT, ASCII, JSON) and safe text.

`diagram` is `DAGVisualizer` and the file renderer; `labels` escapes a label for each
format; `safe_text` shows user text (ids, names, errors) as written, never as markup
or terminal escapes.
"""

from typing import Any

__all__ = ["STATUS_STYLES", "DAGVisualizer", "VisualizationFormat", "format_for_path",
           "render_to_file", "visualize_workflow"]


def __getattr__(name: str) -> Any:
    """The diagram names, imported on first use (``safe_text`` alone must not load the models)."""
    if name in __all__:
        from deeptui.visualize import diagram

        return getattr(diagram, name)
    raise AttributeError(f"module 'deeptui.visualize' has no attribute {name!r}")
