"""Values as the history stores them: outputs as JSON text, times as epoch seconds, task rows,
and the stored workflow definition (``parameters.env`` values masked).

Both sides use it: the writer encodes (`encode_output`, `row_from_result`, `pending_row`),
the readers decode (`decode_output`, `dt`) and read task rows with `SELECT_TASKS`.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from deeptui.models import TaskResult
from deeptui.store.schema import TASK_COLUMNS

log = logging.getLogger("deeptui.store")
_SURROGATES = re.compile("[\ud800-\udfff]")


# `json.dumps(value, ensure_ascii=False)` builds an encoder per call (only the all-defaults
# call shares one): ~1.2 of its ~1.3 us for a short string
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def encode_output(output: Any, where: str) -> tuple[str | None, str]:
    """(text, kind): JSON (kind "json"), or ``str(output)`` (kind "text") with a warning."""
    if output is None:
        return None, "json"
    try:
        text = _dumps(output)
        # lone surrogates (text decoded from non-UTF-8 bytes): escaped, they round-trip exactly
        return (text if utf8(text) is text else json.dumps(output)), "json"
    except (TypeError, ValueError):
        pass
    try:
        from pydantic_core import to_json

        return to_json(output).decode(), "json"  # pydantic models, dataclasses, datetimes
    except Exception:  # noqa: BLE001 - anything else is stored as its text
        log.warning("%s: output of type %s is not JSON-serializable; stored as its text",
                    where, type(output).__name__)
        return utf8(str(output)), "text"


def utf8(text: str | None) -> str | None:
    """``text`` as SQLite can store it: lone surrogates (from non-UTF-8 bytes) become U+FFFD."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


MASKED = "<not stored>"  # what the history keeps of a task's parameters.env value


def definition_json(workflow: Any, keep_env: bool) -> str:
    """The workflow as stored: the values of every task's ``parameters.env`` replaced by
    `MASKED` (secrets are often passed that way) unless ``keep_env``."""
    if keep_env or not any(isinstance(t.parameters.get("env"), dict) and t.parameters["env"]
                           for t in workflow.tasks):
        return workflow.model_dump_json()
    data = workflow.model_dump(mode="json")
    for task in data["tasks"]:
        env = (task.get("parameters") or {}).get("env")
        if isinstance(env, dict):
            task["parameters"]["env"] = {str(k): MASKED for k in env}
    return json.dumps(data, ensure_ascii=False)


def decode_output(text: str | None, kind: str) -> Any:
    if text is None:
        return None
    return json.loads(text) if kind == "json" else text


def ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


# a task row is a list of values in `TASK_COLUMNS` order
SELECT_TASKS = f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks WHERE run_id = ? ORDER BY position"


def row_from_result(run_id: str, position: int, r: TaskResult) -> list[Any]:
    text, kind = encode_output(r.output, f"task '{r.task_id}' of run '{run_id}'")
    u = r.usage
    return [run_id, r.task_id, position, str(r.status), text, kind, r.error, r.skip_reason,
            r.attempts, ts(r.started_at), ts(r.completed_at), r.agent_used, int(r.cached),
            u.input_tokens, u.output_tokens, u.requests, u.cost_usd, 0,
            r.cached_from if r.cached else None, ts(r.cached_at) if r.cached else None]


def pending_row(run_id: str, task_id: str, position: int) -> list[Any]:
    return [run_id, task_id, position, "pending", None, "json", None, None, 0, None, None,
            None, 0, 0, 0, 0, None, 0, None, None]


