"""Canonical JSON, the text a result-cache key hashes (equal values give equal text), and
`PreparedKey`: what a key hashes, taken when a task is looked up and hashed when needed.

What goes into a key is the policies' business (`deeptui.cache.policies`); a key is
the sha256 of the canonical JSON of what they put in it. Bump `KEY_VERSION` when
the meaning of a part changes, so old entries miss.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from itertools import chain
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


# values a key holds as they are (unencoded): equal values of these types encode equally,
# so two keys compare without hashing (True == 1 == 1.0 in Python, not in JSON)
HELD = frozenset({type(None), str, int})


class PreparedKey:
    """A task's key before it is hashed: what the parts put in it, taken when the task was
    looked up (values a task could change later are copied or encoded then).

    ``task_id``: the task's id when the key holds its definition (so only an entry of the
    same task can have this key; the memory tier looks there before hashing), else None.
    ``values``: one tuple of immutable values (material, dependency outputs, files, where
    the material holds the parameters), what the memory tier stores and compares; None
    once hashed. Equal values are one key (`HELD` types or text: equal values, equal JSON).
    """

    __slots__ = ("task_id", "values", "_hex")

    def __init__(self, task_id: str | None, material: tuple[Any, ...] | str,
                 deps: tuple[Any, ...] | str | None, files: str | None,
                 params_at: int | None = None) -> None:
        self.task_id = task_id
        # the parts' values or their canonical JSON; (dependency, immutable output, ...)
        # flat, their canonical JSON, or None; the files' fingerprint; where the parameters are
        self.values: tuple[Any, ...] | None = (material, deps, files, params_at)
        self._hex: str | None = None

    def hex(self) -> str:
        """The key: sha256 (hex) of the canonical JSON (computed once)."""
        if self._hex is None:
            self._hex = digest(self.values)  # type: ignore[arg-type]
            self.values = None
        return self._hex

    def same(self, other: PreparedKey) -> bool | None:
        """Whether the two are one key, told without hashing when neither was hashed yet;
        None: only hashing can tell."""
        if self.values is None or other.values is None:
            return None if self._hex is None or other._hex is None else self._hex == other._hex
        return self.values == other.values

    @property
    def hashed(self) -> str | None:
        """The key, when it was hashed already."""
        return self._hex

    def __repr__(self) -> str:
        return f"PreparedKey({self.task_id!r}, {self._hex or 'not hashed'})"


def digest(values: tuple[Any, ...]) -> str:
    """The key (sha256 hex of the canonical JSON) of a `PreparedKey`'s ``values``."""
    material, deps, files, params_at = values
    if isinstance(material, str):
        text = material
    else:
        if params_at is not None:
            parts = list(material)
            parts[params_at] = pairs(parts[params_at])
            material = tuple(parts)
        text = canonical_json(material)
    if deps is not None:
        text += "\n" + (deps if isinstance(deps, str) else outputs_text(deps))
    if files is not None:
        text += "\nfiles " + files
    # surrogatepass: text Python decoded from non-UTF-8 bytes (argv, file names) hashes
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def outputs_text(outputs: tuple[Any, ...]) -> str:
    """`dependency_text` of held outputs (flat: dependency, output, ... each one it names)."""
    return "{" + ",".join(
        encode_text(dep) + ":" + ("null" if value is None else canonical_json(value))
        for dep, value in sorted(pairs(outputs).items())) + "}"


def flat(items: Iterable[tuple[Any, Any]]) -> tuple[Any, ...]:
    """``((a, 1), (b, 2))`` as ``(a, 1, b, 2)``: one tuple, not one per pair."""
    return tuple(chain.from_iterable(items))


def pairs(values: tuple[Any, ...]) -> dict[Any, Any]:
    """A `flat` tuple back as a dict."""
    return dict(zip(values[::2], values[1::2]))
