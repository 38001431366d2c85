"""The condition language: the orchestration guide's shorthand, expressions, trigger rules,
hostile input."""

from __future__ import annotations

import ast
import builtins
import re
import sys
import unicodedata  # noqa: F401  (loaded before the tripwire: the parser uses it)
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Iterator
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from deeptui.conditions import (
    TRIGGER_RULES,
    parse_condition,
    trigger_rule_met,
    validate_workflow_conditions,
    workflow_conditions,
)
from deeptui.conditions.language import MAX_DEPTH, MAX_LENGTH
from deeptui.errors import ConditionError, WorkflowValidationError
from deeptui.models import TaskDefinition, TaskResult, TaskStatus, WorkflowDefinition

TASKS = ["analyze", "lint", "a", "b", "fix-issues"]
C, F, S, X, P, R = (
    TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.SKIPPED,
    TaskStatus.CANCELLED, TaskStatus.PENDING, TaskStatus.RUNNING,
)


def result(task_id: str, status: TaskStatus = C, output: Any = None, **fields: Any) -> TaskResult:
    return TaskResult(task_id=task_id, status=status, output=output, **fields)


def check(expression: str, results: dict[str, TaskResult], known: list[str] | None = TASKS) -> bool:
    return parse_condition(expression, "t", known).evaluate(results)


def guide_workflow(condition: str = "analyze", **extra: Any) -> WorkflowDefinition:
    return WorkflowDefinition(
        id="conditional-workflow",
        execution_strategy="conditional",
        tasks=[
            TaskDefinition(id="analyze", description="Analyze code quality"),
            TaskDefinition(id="fix-issues", condition=condition, depends_on=["analyze"], **extra),
            TaskDefinition(id="verify", depends_on=["fix-issues"]),
        ],
    )


# --- the orchestration guide's shorthand -------------------------------------------------


def test_guide_conditional_workflow_validates_and_runs_fix_only_after_analyze_completed() -> None:
    conditions = workflow_conditions(guide_workflow())
    condition = conditions["fix-issues"]
    assert condition.referenced_tasks == {"analyze"}
    assert condition.evaluate({"analyze": result("analyze", C)}) is True
    for status in (F, S, X):
        assert condition.evaluate({"analyze": result("analyze", status)}) is False


def test_bare_hyphenated_task_id_is_the_shorthand_with_or_without_known_tasks() -> None:
    for known in (TASKS, None):
        condition = parse_condition(" fix-issues ", "t", known)
        assert condition.referenced_tasks == {"fix-issues"}
        assert condition.evaluate({"fix-issues": result("fix-issues")}) is True
        assert condition.evaluate({"fix-issues": result("fix-issues", F)}) is False


def test_dotted_task_id_is_the_shorthand() -> None:
    assert parse_condition("step.1", "t").referenced_tasks == {"step.1"}
    assert parse_condition("step.1", "t", ["step.1"]).evaluate({"step.1": result("step.1")})


def test_hyphenated_bare_id_that_is_not_a_task_explains_the_subtraction_reading() -> None:
    message = r"task 't'.*'analyze.attempts-1' is not a task.*spaces around '-'"
    with pytest.raises(ConditionError, match=message):
        parse_condition("analyze.attempts-1", "t", TASKS)
    assert check("analyze.attempts - 1 == 1", {"analyze": result("analyze", attempts=2)})


# --- the examples of the requirements -------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [({"issues": 3}, True), ({"issues": 0}, False)],
)
def test_status_and_output_example(output: dict[str, int], expected: bool) -> None:
    expression = 'analyze.status == "completed" and analyze.output.issues > 0'
    assert check(expression, {"analyze": result("analyze", C, output)}) is expected


def test_status_and_output_example_is_false_when_analyze_failed_without_evaluating_output() -> None:
    expression = 'analyze.status == "completed" and analyze.output.issues > 0'
    assert check(expression, {"analyze": result("analyze", F)}) is False


