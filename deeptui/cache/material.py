"""What the built-in cache-policy parts put in a key, in one call (`fused_material`), and
a callable's source digest (what ``CALLABLE_SOURCE`` hashes, memoised per function)."""

from __future__ import annotations

import functools
import hashlib
import inspect
import marshal
import weakref
from collections.abc import Callable
from typing import Any

from deeptui.cache.keys import HELD, KEY_VERSION, canonical_json, flat
from deeptui.models import TaskDefinition


def fused_material(task: TaskDefinition, model_name: str | None,
                    function: Callable[..., Any] | None, definition: bool, model: bool,
                    parameters: bool, source: bool) -> tuple[Any, ...] | str:
    """What the built-in parts' adders append, in name order, in one call: a list a later
    change to the task cannot reach (nested parameters: its canonical JSON, now)."""
    held = True
    material: list[Any] = [KEY_VERSION]
    if definition:
        caps, skills = task.required_capabilities, task.required_skills
        material += ("definition", task.id, task.description,
                     tuple(sorted(map(str, caps))) if caps else (),
                     tuple(sorted(skills)) if skills else (),
                     task.task_type, task.agent_type, task.expected_output_type)
    if model:
        held = type(model_name) in HELD
        material += ("model", model_name)
    params_at = None
    if parameters:
        params = task.parameters
        for name, value in params.items():  # held as pairs when flat, else encoded now
            if type(value) not in HELD or type(name) is not str:
                held = False
                break
        params_at = len(material) + 1
        material += ("parameters", params)
    if source:
        material += ("source", None if function is None else source_digest(function))
    if not held:
        return canonical_json(material)
    if params_at is not None:  # flat (name, value, ...) by name: equal parameters, equal
        pairs = material[params_at]  # material (a dict would keep the tuple tracked by the GC)
        material[params_at] = flat(sorted(pairs.items()) if len(pairs) > 1 else pairs.items())
    # immutable values only (what JSON encodes as a list): the collector untracks them
    return tuple(material)


_digests: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def source_digest(fn: Callable[..., Any]) -> str:
    """The sha256 of the function's source (memoised per function object)."""
    try:
        return _digests[fn]
    except (KeyError, TypeError):  # TypeError: not weakly referenceable, or unhashable
        pass
    digest = hashlib.sha256(_source_text(fn).encode("utf-8", "surrogatepass")).hexdigest()
    try:
        _digests[fn] = digest
    except TypeError:
        pass
    return digest


def _source_text(fn: Any) -> str:
    """The function's source code; its bytecode when there is none (a REPL, a C function)."""
    target, extra = fn, ""
    if isinstance(fn, functools.partial):  # the function's source, and what is bound to it
        target, extra = fn.func, repr((fn.args, sorted(fn.keywords.items())))
    for candidate in (target, getattr(target, "__func__", None), type(target)):
        if candidate is None:
            continue
        try:
            return inspect.getsource(candidate) + extra
        except (OSError, TypeError):
            continue
    code = getattr(target, "__code__", None)
    if code is not None:
        return marshal.dumps(code).hex() + extra
    return f"{type(target).__module__}.{getattr(target, '__qualname__', type(target).__qualname__)}"
