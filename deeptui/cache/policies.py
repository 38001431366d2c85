"""Cache policies: what decides a task's cached result, in small parts that add up.

Each part says what it hashes (after Prefect's ``cache_policies``): a key is the
sha256 of the canonical JSON of what the parts of a policy put in it. A part may
also decide that a task is not cached at all (``SHELL_OPT_IN``, ``NO_CACHE``).

- ``DEFINITION``: the task's id, description, required capabilities and skills,
  task type, agent type and expected output type;
- ``PARAMETERS``: the task's parameters (its inputs);
- ``DEPENDENCY_OUTPUTS``: the outputs of its direct dependencies;
- ``MODEL``: the name of the model agent tasks run on;
- ``CALLABLE_SOURCE``: a callable task's registered function, by its source code
  (its bytecode when there is no source), so editing the function misses;
- ``SHELL_OPT_IN``: hashes nothing; a shell task (side effects: tests, builds) is
  cached only when its ``parameters.cache`` is true, and a writing agent task never is
  (its result is a diff of the files), nor a callable marked ``never_cached`` (the
  built-in ``noop``: a lookup would cost more than the call);
- ``NO_CACHE``: the task is never cached.

The key text is the canonical JSON of a list (the key version, then each part's name
and values, parts in name order so ``A + B`` keys like ``B + A``), then, when the policy
has ``DEPENDENCY_OUTPUTS``, a newline and the canonical JSON of ``{dependency: output}``.
Each output's text is kept per run (``KeyInputs.output_texts``, by the output object's
identity): a task's output is encoded once however many tasks depend on it.
A run takes a task's key material when it looks the task up (`PreparedKey`) and hashes
it only when needed: the memory cache first looks for an entry of the same task (a run
of misses hashes nothing), the disk cache always hashes.
An agent task on a workspace also hashes the run's files (``KeyInputs.files``: paths,
sizes and modification times, taken once per run), so a review is not reused after
the files it read changed.

``DEFAULT`` is the sum of them all but ``NO_CACHE``; ``CacheConfig(include_dependencies
=False)`` drops ``DEPENDENCY_OUTPUTS`` from it. A task picks its own policy with
``parameters.cache_policy``: ``"default"``, ``"none"``, or a list of part names
(``definition``, ``parameters``, ``dependencies``, ``model``, ``source``); a list is
the task's own choice, so it caches a shell task too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from deeptui.cache.keys import (HELD, KEY_VERSION, PreparedKey, canonical_json, encode_text,
                                flat)
from deeptui.cache.material import fused_material
from deeptui.cache.material import source_digest
from deeptui.errors import WorkflowValidationError
from deeptui.models import TaskDefinition


HELD_OUTPUTS = 16  # a key holds at most this many dependency outputs as values, else text


class KeyInputs(NamedTuple):
    """What a policy may look at: the task, its dependencies' outputs, the model, a
    callable task's registered function, and the run's memo of output texts."""

    task: TaskDefinition
    dependency_outputs: Mapping[str, Any]
    model_name: str | None
    function: Callable[..., Any] | None = None
    # task id -> (output object, its canonical JSON): one run's, so each output is
    # encoded once; the object is held, so its identity cannot be reused by another
    output_texts: dict[str, tuple[Any, str]] | None = None
    # an agent task on a workspace: what the run's files were (an answer about them is
    # stale once they change); None for every other task
    files: str | None = None


class CachePolicy:
    """A sum of parts (``A + B``): ``key`` hashes what every part adds, when all cache."""

    name = ""

    def __init__(self, parts: tuple[CachePolicy, ...] | None = None) -> None:
        self.parts = (self,) if parts is None else parts
        # bound once: a key is computed for every task a run looks up; parts in name
        # order, so the key does not depend on the order they were added in
        ordered = sorted((p for p in self.parts if p.name), key=lambda p: p.name)
        self._adders = tuple(p.add for p in ordered if p.name != "dependencies")
        self._with_dependencies = any(p.name == "dependencies" for p in self.parts)
        # only the built-in parts: one call builds the list (what their adders would)
        names = {p.name for p in ordered}
        self._fused = (None if any(type(p) not in _BUILT_IN for p in ordered) else
                       tuple(n in names for n in ("definition", "model", "parameters",
                                                  "source")))
        self._gates = tuple(p.caches for p in self.parts
                            if type(p).caches is not CachePolicy.caches)
        # where `fused_material` holds the parameters (as pairs): after the version, the
        # definition's 8 values and the model's 2, the name "parameters"
        self._params_at = (None if self._fused is None or not self._fused[2] else
                           2 + 8 * self._fused[0] + 2 * self._fused[1])
        # the one built-in gate (`prepare_task` applies it inline), or None: the general way
        gating = [p for p in self.parts if type(p).caches is not CachePolicy.caches]
        self._gate: CachePolicy | bool | None = (  # (True: no gate)
            True if not gating else gating[0] if len(gating) == 1
            and type(gating[0]) in (ShellOptIn, NoCache) else None)
        # every built-in part but NO_CACHE (DEFAULT, with or without the dependencies):
        # `prepare_task` builds its key in one function (`_default_key`)
        self._default = (self._fused == (True, True, True, True) and self._gate is not None
                         and type(self._gate) is ShellOptIn)

    def caches(self, inputs: KeyInputs) -> bool:
        """Whether the task is cached at all (every part must agree)."""
        return True

    def add(self, inputs: KeyInputs, material: list[Any]) -> None:
        """Append this part's name and what it hashes to ``material``."""

    def __add__(self, other: CachePolicy) -> CachePolicy:
        return CachePolicy(self.parts + other.parts)

    def without(self, name: str) -> CachePolicy:
        return CachePolicy(tuple(p for p in self.parts if p.name != name))

    def key(self, inputs: KeyInputs) -> str:
        """The sha256 (hex) of the canonical JSON of what the parts add (cached or not)."""
        return self.prepare(inputs).hex()

    def prepare(self, inputs: KeyInputs) -> PreparedKey:
        """What the key hashes, taken now (a later change to the task or to an output does
        not change it); hashed when `PreparedKey.hex` is first asked."""
        if self._fused is None:
            material: list[Any] | tuple[Any, ...] | str = [KEY_VERSION]
            for add in self._adders:
                add(inputs, material)  # type: ignore[arg-type]
            material = canonical_json(material)  # a custom part's values may be anything
        else:
            material = fused_material(inputs.task, inputs.model_name, inputs.function,
                                       *self._fused)
        return self._prepared(material, *inputs)

    def _prepared(self, material: tuple[Any, ...] | str, task: TaskDefinition,
                  outputs: Mapping[str, Any], model_name: str | None, function: Any,
                  memo: dict[str, tuple[Any, str]] | None, files: str | None) -> PreparedKey:
        deps: tuple[tuple[str, Any], ...] | str | None = None
        if self._with_dependencies:
            for value in outputs.values() if len(outputs) <= HELD_OUTPUTS else (self,):
                if type(value) not in HELD:  # (many outputs: their text, one object)
                    deps = dependency_text(KeyInputs(task, outputs, model_name, function, memo))
                    break
            else:  # immutable values: held as they are, flat (dependency, output, ...)
                held = [(d, outputs[d]) for d in task.depends_on if d in outputs]
                deps = flat(sorted(dict(held).items()) if len(held) > 1 else held)
        task_id = task.id if self._fused is not None and self._fused[0] else None
        return PreparedKey(task_id, material, deps, files, self._params_at)

    def prepare_task(self, task: TaskDefinition, outputs: Mapping[str, Any],
                     model_name: str | None, function: Callable[..., Any] | None = None,
                     memo: dict[str, tuple[Any, str]] | None = None,
                     files: str | None = None) -> PreparedKey | None:
        """`prepare_if_cached` of these inputs; the built-in parts without building
        `KeyInputs` (a run prepares a key for every task it looks up)."""
        if self._fused is None or self._gate is None:
            return self.prepare_if_cached(KeyInputs(task, outputs, model_name, function, memo,
                                                    files))
        gate = type(self._gate)
        if self._default:  # DEFAULT (with or without dependencies): one call, inline
            return _default_key(task, outputs, model_name, function, memo, files,
                                self._with_dependencies)
        if gate is NoCache or (gate is ShellOptIn and not _shell_opt_in(task, function)):
            return None
        material = fused_material(task, model_name, function, *self._fused)
        return self._prepared(material, task, outputs, model_name, function, memo, files)

    def key_if_cached(self, inputs: KeyInputs) -> str | None:
        """The key, or None when this policy does not cache the task."""
        prepared = self.prepare_if_cached(inputs)
        return None if prepared is None else prepared.hex()

    def prepare_if_cached(self, inputs: KeyInputs) -> PreparedKey | None:
        """`prepare`, or None when this policy does not cache the task."""
        for caches in self._gates:
            if not caches(inputs):
                return None
        return self.prepare(inputs)

    def __repr__(self) -> str:
        return " + ".join(p.name for p in self.parts) or "(nothing)"