def test_not_failed_example() -> None:
    assert check("not lint.failed", {"lint": result("lint", C)}) is True
    assert check("not lint.failed", {"lint": result("lint", F)}) is False
    assert check("not lint.failed", {"lint": result("lint", S)}) is True


def test_any_failed_example_and_the_other_list_functions() -> None:
    results = {"a": result("a", C), "b": result("b", F)}
    assert check('any_failed(["a", "b"])', results) is True
    assert check('any_failed(["a"])', results) is False
    assert check("all_completed([a, b])", results) is False
    assert check('any_completed(("a", task("b")))', results) is True
    assert check("all_completed([])", results) is True
    assert parse_condition('any_failed(["a", "b"])', "t").referenced_tasks == {"a", "b"}


def test_ids_that_are_not_identifiers_via_task_and_tasks() -> None:
    results = {"fix-issues": result("fix-issues", C, {"fixed": ["x.py", "y.py"]})}
    assert check('task("fix-issues").completed', results)
    assert check('len(tasks["fix-issues"].output.fixed) == 2', results)
    assert check('tasks["fix-issues"].output["fixed"][-1] == "y.py"', results)


def test_every_task_attribute() -> None:
    start = datetime(2024, 1, 1)
    results = {
        "a": result("a", F, error="boom", attempts=3, started_at=start,
                    completed_at=start + timedelta(seconds=90)),
        "b": result("b", X),
    }
    assert check('a.status == "failed" and a.failed and not a.completed', results)
    assert check('a.error == "boom" and a.attempts == 3 and a.duration / 60 == 1.5', results)
    assert check("b.cancelled and not b.skipped and b.output == None", results)
    assert check('"oo" in a.error and "zz" not in a.error', results)


def test_output_keys_missing_values_give_none_and_indices_out_of_range_too() -> None:
    results = {"analyze": result("analyze", C, {"issues": [{"line": 4}], "meta": None})}
    assert check("analyze.output.nothing == None", results)
    assert check("analyze.output.meta.deeper.still == None", results)
    assert check("analyze.output.issues[5] == None", results)
    assert check("analyze.output.issues[0].line % 2 == 0", results)
    assert check("1 <= analyze.output.issues[0].line < 5", results)
    assert check('(analyze.output.count or 0) + 1 == 1', results)


def test_pydantic_model_output_reads_like_a_dict() -> None:
    class Report(BaseModel):
        issues: int
        files: list[str]

    results = {"analyze": result("analyze", C, Report(issues=2, files=["a.py"]))}
    assert check('analyze.output.issues == 2 and "a.py" in analyze.output.files', results)


def test_a_bare_task_is_true_when_it_completed_and_missing_results_are_pending() -> None:
    assert check("analyze or lint", {"analyze": result("analyze", F), "lint": result("lint", C)})
    assert check("analyze and lint", {"analyze": result("analyze", C)}) is False
    assert check('lint.status == "pending" and lint.attempts == 0', {}) is True


# --- run-time errors --------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("analyze.output.issues > 0", r"cannot compare None > 0 at column 1"),
        ('analyze.error + 1 == 2', r"cannot compute None \+ 1"),
        ('"ab" * 3 == "ababab"', r"cannot compute 'ab' \* 3"),
        ("analyze.attempts / 0 > 1", r"division by zero"),
        ("len(analyze.output) > 0", r"len\(\) of None"),
        ('"x" in analyze.output', r"cannot test 'x' in None"),
        ("analyze.status.x == 1", None),
    ],
)
def test_evaluation_errors_raise_condition_error_naming_the_task(
    expression: str, message: str | None
) -> None:
    results = {"analyze": result("analyze", C, None)}
    try:
        condition = parse_condition(expression, "fix-issues", TASKS)
    except ConditionError:
        assert message is None  # rejected before running, which is even better
        return
    where = r"task 'fix-issues': condition .* could not be evaluated"
    with pytest.raises(ConditionError, match=where) as info:
        condition.evaluate(results)
    assert message is not None and re.search(message, str(info.value))


