"""The parameter values last used for each template, remembered between sessions.

One JSON file, ``last_parameters.json`` in deeptui's data directory (beside the run
history): ``{template name: {parameter: value}}``. The form shows them instead of the
defaults next time. A file that cannot be read or is not that shape is ignored (the
form shows the defaults) and replaced by the next run's values: the file is deeptui's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FILE_NAME = "last_parameters.json"


def values_path() -> Path:
    """``<user data dir>/deeptui/last_parameters.json``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("deeptui")) / FILE_NAME


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def last_values(template: str, path: Path | None = None) -> dict[str, Any]:
    """The values last used for ``template`` ({} when none were remembered)."""
    found = _read(path or values_path()).get(template)
    return found if isinstance(found, dict) else {}


def remember_values(template: str, values: dict[str, Any], path: Path | None = None) -> Path:
    """Remember ``values`` (JSON-able) as ``template``'s last ones; the file written.
    Raises OSError when it cannot be written."""
    path = path or values_path()
    data = _read(path)
    data[template] = values
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)  # whole or not at all
    return path
