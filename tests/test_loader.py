"""Workflow files: the shipped examples round-trip through YAML, JSON and TOML,
and every bad or hostile file gives one WorkflowFileError with a one-line message."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deeptui.errors import WorkflowFileError
from deeptui.loader import MAX_FILE_BYTES, dump_workflow, load_workflow, loads_workflow
from deeptui.models import (
    AgentCapability,
    ExecutionStrategy,
    RetryConfig,
    TaskDefinition,
    WorkflowDefinition,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "workflows" / "examples").glob("*.yaml"))
BAD = Path(__file__).resolve().parent / "data" / "bad"
FORMATS = ["yaml", "json", "toml"]


def _error(path: Path | str) -> str:
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return message


# ------------------------------------------------------------------ examples


def test_the_shipped_examples_are_the_guides_and_a_shell_pipeline() -> None:
    assert [p.name for p in EXAMPLES] == [
        "conditional-workflow.yaml",
        "parallel-analysis.yaml",
        "quality-pipeline.yaml",
        "shell-pipeline.yaml",
        "web-app-dev.yaml",
    ]
    for path in EXAMPLES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(f"# {path.stem}: "), path.name


def test_web_app_dev_matches_the_guide_dag() -> None:
    wf = load_workflow(ROOT / "workflows/examples/web-app-dev.yaml")
    assert (wf.id, wf.name, wf.execution_strategy, wf.max_parallel_tasks) == (
        "web-app-dev", "Web Application Development", ExecutionStrategy.DAG, 3)
    table = {t.id: (t.depends_on, t.priority, t.required_capabilities) for t in wf.tasks}
    assert table == {
        "requirements": ([], 10, []),
        "backend": (["requirements"], 8, [AgentCapability.CODE_GENERATION]),
        "frontend": (["requirements"], 8, [AgentCapability.CODE_GENERATION]),
        "integration": (["backend", "frontend"], 7, []),
        "testing": (["integration"], 6, [AgentCapability.TESTING]),
        "docs": (["testing"], 5, [AgentCapability.DOCUMENTATION]),
    }
    assert wf.get_task("backend").description == "Develop backend API"


def test_parallel_analysis_has_ten_data_processing_tasks() -> None:
    wf = load_workflow(ROOT / "workflows/examples/parallel-analysis.yaml")
    assert wf.execution_strategy == ExecutionStrategy.PARALLEL
    assert wf.max_parallel_tasks == 5
    assert wf.task_ids == [f"analyze-{i}" for i in range(10)]
    assert all(t.required_capabilities == [AgentCapability.DATA_PROCESSING] for t in wf.tasks)
    assert wf.get_task("analyze-7").description == "Analyze dataset 7"


def test_conditional_and_quality_examples_match_the_guide() -> None:
    cond = load_workflow(ROOT / "workflows/examples/conditional-workflow.yaml")
    assert cond.execution_strategy == ExecutionStrategy.CONDITIONAL
    assert [(t.id, t.depends_on, t.condition) for t in cond.tasks] == [
        ("analyze", [], None), ("fix-issues", ["analyze"], "analyze"),
        ("verify", ["fix-issues"], None)]
    quality = load_workflow(ROOT / "workflows/examples/quality-pipeline.yaml")
    assert [(t.id, t.depends_on, t.required_skills) for t in quality.tasks] == [
        ("api-design", [], ["api-design"]),
        ("implementation", ["api-design"], []),
        ("code-review", ["implementation"], ["python-code-review"]),
        ("test-strategy", ["implementation"], ["test-strategy"])]
    assert quality.get_task("implementation").required_capabilities == [
        AgentCapability.CODE_GENERATION]


def test_shell_pipeline_holds_only_shell_tasks_with_commands() -> None:
    wf = load_workflow(ROOT / "workflows/examples/shell-pipeline.yaml")
    assert {t.kind for t in wf.tasks} == {"shell"}
    assert all(isinstance(t.parameters["command"], str) for t in wf.tasks)
    assert wf.get_task("report").depends_on == ["list-files", "compute"]
    assert wf.get_task("python-version").retry_config == RetryConfig(max_retries=1, initial_delay=0.5)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_round_trips_exactly(example: Path, fmt: str, tmp_path: Path) -> None:
    original = load_workflow(example)
    target = tmp_path / f"{example.stem}.{fmt}"
    text = dump_workflow(original, target)
    assert target.read_text(encoding="utf-8") == text
    assert load_workflow(target) == original
    assert loads_workflow(dump_workflow(original, fmt), fmt) == original


def _everything() -> WorkflowDefinition:
    return WorkflowDefinition(
        id="full", name="Every field", description="line one\nline two: with colon\n",
        execution_strategy=ExecutionStrategy.CONDITIONAL, default_timeout_seconds=12.5,
        max_parallel_tasks=7, continue_on_failure=True,
        metadata={"owner": "ünïcode ✓", "tags": ["a", "b"], "nested": {"n": [1, 2.5, True]},
                  "date-like": "2024-01-01", "yes": "no", "empty": {}},
        tasks=[
            TaskDefinition(id="a", task_type="shell", parameters={"command": "echo 'hi'\necho bye"},
                           priority=1, timeout_seconds=0.5, expected_output_type="text"),
            TaskDefinition(id="b", depends_on=["a"], agent_type="researcher", condition="a",
                           required_capabilities=[AgentCapability.RESEARCH], trigger_rule="all_done",
                           required_skills=["api-design"], priority=10,
                           retry_config=RetryConfig(max_retries=0, jitter=0.0, max_delay=5)),
        ],
    )


@pytest.mark.parametrize("fmt", [*FORMATS, "yml"])
def test_a_workflow_using_every_field_round_trips(fmt: str) -> None:
    original = _everything()
    assert loads_workflow(dump_workflow(original, fmt), fmt) == original


def test_dump_writes_only_non_defaults_in_model_order() -> None:
    text = dump_workflow(load_workflow(ROOT / "workflows/examples/web-app-dev.yaml"), "yaml")
    assert text.startswith("id: web-app-dev\nname: Web Application Development\ntasks:\n")
    assert "trigger_rule" not in text and "retry_config" not in text
    assert "  depends_on: [backend, frontend]\n" in text
    assert text.index("tasks:") < text.index("max_parallel_tasks: 3")
    data = json.loads(dump_workflow(_everything(), "json"))
    assert list(data) == ["id", "name", "description", "tasks", "execution_strategy",
                          "default_timeout_seconds", "max_parallel_tasks",
                          "continue_on_failure", "metadata"]


def test_toml_drops_null_values_from_mappings_and_refuses_them_in_lists() -> None:
    wf = WorkflowDefinition(id="w", tasks=[TaskDefinition(id="a", parameters={"x": None, "y": 1})])
    assert loads_workflow(dump_workflow(wf, "toml"), "toml").tasks[0].parameters == {"y": 1}
    wf = WorkflowDefinition(id="w", tasks=[TaskDefinition(id="a", parameters={"x": [1, None]})])
    with pytest.raises(WorkflowFileError, match=r"^workflow 'w' as toml: cannot write: task 'a': parameters\.x: "
                       "a list holds null"):
        dump_workflow(wf, "toml")


def test_dump_to_an_unknown_suffix_or_format_is_refused(tmp_path: Path) -> None:
    wf = WorkflowDefinition(id="w")
    with pytest.raises(WorkflowFileError, match=r"unknown workflow file type '\.xml'"):
        dump_workflow(wf, tmp_path / "w.xml")
    assert not (tmp_path / "w.xml").exists()
    with pytest.raises(WorkflowFileError, match=r"cannot write: .*(No such file|directory)"):
        dump_workflow(wf, tmp_path / "missing-folder" / "w.yaml")
    with pytest.raises(WorkflowFileError, match="unknown workflow format 'ini'"):
        loads_workflow("id = w", "ini")


# ------------------------------------------------------------------ bad files

BAD_CASES = {
    "syntax.yaml": ":5:23: syntax error: mapping values are not allowed in this context",
    "syntax.json": ":5:5: syntax error: Expecting ',' delimiter",
    "syntax.toml": ":5:12: syntax error: Invalid value",
    "unknown-field.yaml": ":6:5: task 'deploy': unknown field 'dependson' (did you mean 'depends_on'?)",
    "wrong-type.yaml": ":5:15: task 'build': priority: input should be a valid integer, "
                       "unable to parse string as an integer (got 'high')",
    "unknown-capability.yaml": ":5:29: task 'backend': required_capabilities[0]: input should be "
                               "'general', 'code_analysis', 'code_generation', 'testing', 'debugging', "
                               "'documentation', 'data_processing', 'file_operations', "
                               "'api_integration' or 'research' (got 'code_generaton') "
                               "(did you mean 'code_generation'?)",
    "cycle.yaml": ":7:18: dependency cycle: a -> b -> a",
    "missing-dependency.yaml": ":5:18: task 'x' depends on unknown task 'y'",
    "self-dependency.yaml": ":5:18: task 'lint' depends on itself",
    "duplicate-id.yaml": ":6:9: duplicate task id 'build'",
    "duplicate-key.yaml": ":6:5: syntax error: duplicate key 'priority'",
    "missing-task-id.yaml": ":5:5: task #2: missing required field 'id'",
    "priority-range.yaml": ":5:15: task 'build': priority 11 is outside 1-10",
    "not-a-mapping.yaml": ": expected a mapping of workflow fields at the top level, got a list",
    "scalar.json": ": expected a mapping of workflow fields at the top level, got a string",
    "empty.yaml": ": file is empty; a workflow needs at least an 'id'",
    "non-utf8.yaml": ":2:8: not UTF-8 text (byte 0xe9); save the file as UTF-8",
    "deep-nesting.yaml": ":4:10: metadata.data[0]: nesting is too deep (more than 100 levels)",
    "deep-nesting.json": ": nesting is too deep (more than 100 levels)",
    "alias-bomb.yaml": ":10:6: the document expands to more than 2,000,000 values through YAML "
                       "aliases (an alias bomb?); refusing it",
    "recursive-alias.yaml": ":3:11: a YAML alias refers to its own parent (recursive data)",
    "unsafe-tag.yaml": ":4:6: unsupported YAML tag '!!python/object/apply:os.system'; use plain "
                       "strings, numbers, booleans, null, lists and mappings",
    "workflow.txt": ": unknown workflow file type '.txt'; use .yaml, .yml, .json or .toml",
}


def test_every_bad_file_has_a_case() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_CASES)


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_file_gives_a_one_line_message_naming_file_line_task_and_field(name: str) -> None:
    path = BAD / name
    assert _error(path) == f"{path}{BAD_CASES[name]}"


def test_graph_errors_in_json_name_the_task_without_a_line() -> None:
    text = json.dumps({"id": "w", "tasks": [{"id": "a", "depends_on": ["ghost"]}]})
    with pytest.raises(WorkflowFileError, match=r"^w\.json: task 'a' depends on unknown task 'ghost'$"):
        loads_workflow(text, "json", "w.json")


def test_nested_unknown_field_suggests_the_nested_name() -> None:
    text = "id: w\ntasks:\n  - id: a\n    retry_config: {max_retrys: 2}\n"
    with pytest.raises(WorkflowFileError) as info:
        loads_workflow(text, "yaml")
    assert str(info.value) == ("<string>:4:20: task 'a': unknown field 'max_retrys' in retry_config "
                               "(did you mean 'max_retries'?)")


def test_yaml_values_stay_json_compatible() -> None:
    wf = loads_workflow("id: w\nmetadata: {day: 2024-01-01, eq: =}\n", "yaml")
    assert wf.metadata == {"day": "2024-01-01", "eq": "="}
    for text, expected in [("id: w\nmetadata: {1: a}\n", "metadata: key 1 is not a string"),
                           ("id: w\ntasks:\n  - {id: a, timeout_seconds: .inf}\n",
                            "task 'a': timeout_seconds: inf is not allowed")]:
        with pytest.raises(WorkflowFileError, match=expected):
            loads_workflow(text, "yaml")


# ------------------------------------------------------------------ hostile files


def test_missing_file_directory_and_huge_file_are_refused(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such file"
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert _error(folder) == f"{folder}: is a directory, not a workflow file"
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 5 * 2**20)  # sparse: nothing is written
    assert _error(huge) == f"{huge}: file is 25.0 MB, larger than the 20 MB limit for workflow files"


@pytest.mark.parametrize("fmt, text", [
    ("json", '{"id": "w", "metadata": ' + "[" * 200_000 + "]" * 200_000 + "}"),
    ("toml", 'id = "w"\n[metadata]\nx = ' + "[" * 50_000 + "]" * 50_000 + "\n"),
    ("toml", 'id = "w"\n[metadata]\n' + ".".join(["k"] * 500) + " = 1\n"),
    ("yaml", "id: w\nmetadata: " + "[" * 50_000 + "]" * 50_000 + "\n"),
    ("yaml", "id: w\nmetadata:\n" + "".join(" " * i + "k:\n" for i in range(1, 3000))),
])
def test_deep_nesting_in_any_format_is_a_file_error(fmt: str, text: str) -> None:
    with pytest.raises(WorkflowFileError, match="nesting"):
        loads_workflow(text, fmt, f"deep.{fmt}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_top_level_scalars_lists_and_nulls_are_not_workflows(fmt: str) -> None:
    texts = {"yaml": ["42", "[1, 2]", "null", "~"], "json": ["42", "[1]", "null", '"x"'],
             "toml": ["", "# only a comment\n"]}[fmt]
    for text in texts:
        with pytest.raises(WorkflowFileError, match=r"^x: (expected a mapping|file is empty|"
                           r"missing required field 'id')"):
            loads_workflow(text, fmt, "x")


def test_ten_thousand_tasks_load_and_round_trip(tmp_path: Path) -> None:
    tasks = [TaskDefinition(id=f"t{i}", description=f"step {i}", priority=1 + i % 10,
                            depends_on=[f"t{i - 1}"] if i % 50 else [], parameters={"n": i})
             for i in range(10_000)]
    big = WorkflowDefinition(id="big", tasks=tasks, execution_strategy=ExecutionStrategy.DAG)
    for fmt in ("yaml", "json"):
        path = tmp_path / f"big.{fmt}"
        dump_workflow(big, path)
        started = time.perf_counter()
        loaded = load_workflow(path)
        elapsed = time.perf_counter() - started
        assert loaded == big
        assert elapsed < 20, f"loading 10,000 tasks from {fmt} took {elapsed:.1f}s"


# ------------------------------------------------------------------ property tests

EXAMPLE_TEXTS = [p.read_bytes() for p in EXAMPLES] + [
    dump_workflow(load_workflow(p), fmt).encode() for p in EXAMPLES[:2] for fmt in ("json", "toml")]
EXAMPLE_FORMATS = ["yaml"] * len(EXAMPLES) + ["json", "toml"] * 2
EXAMPLE_DATA = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLES]
FIELD_NAMES = [*WorkflowDefinition.model_fields, *TaskDefinition.model_fields, *RetryConfig.model_fields]

scalars = (st.none() | st.booleans() | st.integers(-20, 20) | st.floats() | st.text(max_size=8)
           | st.sampled_from(["a", "analyze-1", "requirements", "dag", "code_generation", "shell"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), inner,
                                        max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutations")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, len(EXAMPLE_TEXTS) - 1),
       edits=st.lists(st.tuples(st.sampled_from(["replace", "insert", "delete"]),
                                st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=3)),
                      min_size=1, max_size=6))
def test_byte_mutations_never_raise_anything_but_a_file_error(
        scratch: Path, index: int, edits: list[tuple[str, float, bytes]]) -> None:
    raw = bytearray(EXAMPLE_TEXTS[index])
    for op, where, chunk in edits:
        at = int(where * len(raw))
        if op == "replace":
            raw[at:at + len(chunk)] = chunk
        elif op == "insert":
            raw[at:at] = chunk
        else:
            del raw[at:at + len(chunk)]
    path = scratch / f"mutant.{EXAMPLE_FORMATS[index]}"
    path.write_bytes(bytes(raw))
    try:
        wf = load_workflow(path)
    except WorkflowFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
        event("refused")
        return
    event("loaded")
    assert loads_workflow(dump_workflow(wf, "yaml"), "yaml") == wf


def _mutate(doc: dict[str, Any], draw: Any) -> None:
    parent: Any = doc
    while True:  # walk down to a random container
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if not isinstance(parent[key], (dict, list)) or draw(st.booleans()):
            break
        parent = parent[key]
    op = draw(st.sampled_from(["set", "delete", "add", "duplicate"]))
    keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
    if op == "add" or not keys:
        if isinstance(parent, dict):
            parent[draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=6))] = draw(values)
        else:
            parent.append(draw(values))
        return
    key = draw(st.sampled_from(keys))
    if op == "set":
        parent[key] = draw(values)
    elif op == "delete":
        del parent[key]
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))


def _has_none(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_none(v) for v in value)
    return value is None


@settings(max_examples=200, deadline=None)
@given(data=st.data(), fmt=st.sampled_from(FORMATS))
def test_structural_mutations_load_or_fail_cleanly_and_loads_round_trip(data: Any, fmt: str) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(EXAMPLE_DATA)))
    for _ in range(data.draw(st.integers(1, 4))):
        _mutate(doc, data.draw)
    try:
        text = {"yaml": yaml.safe_dump, "json": json.dumps, "toml": tomli_w.dumps}[fmt](doc)
    except (TypeError, ValueError):  # the test's own writer cannot hold this (TOML and null)
        fmt, text = "json", json.dumps(doc)
    try:
        wf = loads_workflow(text, fmt, "mutant")
    except WorkflowFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("mutant")
        event("refused")
        return
    event("loaded")
    for out in FORMATS:
        try:
            again = loads_workflow(dump_workflow(wf, out), out)
        except WorkflowFileError:
            assert out == "toml"  # a null inside a list
            continue
        if out != "toml" or not _has_none(wf.model_dump(mode="json")):
            assert again == wf


def test_graph_problems_are_named_whatever_order_the_tasks_are_listed_in() -> None:
    from deeptui.errors import WorkflowValidationError
    from deeptui.graph import check_graph
    from deeptui.models import TaskDefinition

    def tasks(*specs: tuple[str, list[str]]) -> list[TaskDefinition]:
        return [TaskDefinition(id=tid, depends_on=deps) for tid, deps in specs]

    check_graph(tasks(("a", []), ("b", ["a"]), ("c", ["a", "b"])))  # listed in order
    check_graph(tasks(("c", ["a", "b"]), ("b", ["a"]), ("a", [])))  # dependencies listed after
    for specs, message in [
        ((("a", []), ("b", ["a"]), ("a", [])), "duplicate task id 'a'"),
        ((("a", []), ("b", ["b"])), "task 'b' depends on itself"),
        ((("a", ["a", "z"]),), "task 'a' depends on itself"),
        ((("a", []), ("b", ["a", "zz"])), "task 'b' depends on unknown task 'zz'"),
        ((("b", ["zz"]), ("a", ["b"])), "task 'b' depends on unknown task 'zz'"),
        ((("a", ["c"]), ("b", ["a"]), ("c", ["b"])), "dependency cycle: "),
    ]:
        with pytest.raises(WorkflowValidationError) as caught:
            check_graph(tasks(*specs))
        assert str(caught.value).startswith(message), (specs, str(caught.value))
