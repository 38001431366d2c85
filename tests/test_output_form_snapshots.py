"""Snapshots (80x24 and 160x48) of the output viewer (an agent's Markdown, a JSON value),
the log search with its matches highlighted, and a form whose fixed field lost its error.

The runs are stored (read-only) runs built here, so nothing on screen depends on time.
"""

from __future__ import annotations

import pytest

from conftest import wait_for
from deeptui.app import DeeptuiApp
from deeptui.models import (
    TaskDefinition,
    TaskResult,
    TaskStatus,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
)
from deeptui.screens.parameters import ParametersScreen
from deeptui.screens.run import RunScreen
from deeptui.settings import Settings

SIZES = [(80, 24), (160, 48)]
REPORT = """# Review of `pkg/io.py`

Two problems, one of them serious:

1. **`load()` calls `eval` on file content** — any file can run code.
   Use `json.loads` instead.
2. `save()` ignores write errors.

| file | line | severity |
|------|-----:|----------|
| pkg/io.py | 12 | high |
| pkg/io.py | 40 | low |

```python
data = json.loads(path.read_text())
```
""" + "\n".join(f"- note {n}: checked" for n in range(30))


def stored(output: object, *, agent: bool, log: list[tuple[float, str, str]] = ()) -> RunScreen:
    task = TaskDefinition(id="review", task_type="agent" if agent else "callable",
                          agent_type="reviewer" if agent else None,
                          parameters={} if agent else {"callable": "x"})
    workflow = WorkflowDefinition(id="wf", name="Code review", tasks=[task])
    state = WorkflowState(workflow_id="wf", run_id="run-1", workflow_name="Code review",
                          status=WorkflowStatus.COMPLETED, task_results={
                              "review": TaskResult(task_id="review", status=TaskStatus.COMPLETED,
                                                   output=output, attempts=1)})
    return RunScreen("run-1", workflow=workflow, state=state, logs={"review": list(log)})


def app() -> DeeptuiApp:
    made = DeeptuiApp(Settings(cache="none"))
    made.log_times = False
    return made


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_output_viewer_markdown(snap_compare, size) -> None:
    async def open_output(pilot):
        pilot.app.push_screen(stored(REPORT, agent=True))
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=open_output)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_output_viewer_json(snap_compare, size) -> None:
    value = {"rows": 1200, "tables": ["users", "orders"],
             "checks": {"nulls": 0, "duplicates": 3, "schema": "ok"}}

    async def open_output(pilot):
        pilot.app.push_screen(stored(value, agent=False))
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=open_output)


LOG = [(float(n), kind, text) for n, (kind, text) in enumerate(
    [("info", "attempt 1 started")]
    + [("tool_call", f"read_file pkg/mod{n}.py") if n % 4 == 0 else
       ("text", f"Step {n}: the timeout in mod{n} is fine\n" if n % 3 else
        f"Step {n}: no error handling around the TIMEOUT here\n") for n in range(40)])]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_log_search_highlights_matches(snap_compare, size) -> None:
    async def search(pilot):
        screen = stored("done", agent=True, log=LOG)
        pilot.app.push_screen(screen)
        await pilot.pause()
        screen.log_view.focus()
        await pilot.press("slash", *"timeout")
        await wait_for(pilot, lambda: screen.log_view.matches.count.endswith(f"/{30}"))
        await pilot.press("enter", "enter")

    assert snap_compare(app(), terminal_size=size, run_before=search)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_form_fixed_error_cleared(snap_compare, size) -> None:
    async def fix_one(pilot):
        pilot.app.push_screen(ParametersScreen(template="etl"))
        await pilot.pause()
        form = pilot.app.screen.query_one("#param-form")
        form.set_value("workflow_id", "")
        form.set_value("destination_config", "{not json")
        await pilot.pause()
        await wait_for(pilot, lambda: not pilot.app.screen.preview_pending)
        await pilot.press("ctrl+r")
        await pilot.pause()
        form.set_value("workflow_id", "nightly-etl")  # fixed: its message goes at once
        await wait_for(pilot, lambda: "workflow_id" not in form.errors)
        await wait_for(pilot, lambda: not pilot.app.screen.preview_pending)
        pilot.app.screen.query_one("#param-workflow_id").focus()
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=fix_one)
