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


KEY_VERSION = 2  # 2: a list of parts + dependency outputs apart; bump when the key material changes, so old entries miss


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


_encode_string = json.encoder.encode_basestring  # the C encoder's, as ensure_ascii=False uses

# One encoder for every key: json.dumps with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            default=_jsonable)


def encode_text(text: str) -> str:
    """A string as canonical JSON (what `canonical_json` gives for it, without its setup)."""
    return _encode_string(text)


# The C encoder behind _ENCODER, built once: JSONEncoder.encode sets one up per call,
# which is most of the cost of a key's small text. No circular-reference markers: a
# value that contains itself raises RecursionError instead of ValueError.
_C_ENCODE = (None if json.encoder.c_make_encoder is None else json.encoder.c_make_encoder(
    None, _jsonable, json.encoder.encode_basestring, None, ":", ",", True, False, True))


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON text: equal values give equal text."""
    try:
        if isinstance(value, str):
            return _encode_string(value)
        if _C_ENCODE is not None:
            return "".join(_C_ENCODE(value, 0))
        return _ENCODER.encode(value)
    except TypeError:  # keys of mixed types cannot be sorted: compare them as text
        return canonical_json(_string_keys(value))
