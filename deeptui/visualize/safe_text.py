"""User text made safe to show on a terminal: task ids, names, errors, outputs.

Everything a workflow file or a task's process supplies is shown through this
module, in the CLI and in the app alike:

- control characters (C0, DEL, C1: ESC, BEL, CSI...) become visible escapes
  such as ``\\x1b``, so no id or error can set the window title, clear the
  screen or write the clipboard (OSC 52);
- the text is never parsed as Rich/Textual markup: ``deploy[/]`` and
  ``test[py311]`` show as written, ``[link=...]`` is not a hyperlink. Build
  cells and lines with :func:`text` (a ``rich.text.Text``) or, where a markup
  string is unavoidable, :func:`markup`.

It imports Rich only (never Textual), so engine-side modules may use it.
"""

from __future__ import annotations

from rich.markup import escape as _escape_markup
from rich.text import Text

# C0 controls, DEL and C1 controls: each becomes a visible escape.
_CONTROL = {i: f"\\x{i:02x}" for i in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
# The same, but line breaks and tabs stay (multi-line errors, logs, outputs).
_CONTROL_MULTILINE = {k: v for k, v in _CONTROL.items() if k not in (10, 9)}


def visible(value: object, *, multiline: bool = False) -> str:
    """``value`` as text with its control characters as visible escapes.

    With ``multiline`` newlines and tabs are kept (``\\r`` is still shown, it
    would move the cursor back over the line)."""
    return str(value).translate(_CONTROL_MULTILINE if multiline else _CONTROL)


def text(value: object, style: str = "", *, multiline: bool = False, **kwargs: object) -> Text:
    """A Rich ``Text`` of user text: no markup is parsed, control characters are visible."""
    return Text(visible(value, multiline=multiline), style, **kwargs)  # type: ignore[arg-type]


def markup(value: object, *, multiline: bool = False) -> str:
    """User text to put inside a Rich markup string: control characters visible, '[' escaped."""
    return _escape_markup(visible(value, multiline=multiline))


def one_line(value: object) -> str:
    """The first line of ``value`` (an error, an output) with its control characters visible."""
    lines = str(value).splitlines()
    return visible(lines[0] if lines else "")


__all__ = ["visible", "text", "markup", "one_line"]
