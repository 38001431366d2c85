"""YAML fast path: a plain document is read from parser events into the same data
as the node tree gives; anything unusual goes to the node tree path, with or
without libyaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import deeptui.loader.files as loader
import deeptui.loader.yaml_events as loader_yaml
from deeptui.errors import WorkflowFileError
from deeptui.loader import dump_workflow, load_workflow, loads_workflow
from deeptui.loader.yaml_events import Constructor, NodeLoader, Resolver, read_plain
from deeptui.models import TaskDefinition, WorkflowDefinition

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted((ROOT / "workflows" / "examples").glob("*.yaml")) + sorted(
    (Path(__file__).resolve().parent / "data" / "bad").glob("*.yaml"))


def _tree(text: str) -> Any:
    return yaml.load(text, Loader=NodeLoader)


def _outcome(path: Path) -> Any:
    try:
        return load_workflow(path)
    except WorkflowFileError as exc:
        return str(exc)


SCALARS = ("a: [yes, No, ON, off, ~, null, '', 0x1F, 0o17, 017, 0b101, 1_000, -7, +3, 1:30, "
           "1.5e3, .5, -.inf, .NaN, 2024-01-01, =, '1', \"true\", t00001, 1.0.0, 6:61]\n")


@pytest.mark.parametrize("text", [
    SCALARS,
    "id: w\nmetadata:\n  '<<': x\n  k: 'v: w'\n  long: |\n    two\n    lines\n",
    "- 1\n- [2, {b: c}]\n- {}\n- []\n",
    "just text\n",
    "%YAML 1.1\n---\nid: w\n...\n",
])
def test_plain_documents_read_from_events_equal_the_node_tree(text: str) -> None:
    assert read_plain(text, 100) == _tree(text)


@pytest.mark.parametrize("text", [
    "",  # empty
    "# a comment only\n",
    "a: &x 1\nb: *x\n",  # anchor and alias
    "a: !!str 1\n",  # explicit tag
    "a: !custom 1\n",
    "a: ! 1\n",
    "base: {x: 1}\nb:\n  <<: {y: 2}\n",  # merge key
    "a: 1\na: 2\n",  # duplicate key
    "1: a\n",  # non-string keys
    "true: a\n",
    "null: a\n",
    "? [a]\n: b\n",  # collection key
    "a: 1\n---\nb: 2\n",  # two documents
    "a: [1\n",  # syntax error
    "a: " + "[" * 101 + "]" * 101 + "\n",  # deeper than the limit
])
def test_anything_unusual_is_left_to_the_node_tree(text: str) -> None:
    assert read_plain(text, 100) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(value=json_values, flow=st.sampled_from([None, True, False]))
def test_any_json_value_dumped_as_yaml_reads_the_same_both_ways(value: Any, flow: bool | None) -> None:
    text = yaml.safe_dump({"v": value}, default_flow_style=flow, allow_unicode=True)
    assert read_plain(text, 100) == _tree(text)  # not always value: PyYAML dumps '\x85' lossily


def test_a_valid_file_never_builds_the_node_tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tasks = [TaskDefinition(id=f"t{i}", depends_on=[f"t{i - 1}"] if i else [], parameters={"n": i})
             for i in range(200)]
    wf = WorkflowDefinition(id="w", tasks=tasks, metadata={"ok": True, "ratio": 0.5, "none": None})
    path = tmp_path / "w.yaml"
    dump_workflow(wf, path)

    def refuse(text: str) -> None:
        raise AssertionError("the node tree was built for a valid file")

    monkeypatch.setattr(loader, "NodeLoader", refuse)
    assert load_workflow(path) == wf


def test_an_invalid_plain_file_is_worded_with_the_node_trees_position() -> None:
    text = "id: w\ntasks:\n  - id: a\n    priority: high\n"
    assert read_plain(text, 100) is not None  # the fast path reads it, validation fails
    with pytest.raises(WorkflowFileError, match=r"^w.yaml:4:15: task 'a': priority: input should"):
        loads_workflow(text, "yaml", "w.yaml")


def test_without_libyaml_the_pure_python_parser_gives_the_same_outcomes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with_libyaml = {path.name: _outcome(path) for path in YAML_FILES}

    class PythonNodeLoader(yaml.SafeLoader, Constructor, Resolver):  # what NodeLoader is without libyaml
        pass

    monkeypatch.setattr(loader_yaml, "EventLoader", yaml.SafeLoader)
    monkeypatch.setattr(loader, "NodeLoader", PythonNodeLoader)
    without = {path.name: _outcome(path) for path in YAML_FILES}
    # PyYAML words this one syntax error differently from libyaml; same place.
    assert without.pop("syntax.yaml").endswith(":5:23: syntax error: mapping values are not allowed here")
    with_libyaml.pop("syntax.yaml")
    assert without == with_libyaml
    assert read_plain(SCALARS, 100) == _tree(SCALARS)


def test_loading_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            loads_workflow("id: w\n", "yaml")
            with pytest.raises(WorkflowFileError):
                loads_workflow("id: w\npriority: x\n", "yaml")
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