_BUILT_IN: set[type] = set()  # filled below: the parts `fused_material` knows


class Definition(CachePolicy):
    name = "definition"

    def add(self, inputs: KeyInputs, material: list[Any]) -> None:
        task = inputs.task
        caps, skills = task.required_capabilities, task.required_skills
        material += ("definition", task.id, task.description,
                     sorted(map(str, caps)) if caps else [],
                     sorted(skills) if skills else [],
                     task.task_type, task.agent_type, task.expected_output_type)


class Parameters(CachePolicy):
    name = "parameters"

    def add(self, inputs: KeyInputs, material: list[Any]) -> None:
        material += ("parameters", inputs.task.parameters)


class DependencyOutputs(CachePolicy):
    """Hashed apart from the other parts: see `dependency_text`."""

    name = "dependencies"


def dependency_text(inputs: KeyInputs) -> str:
    """The canonical JSON of ``{dependency: output}`` for the task's direct dependencies,
    each output's text taken from the run's memo when it was encoded before."""
    outputs, memo = inputs.dependency_outputs, inputs.output_texts
    parts = []
    deps = inputs.task.depends_on
    for dep in sorted(set(deps)) if len(deps) > 1 else deps:
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


class Model(CachePolicy):
    name = "model"

    def add(self, inputs: KeyInputs, material: list[Any]) -> None:
        material += ("model", inputs.model_name)