def test_a_task_used_as_a_value_through_or_fails_at_run_time() -> None:
    with pytest.raises(ConditionError, match="a task is not a value"):
        check("(analyze or lint) == 1", {"analyze": result("analyze", F), "lint": result("lint")})


# --- trigger rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "statuses", "expected"),
    [
        ("all_success", [C, C], True),
        ("all_success", [C, S], False),
        ("all_success", [C, F], False),
        ("all_success", [C, R], None),
        ("all_success", [F, R], False),
        ("all_done", [C, F, S, X], True),
        ("all_done", [C, P], None),
        ("all_failed", [F, X], True),
        ("all_failed", [F, S], False),
        ("all_failed", [F, C], False),
        ("all_failed", [F, R], None),
        ("one_success", [F, S, C], True),
        ("one_success", [F, S, X], False),
        ("one_success", [C, R], True),
        ("one_success", [F, R], None),
        ("one_failed", [C, S, F], True),
        ("one_failed", [C, X], True),
        ("one_failed", [C, S], False),
        ("one_failed", [C, P], None),
        ("none_failed", [C, S], True),
        ("none_failed", [C, X], False),
        ("none_failed", [C, F], False),
        ("none_failed", [C, R], None),
        ("none_failed", ["completed", "skipped"], True),
    ],
)
def test_trigger_rules_with_mixed_dependency_statuses(
    rule: str, statuses: list[Any], expected: bool | None
) -> None:
    assert trigger_rule_met(rule, statuses) is expected


@pytest.mark.parametrize("rule", TRIGGER_RULES)
def test_every_rule_passes_without_dependencies_and_decides_once_all_are_done(rule: str) -> None:
    assert trigger_rule_met(rule, []) is True
    for statuses in ([C, F], [S, X], [C, C], [F, F]):
        assert isinstance(trigger_rule_met(rule, statuses), bool)


def test_unknown_trigger_rule_or_status_is_an_error() -> None:
    with pytest.raises(ConditionError, match="unknown trigger rule 'sometimes'"):
        trigger_rule_met("sometimes", [C])
    with pytest.raises(ConditionError, match="all_done"):
        trigger_rule_met("all_done", ["finished"])


# --- workflow validation ------------------------------------------------------


def test_workflow_validation_names_the_task_of_a_bad_condition() -> None:
    with pytest.raises(ConditionError, match=r"task 'fix-issues'.*'nope' is not a task"):
        validate_workflow_conditions(guide_workflow("nope.completed"))
    with pytest.raises(WorkflowValidationError, match=r"task 'fix-issues'.*not valid syntax"):
        validate_workflow_conditions(guide_workflow("analyze.status =="))


def test_condition_must_read_only_upstream_tasks() -> None:
    message = r"task 'fix-issues'.*'verify', which depends on 'fix-issues' and so runs after"
    with pytest.raises(ConditionError, match=message):
        validate_workflow_conditions(guide_workflow("verify.completed"))
    with pytest.raises(ConditionError, match=r"task 'fix-issues'.*references the task itself"):
        validate_workflow_conditions(guide_workflow('task("fix-issues").failed'))
    workflow = guide_workflow()
    workflow.tasks[2].condition = 'analyze.output.issues > 0 and not tasks["fix-issues"].failed'
    assert set(workflow_conditions(workflow)) == {"fix-issues", "verify"}  # transitive is fine


def test_cleanup_task_with_trigger_rule_and_condition_validates() -> None:
    workflow = guide_workflow("any_failed([analyze])", trigger_rule="all_done")
    validate_workflow_conditions(workflow)
    assert workflow.get_task("fix-issues").trigger_rule == "all_done"


# --- hostile input -------------------------------------------------------------

