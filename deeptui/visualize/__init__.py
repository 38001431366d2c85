"""How workflows and user text are drawn: diagrams (Mermaid, DOT, ASCII, JSON) and safe text.

`diagram` is `DAGVisualizer` and the file renderer; `labels` escapes a label for each
format; `safe_text` shows user text (ids, names, errors) as written, never as markup
or terminal escapes.
"""

from deeptui.visualize.diagram import (
    STATUS_STYLES,
    DAGVisualizer,
    VisualizationFormat,
    format_for_path,
    render_to_file,
    visualize_workflow,
)

__all__ = ["STATUS_STYLES", "DAGVisualizer", "VisualizationFormat", "format_for_path",
           "render_to_file", "visualize_workflow"]