class CallableSource(CachePolicy):
    name = "source"

    def add(self, inputs: KeyInputs, material: list[Any]) -> None:
        function = inputs.function
        material += ("source", None if function is None else source_digest(function))


class ShellOptIn(CachePolicy):
    name = "shell-opt-in"

    def caches(self, inputs: KeyInputs) -> bool:
        return _shell_opt_in(inputs.task, inputs.function)


def _shell_opt_in(task: TaskDefinition, function: Any) -> bool:
    if task.writes:  # its result is a diff of the files, made again each time
        return False
    if function is not None and getattr(function, "never_cached", False):
        return False  # the built-in no-op: a lookup would cost more than the call
    return task.task_type != "shell" or bool(task.parameters.get("cache"))


class NoCache(CachePolicy):
    name = "none"

    def caches(self, inputs: KeyInputs) -> bool:
        return False


# the last function `_default_key` digested and its digest, as one tuple (swapped whole)
_last_source: list[tuple[Any, str | None]] = [(None, None)]


def _default_key(task: TaskDefinition, outputs: Mapping[str, Any], model_name: str | None,
                 function: Callable[..., Any] | None, memo: dict[str, tuple[Any, str]] | None,
                 files: str | None, with_dependencies: bool) -> PreparedKey | None:
    """`prepare_task` of DEFAULT (``with_dependencies``: or DEFAULT without
    DEPENDENCY_OUTPUTS): ``SHELL_OPT_IN`` then the material `fused_material` builds and
    the outputs `_prepared` holds, in one call (a run prepares a key for every task it
    looks up). ``outputs``: keyed by the task's dependencies (what a run passes)."""
    last = _last_source[0]
    if function is None:
        digest = None
    elif function is last[0]:
        digest = last[1]
    else:
        if getattr(function, "never_cached", False):
            return None
        digest = source_digest(function)
        _last_source[0] = (function, digest)
    params = task.parameters
    task_type = task.task_type
    if task.writes or (task_type == "shell" and not params.get("cache")):
        return None
    caps, skills = task.required_capabilities, task.required_skills
    held = type(model_name) in HELD
    if held and len(params) == 1:  # (most tasks: a callable's name, a prompt, a command)
        ((name, value),) = params.items()
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
            KEY_VERSION, "definition", task.id, task.description,
            tuple(sorted(map(str, caps))) if caps else (),
            tuple(sorted(skills)) if skills else (), task_type, task.agent_type,
            task.expected_output_type, "model", model_name, "parameters", held_params,
            "source", digest)
    else:
        material = fused_material(task, model_name, function, True, True, True, True)
    deps: tuple[Any, ...] | str | None = None
    if with_dependencies:
        count = len(outputs)
        if count == 1:
            for dep, value in outputs.items():
                deps = (dep, value) if type(value) in HELD else None
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
            deps = dependency_text(KeyInputs(task, outputs, model_name, function, memo))
    return PreparedKey(task.id, material, deps, files, 12)  # (`_params_at` of DEFAULT)


