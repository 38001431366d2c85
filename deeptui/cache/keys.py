"""Result-cache keys: what decides a task's result, hashed from canonical JSON.

`key_material` lists what a key covers (the task's definition, the model and,
optionally, its direct dependencies' outputs); `cache_key` is the sha256 of its
canonical JSON. Bump `KEY_VERSION` when the material changes, so old entries miss.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from deeptui.models import TaskDefinition

KEY_VERSION = 1  # bump when the key material changes, so old entries miss


def _jsonable(value: Any) -> Any:
    """Fallback for canonical JSON: a stable text for values JSON lacks."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(canonical_json(item) for item in value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return {"bytes_sha256": hashlib.sha256(value).hexdigest()}
    return f"{type(value).__qualname__}:{value!r}"


def _string_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _string_keys(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_string_keys(item) for item in value]
    return value


# One encoder for every key: json.dumps with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            default=_jsonable)


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON text: equal values give equal text."""
    try:
        return _ENCODER.encode(value)
    except TypeError:  # keys of mixed types cannot be sorted: compare them as text
        return canonical_json(_string_keys(value))


def key_material(
    task: TaskDefinition,
    dependency_outputs: Mapping[str, Any],
    model_name: str | None,
    include_dependencies: bool = True,
) -> dict[str, Any]:
    """What a cache key hashes: the task's definition, the model, and (when
    `include_dependencies`) the outputs of the task's direct dependencies."""
    material: dict[str, Any] = {
        "v": KEY_VERSION,
        "task_id": task.id,
        "description": task.description,
        "parameters": task.parameters,
        "capabilities": sorted(str(c) for c in task.required_capabilities),
        "skills": sorted(task.required_skills),
        "task_type": task.task_type,
        "agent_type": task.agent_type,
        "expected_output_type": task.expected_output_type,
        "model": model_name,
    }
    if include_dependencies:
        material["dependencies"] = {
            dep: dependency_outputs[dep] for dep in task.depends_on if dep in dependency_outputs
        }
    return material


def cache_key(
    task: TaskDefinition,
    dependency_outputs: Mapping[str, Any],
    model_name: str | None,
    include_dependencies: bool = True,
) -> str:
    """The sha256 (hex) of the canonical JSON of `key_material`."""
    material = key_material(task, dependency_outputs, model_name, include_dependencies)
    # surrogatepass: text Python decoded from non-UTF-8 bytes (argv, file names) still hashes
    text = canonical_json(material).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()
