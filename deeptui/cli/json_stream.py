"""A JSON document written with one of its lists streamed: the text of
``json.dumps(document, indent=2)``, made an item at a time, so a run's 100,000 tasks are
never a list of dicts in memory nor formatted by json's pure-Python indenting encoder."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO


def _scalar(value: Any, default: Callable[[Any], Any] | None) -> str:
    """``value`` as json.dumps writes it inside an indented document."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value, indent=2, default=default).replace("\n", "\n      ")


def _item(item: dict[str, Any], default: Callable[[Any], Any] | None) -> str:
    if not item:
        return "{}"
    fields = ",\n      ".join(f"{encode_basestring_ascii(key)}: {_scalar(value, default)}"
                               for key, value in item.items())
    return "{\n      " + fields + "\n    }"


def write_document(out: TextIO, document: dict[str, Any], streamed: str,
                   items: Iterable[dict[str, Any]], *,
                   default: Callable[[Any], Any] | None = None, chunk: int = 1000) -> None:
    """Write ``document`` with ``items`` (dicts with string keys) as the list under its key
    ``streamed`` (where that key is in ``document``), then a newline, exactly as
    ``json.dumps(document, indent=2, default=default)`` would with the list in place."""
    out.write("{")
    for n, (key, value) in enumerate(document.items()):
        out.write(("," if n else "") + "\n  " + encode_basestring_ascii(key) + ": ")
        if key != streamed:
            out.write(json.dumps(value, indent=2, default=default).replace("\n", "\n  "))
            continue
        batch: list[str] = []
        empty = True
        for item in items:
            batch.append(("[\n    " if empty else ",\n    ") + _item(item, default))
            empty = False
            if len(batch) >= chunk:
                out.write("".join(batch))
                batch.clear()
        out.write("[]" if empty else "".join(batch) + "\n  ]")
    out.write("\n}\n" if document else "}\n")