DEFINITION, PARAMETERS, DEPENDENCY_OUTPUTS = Definition(), Parameters(), DependencyOutputs()
MODEL, CALLABLE_SOURCE, SHELL_OPT_IN, NO_CACHE = Model(), CallableSource(), ShellOptIn(), NoCache()
_BUILT_IN.update((Definition, Parameters, DependencyOutputs, Model, CallableSource, ShellOptIn,
                   NoCache))
DEFAULT = SHELL_OPT_IN + DEFINITION + PARAMETERS + DEPENDENCY_OUTPUTS + MODEL + CALLABLE_SOURCE
PARTS = {p.name: p for p in (DEFINITION, PARAMETERS, DEPENDENCY_OUTPUTS, MODEL, CALLABLE_SOURCE)}


# ------------------------------------------------------------- a task's own policy

_chosen: dict[tuple[str, ...], CachePolicy] = {}


def policy_for(task: TaskDefinition, default: CachePolicy) -> CachePolicy:
    """The task's ``parameters.cache_policy`` if it names one, else ``default``."""
    value = task.parameters.get("cache_policy")
    if value is None or value == "default":
        return default
    names = (value,) if isinstance(value, str) else tuple(value)
    policy = _chosen.get(names)
    if policy is None:
        policy = _chosen[names] = _parse(names)
    return policy


def check_policy(task: TaskDefinition) -> None:
    """A `WorkflowValidationError` naming the task when its ``cache_policy`` is not one."""
    value = task.parameters.get("cache_policy")
    if value is None or value == "default":
        return
    if not (isinstance(value, str) or (isinstance(value, list)
                                       and all(isinstance(v, str) for v in value))):
        raise WorkflowValidationError(
            f"task '{task.id}': parameters.cache_policy must be \"default\", \"none\" or a "
            f"list of {', '.join(PARTS)}; got {value!r}")
    unknown = [v for v in ([value] if isinstance(value, str) else value)
               if v not in PARTS and v != "none"]
    if unknown:
        raise WorkflowValidationError(
            f"task '{task.id}': parameters.cache_policy: unknown part '{unknown[0]}' (use "
            f"\"default\", \"none\" or a list of {', '.join(PARTS)})")


def _parse(names: tuple[str, ...]) -> CachePolicy:
    if "none" in names:
        return NO_CACHE
    policy = CachePolicy(())
    for name in names:
        policy = policy + PARTS[name]
    return policy
