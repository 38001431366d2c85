"""The ``DEFAULT`` policy's key values, in one call: what a run builds for every task it
looks up, so it reads the task's fields once and holds plain values.

`default_values` gives the values a `PreparedKey` of ``DEFAULT`` holds (the same material
`fused_material` builds, the dependency outputs `CachePolicy._prepared` holds, so the same
key) without the `PreparedKey` around them: a lookup that surely misses stores the task's
result under them as they are (`ResultCache.put`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from deeptui.cache.keys import HELD, KEY_VERSION, canonical_json, encode_text, flat
from deeptui.cache.material import fused_material, source_digest
from deeptui.models import TaskDefinition

HELD_OUTPUTS = 16  # a key holds at most this many dependency outputs as values, else text
PARAMS_AT = 12  # where DEFAULT's material holds the parameters (`PreparedKey`'s params_at)

# the fields the key reads, from the model's __dict__ in one call (a pydantic model's
# attribute reads go through its __getattr__ hook: ~35 ns each)
_FIELDS = itemgetter("id", "description", "required_capabilities", "required_skills",
                     "task_type", "agent_type", "expected_output_type", "parameters", "writes")

# the last function digested and its digest, as one tuple (swapped whole)
_last_source: list[tuple[Any, str | None]] = [(None, None)]


def default_values(task: TaskDefinition, outputs: Mapping[str, Any], model_name: str | None,
                   function: Callable[..., Any] | None,
                   memo: dict[str, tuple[Any, str]] | None, files: str | None,
                   with_dependencies: bool) -> tuple[Any, ...] | None:
    """The values of ``DEFAULT``'s key of the task (``with_dependencies``: False for DEFAULT
    without DEPENDENCY_OUTPUTS): (material, dependency outputs, files, `PARAMS_AT`), or None
    when ``SHELL_OPT_IN`` does not cache it. ``outputs``: keyed by the task's dependencies."""
    if function is None:
        digest = None
    elif function is (last := _last_source[0])[0]:
        digest = last[1]
    else:
        if getattr(function, "never_cached", False):
            return None
        digest = source_digest(function)
        _last_source[0] = (function, digest)
    tid, description, caps, skills, task_type, agent_type, expected, params, writes = (
        _FIELDS(task.__dict__))
    if writes or (task_type == "shell" and not params.get("cache")):
        return None
    held = type(model_name) in HELD
    if held and len(params) == 1:  # (most tasks: a callable's name, a prompt, a command)
        (name,) = params  # (not .items(): a method call more)
        value = params[name]
        held = type(value) in HELD and type(name) is str
        held_params: tuple[Any, ...] = (name, value)
    elif held:
        for name, value in params.items():
            if type(value) not in HELD or type(name) is not str:
                held = False
                break
        else:  # flat (name, value, ...) by name: equal parameters, equal material
            held_params = flat(sorted(params.items()))
    if held:
        material: tuple[Any, ...] | str = (
            KEY_VERSION, "definition", tid, description,
            tuple(sorted(map(str, caps))) if caps else (),
            tuple(sorted(skills)) if skills else (), task_type, agent_type, expected,
            "model", model_name, "parameters", held_params, "source", digest)
    else:
        material = fused_material(task, model_name, function, True, True, True, True)
    if not with_dependencies:
        return (material, None, files, PARAMS_AT)
    deps: tuple[Any, ...] | str | None = None
    count = len(outputs)
    if count == 1:
        (dep,) = outputs
        value = outputs[dep]
        if type(value) in HELD:
            deps = (dep, value)
    elif count == 0:
        deps = ()
    elif count == 2:
        (one, first), (two, second) = outputs.items()
        if type(first) in HELD and type(second) in HELD:
            deps = (one, first, two, second) if one < two else (two, second, one, first)
    elif count == 3:  # (by name, as below, without sorting the pairs)
        one, two, three = sorted(outputs)
        first, second, third = outputs[one], outputs[two], outputs[three]
        if type(first) in HELD and type(second) in HELD and type(third) in HELD:
            deps = (one, first, two, second, three, third)
    elif count <= HELD_OUTPUTS:
        items = sorted(outputs.items())
        for _, value in items:
            if type(value) not in HELD:
                break
        else:
            deps = flat(items)
    if deps is None:  # (outputs not all immutable, or many: their text, one object)
        deps = dependency_text(task.depends_on, outputs, memo)
    return (material, deps, files, PARAMS_AT)


def dependency_text(depends_on: list[str], outputs: Mapping[str, Any],
                    memo: dict[str, tuple[Any, str]] | None) -> str:
    """The canonical JSON of ``{dependency: output}`` for the task's direct dependencies,
    each output's text taken from the run's memo when it was encoded before."""
    if len(outputs) > HELD_OUTPUTS and all(map(HELD.__contains__, map(type, outputs.values()))):
        # (a wide fan-in of small outputs: one call of the C encoder, the same text; a
        # 10,000-task fan's sink took 6.6 ms one dependency at a time, 3.6 ms so)
        if type(outputs) is not dict or outputs.keys() != set(depends_on):
            outputs = {dep: outputs[dep] for dep in depends_on if dep in outputs}
        return canonical_json(outputs)
    parts = []
    for dep in sorted(set(depends_on)) if len(depends_on) > 1 else depends_on:
        if dep not in outputs:
            continue
        value = outputs[dep]
        if value is None:
            text = "null"
        elif memo is None:
            text = canonical_json(value)
        else:
            seen = memo.get(dep)
            if seen is not None and seen[0] is value:
                text = seen[1]
            else:
                text = canonical_json(value)
                memo[dep] = (value, text)
        parts.append(encode_text(dep) + ":" + text)
    return "{" + ",".join(parts) + "}"
