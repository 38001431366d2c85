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

from deeptui.cache.default_key import HELD_OUTPUTS, default_values, dependency_text
from deeptui.cache.keys import HELD, KEY_VERSION, PreparedKey, canonical_json, flat
from deeptui.cache.material import fused_material
from deeptui.cache.material import source_digest
from deeptui.errors import WorkflowValidationError
from deeptui.models import TaskDefinition


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
        self.with_dependencies = any(p.name == "dependencies" for p in self.parts)
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
        # its key's values are built in one function (`default_values`)
        self.fused_default = (self._fused == (True, True, True, True) and self._gate is not None
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
        if self.with_dependencies:
            for value in outputs.values() if len(outputs) <= HELD_OUTPUTS else (self,):
                if type(value) not in HELD:  # (many outputs: their text, one object)
                    deps = dependency_text(task.depends_on, outputs, memo)
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
        if self.fused_default:  # DEFAULT (with or without dependencies): one call
            values = default_values(task, outputs, model_name, function, memo, files,
                                    self.with_dependencies)
            return None if values is None else PreparedKey(task.id, *values)
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
