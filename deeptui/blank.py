"""Blank models built without validating their defaults again: a run's pending results
(one per task, made before the run starts, sharing one zero usage) and a zero usage.

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
ZERO_FIELDS = _ZERO  # a zero usage's fields (`usage.__dict__ == ZERO_FIELDS`: one call)
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
    """``TaskResult(task_id=task_id)`` of each task, by id: a run's results before it starts
    (`_instance`, inline: a 10,000-task run makes 10,000 models here).

    They share one zero usage, made for this call: "no usage yet", which a task that ends
    without counting any (a cache hit, an inline callable, a skip) keeps. A task's attempts
    count into a usage of its own, which `own_usage` gives its result when it starts
    (10,000 usage models fewer for the collector to make, track and walk every run)."""
    results = {}
    pending = _PENDING.copy
    usage = zero_usage()
    for task_id in task_ids:
        values = pending()
        values["task_id"] = task_id
        values["usage"] = usage
        results[task_id] = result = _new(TaskResult)
        _set_dict(result, values)
        _set_fields(result, {"task_id"})
        _set_extra(result, None)
        _set_private(result, None)
    return results


def own_usage(result: TaskResult) -> TaskUsage:
    """The usage the task's attempts count into: the result's, replaced first by a new zero
    one of its own while it has counted nothing (it may be the zero usage `pending_results`
    shares). Set as pydantic's __setattr__ would, without marking the field set."""
    usage = result.usage
    if not (usage.input_tokens or usage.output_tokens or usage.requests
            or usage.cost_usd is not None):
        usage = result.__dict__["usage"] = zero_usage()
    return usage


# the same objects pydantic builds (checked at import: a pydantic upgrade could differ)
for _built, _validated in ((pending_results(["t"])["t"], TaskResult(task_id="t")),
                          (zero_usage(), TaskUsage())):
    if not all(getattr(_built, name) == getattr(_validated, name)
               for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
                            "__pydantic_private__")):
        raise RuntimeError(f"deeptui.blank: pydantic builds {type(_built).__name__} differently")