HOSTILE = [
    "__import__('os')", "().__class__.__bases__", "lint.__dict__", "open('x')", "lambda: 1",
    "[x for x in lint]", "{x: 1 for x in lint}", "any(x for x in lint)", "(x := 1)", "exec('1')",
    "eval('1')", "compile('1', 'x', 'eval')", "getattr(lint, 'status')", "print(1)", "globals()",
    "nope", "nope.status", "lint.output.__class__", "lint._secret", "_private",
    "lint.status.upper()", "lint.output.keys()", "task(name)", "tasks[lint]", "lint[0]",
    "lint.output[1:2]", "lint.output[a]", "f'{lint}'", "*lint", "lint if a else b", "{1: 2}",
    "{1}", "b'x'", "1j", "...", "2 ** 64", "1 // 2", "~1", "a is None", "lint == a", "lint + 1",
    "len(lint)", "len", "tasks", "task('x')", "len(a.output, 2)", "len(x=1)", "any_failed(a)",
    "any_failed([1])", "lint.status.x", "a.output.x.y(1)", "(lambda: 0)()", "__builtins__",
    "lint.failed and", "", "   ", "a\x00", "\ud800",
    # huge or deep
    "x" * (MAX_LENGTH + 1), "not " * 200 + "a", "(" * 300 + "a" + ")" * 300,
    "-" * (MAX_LENGTH - 1) + "1", "1" + " + 1" * 100, " + ".join(["a.attempts"] * 200),
    "[" + ",".join("1" * 999) + "]", "a." + ".".join(["output"] * 400),
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_and_forbidden_inputs_are_rejected_before_anything_runs(expression: str) -> None:
    with tripwire():
        with pytest.raises(ConditionError, match=r"task 't'"):
            parse_condition(expression, "t", TASKS)


def test_parse_errors_say_what_is_not_allowed_and_where() -> None:
    cases = {
        "lint.failed or __import__('os')": "calling '__import__' is not allowed.* at column 16",
        "lint.output.x.__class__": "attribute '__class__' is not allowed.* at column 15",
        "a.completed and (x := 1)": "walrus operator ':=' is not allowed.* at column 18",
        "not " * MAX_DEPTH + "a": f"nested more than {MAX_DEPTH} levels",
        "lint.failed = 1": "not valid syntax",
    }
    for expression, message in cases.items():
        with pytest.raises(ConditionError, match=message):
            parse_condition(expression, "t", TASKS)


def test_condition_that_is_not_a_string_is_an_error() -> None:
    with pytest.raises(ConditionError, match="must be a string"):
        parse_condition(b"lint", "t")  # type: ignore[arg-type]


# --- property: nothing executes, the answer is a bool or a ConditionError -------

_armed = False


class Tripped(BaseException):
    """Raised by the tripwire; a BaseException so no `except Exception` can hide it."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _armed:
        return
    if event == "compile" and len(args) > 1 and args[1] == "<condition>":
        return  # ast.parse of the condition into an AST, never a code object that runs
    raise Tripped(f"condition code raised audit event {event!r} {args!r:.80}")


sys.addaudithook(_audit)


def _forbidden(*args: Any, **kwargs: Any) -> None:
    raise Tripped(f"a condition called a forbidden builtin with {str(args[:1]):.80}")


_real_import = builtins.__import__


def _import_loaded_only(name: str, *args: Any, **kwargs: Any) -> Any:
    # the parser looks up unicodedata for "\N{...}" escapes: fine if nothing new loads
    if name not in sys.modules:
        raise Tripped(f"a condition imported {name!r}")
    return _real_import(name, *args, **kwargs)


_real_compile = builtins.compile


def _ast_only_compile(source: Any, filename: str, mode: str, flags: int = 0, **kwargs: Any) -> Any:
    if not flags & ast.PyCF_ONLY_AST:
        raise Tripped(f"a condition compiled {source!r:.80} into a code object")
    return _real_compile(source, filename, mode, flags, **kwargs)


@contextmanager
def tripwire() -> Iterator[None]:
    """Fail loudly if code inside opens files, imports, execs, evals or compiles code."""
    global _armed
    names = ("open", "exec", "eval", "breakpoint", "input")
    patches = {name: _forbidden for name in names}
    patches.update(compile=_ast_only_compile, __import__=_import_loaded_only)
    with mock.patch.multiple(builtins, **patches):
        _armed = True
        try:
            yield
        finally:
            _armed = False


ALLOWED_LEAVES = [
    "a", "b", "lint", "analyze", 'task("fix-issues")', 'tasks["fix-issues"]', "a.output",
    "b.output.x", "a.status", "a.failed", "b.attempts", "a.duration", "a.error", "1", "0", "-2.5",
    '"completed"', '"x"', "None", "True", "[1, 2]", '("a", "b")', 'any_failed(["a"])',
    "all_completed([a, b])", "len(a.output)", "a.output[0]", 'a.output["k"]',
]
FORBIDDEN_LEAVES = [
    "__import__('os')", "open('/etc/passwd')", "().__class__", "a.__dict__", "lambda: 0",
    "exec('x')", "eval('1')", "[x for x in a]", "(y := 1)", "*a", "f'{a}'", "nope",
    "getattr(a, 'b')", "breakpoint()", "a.output.__class__.__subclasses__()", "_x",
    "'x' * 99999999999", "9 ** 9 ** 9",
]
ALLOWED_OPERATORS = [
    " and ", " or ", " == ", " != ", " < ", " <= ", " > ", " >= ", " in ", " not in ",
    " + ", " - ", " * ", " / ", " % ",
]
FORBIDDEN_OPERATORS = [" ** ", " // ", " is ", " & ", " | ", ", ", ".", "[", "(", " if ", ":="]


def grammar(leaves: list[str], operators: list[str], functions: list[str], attrs: list[str]) -> Any:
    """Expressions built from ``leaves``, combined with the given pieces."""
    return st.recursive(
        st.sampled_from(leaves),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(operators), inner).map(lambda p: f"({''.join(p)})"),
            st.tuples(st.sampled_from(["not ", "-"]), inner).map("".join),
            st.tuples(st.sampled_from(functions), inner).map(lambda p: f"{p[0]}({p[1]})"),
            st.tuples(inner, st.sampled_from(attrs)).map(".".join),
            st.tuples(inner, inner).map(lambda p: f"[{p[0]}, {p[1]}]"),
        ),
        max_leaves=10,
    )


allowed_expressions = grammar(
    ALLOWED_LEAVES, ALLOWED_OPERATORS, ["len"], ["status", "output", "x", "failed"]
)
mixed_expressions = grammar(
    ALLOWED_LEAVES + FORBIDDEN_LEAVES, ALLOWED_OPERATORS + FORBIDDEN_OPERATORS,
    ["len", "any_failed", "task", "open", "exec", "a.output.get", "getattr", "type"],
    ["status", "output", "x", "_y", "__class__", "__globals__", "failed"],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["k", "x", "y"]), inner, max_size=3),
    max_leaves=8,
)
task_results = st.dictionaries(
    st.sampled_from(["a", "b", "lint", "analyze", "fix-issues"]),
    st.builds(
        TaskResult, task_id=st.just("t"), status=st.sampled_from(list(TaskStatus)),
        output=json_values, error=st.none() | st.text(max_size=5), attempts=st.integers(0, 5),
    ),
)
random_bytes = st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape"))
inputs = allowed_expressions | mixed_expressions | st.text(max_size=60) | random_bytes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=inputs, results=task_results, known=st.sampled_from([TASKS, None]))
def test_random_expressions_never_execute_code_and_give_a_bool_or_condition_error(
    expression: str, results: dict[str, TaskResult], known: list[str] | None
) -> None:
    with tripwire():
        try:
            value = parse_condition(expression, "t", known).evaluate(results)
        except ConditionError:
            return
    assert type(value) is bool


def test_the_tripwire_itself_catches_eval_open_imports_and_code_objects() -> None:
    for attempt in (
        lambda: eval("1"),
        lambda: open("x"),
        lambda: __import__("this_module_is_not_loaded_yet"),
        lambda: compile("1", "<x>", "eval"),
    ):
        with tripwire(), pytest.raises(Tripped):
            attempt()
