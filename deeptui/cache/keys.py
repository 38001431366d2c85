"""Canonical JSON, the text a result-cache key hashes: equal values give equal text.

What goes into a key is the policies' business (`deeptui.cache.policies`); a key is
the sha256 of the canonical JSON of what they put in it. Bump `KEY_VERSION` when
the meaning of a part changes, so old entries miss.
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
