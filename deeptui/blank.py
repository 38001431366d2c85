"""Blank models built without validating their defaults again: a run's pending results
(one per task, made before the run starts) and the zero usage of a cached hit.

Each is the same object pydantic's validation builds (checked when this module is
imported: a pydantic upgrade that changed its instance layout would fail loudly here),
at about two thirds of the cost, which a 10,000-task run pays 10,000 times.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deeptui.models import TaskResult, TaskUsage

from pydantic import BaseModel

_new = object.__new__
_PENDING, _ZERO = TaskResult(task_id="").__dict__, TaskUsage().__dict__
# the slots a pydantic model instance holds, set through their descriptors (what
# object.__setattr__ reaches, without its lookup: this runs twice per task of a run)
_set_dict, _set_fields, _set_extra, _set_private = (
    BaseModel.__dict__[name].__set__ for name in
    ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


def _instance(cls: type[Any], values: dict[str, Any], fields_set: set[str]) -> Any:
    """A pydantic model instance holding ``values``, as its validation would leave it."""
    instance = _new(cls)
    _set_dict(instance, values)
    _set_fields(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def zero_usage() -> TaskUsage:
    """``TaskUsage()``: a new one each time (its owner may add to it)."""
    return _instance(TaskUsage, _ZERO.copy(), set())  # type: ignore[no-any-return]


def pending_results(task_ids: Iterable[str]) -> dict[str, TaskResult]:
    """``TaskResult(task_id=task_id)`` of each task, by id, each with its own zero usage: a
    run's results before it starts (`_instance`, inline: a 10,000-task run makes 20,000
    models here)."""
    results = {}
    pending, zero = _PENDING.copy, _ZERO.copy
    for task_id in task_ids:
        usage = _new(TaskUsage)
        _set_dict(usage, zero())
        _set_fields(usage, set())
        _set_extra(usage, None)
        _set_private(usage, None)
        values = pending()
        values["task_id"] = task_id
        values["usage"] = usage
        results[task_id] = result = _new(TaskResult)
        _set_dict(result, values)
        _set_fields(result, {"task_id"})
        _set_extra(result, None)
        _set_private(result, None)
    return results


# the same objects pydantic builds (checked at import: a pydantic upgrade could differ)
for _built, _validated in ((pending_results(["t"])["t"], TaskResult(task_id="t")),
                          (zero_usage(), TaskUsage())):
    if not all(getattr(_built, name) == getattr(_validated, name)
               for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
                            "__pydantic_private__")):
        raise RuntimeError(f"deeptui.blank: pydantic builds {type(_built).__name__} differently")
