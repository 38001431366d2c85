"""`ParametersScreen`: a template's parameter form (or a workflow file's tasks) with a DAG preview and Run.

For a template the form is generated from its pydantic parameters model and
validated on Run (errors under the fields); the preview redraws shortly after
each change while the values are valid. The form starts from the values last run
for the template (`deeptui.last_values`), which a run remembers. For a workflow file there is no form:
the file's tasks and DAG are shown with a Run button.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, Footer, Header, Input, Label, Static

from deeptui.errors import DeeptuiError
from deeptui.last_values import last_values, remember_values
from deeptui.screens.base import DeeptuiScreen
from deeptui.widgets.bindings import bindings
from deeptui.models import WorkflowDefinition
from deeptui.visualize import DAGVisualizer
from deeptui.visualize.safe_text import visible
from deeptui.widgets.line_view import LineView, WorkflowLines, no_gc_pauses, workflow_lines
from deeptui.widgets.param_form import ParamForm

PREVIEW_DELAY = 0.3  # seconds after the last change before the preview redraws
SYNC_LINES_TASKS = 500  # a bigger file's lines are built in a thread (see StartScreen.open_file)


class ParametersScreen(DeeptuiScreen[None]):
    """``ParametersScreen(template=name)`` or ``ParametersScreen(workflow=wf, source=path)``."""

    BINDINGS = bindings("parameters")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self, *, template: str | None = None, workflow: WorkflowDefinition | None = None,
                 source: str | None = None, lines: WorkflowLines | None = None) -> None:
        super().__init__()
        if (template is None) == (workflow is None):
            raise ValueError("ParametersScreen needs a template name or a workflow")
        self.template_name = template
        self.workflow = workflow
        self.source = source
        self.preview_workflow: WorkflowDefinition | None = workflow
        # a workflow file's task table and DAG as prepared lines (drawn lazily, any size)
        if lines is None and workflow is not None and len(workflow.tasks) <= SYNC_LINES_TASKS:
            lines = workflow_lines(workflow)
        self.lines = lines
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        from deeptui.workflows.registry import get_template

        yield Header()
        with Horizontal(id="params-body"):
            with Vertical(id="params-left"):
                if self.template_name is not None:
                    template = get_template(self.template_name)
                    self.template_name = template.name
                    yield Label(Text.assemble((template.title, "bold"), "  ",
                                              (template.description, "italic")), id="params-title")
                    yield ParamForm(template.parameters_model, id="param-form",
                                    values=last_values(template.name))
                else:
                    assert self.workflow is not None
                    wf = self.workflow
                    source = visible(Path(self.source).name) if self.source else ""
                    yield Label(Text.assemble((visible(wf.name), "bold"), f"  {source}",
                                              f"\n{len(wf.tasks)} tasks, strategy "
                                              f"{wf.execution_strategy.value}"), id="params-title")
                    with Horizontal(id="workspace-row"):
                        yield Label("Workspace ", classes="field-label")
                        yield Input(wf.workspace or "", id="workspace", compact=True,
                                    placeholder="none: agents work on an in-memory workspace")
                    lines = self.lines
                    yield LineView(lines.tasks if lines else [], lines.tasks_width if lines else 0,
                                   id="file-tasks")
            with Vertical(id="params-right"):
                yield Label("DAG preview", classes="section-title")
                if self.template_name is None:
                    lines = self.lines
                    yield LineView(lines.dag if lines else [], lines.dag_width if lines else 0,
                                   id="preview-lines")
                else:
                    with VerticalScroll(id="preview-scroll"):
                        yield Static(id="preview")
        with Horizontal(id="params-buttons"):
            yield Label("Tasks run on ", classes="field-label")
            settings = getattr(self.app, "settings", None)
            yield Input(getattr(settings, "cluster", None) or "", id="cluster", compact=True,
                        placeholder="this machine", tooltip="or a Dask cluster: "
                        "tcp://HOST:8786, local or local:N (needs deeptui[dask])")
            yield Button("Run", id="run", variant="success", compact=True)
            if self.template_name is not None:
                yield Button("Preview", id="preview-button", compact=True)
            yield Button("Back", id="back", compact=True)
        yield Footer()

    @property
    def ready(self) -> bool:
        """Everything is on show (a big file's lines are built in a thread first)."""
        return self.template_name is not None or self.lines is not None

    def on_mount(self) -> None:
        self.title = "Parameters" if self.template_name else "Workflow file"
        if self.template_name is None:
            if self.lines is None:
                self._build_lines()
            self.query_one("#run", Button).focus()
            return
        self.action_preview(show_errors=False)
        inputs = self.query(ParamForm).first().query("Input, TextArea, Switch, Select, SelectionList")
        if inputs:
            inputs.first().focus()

    # -- building ------------------------------------------------------------

    def build(self, *, show_errors: bool = True) -> WorkflowDefinition | None:
        """The workflow the current values make, or None (errors shown when asked)."""
        if self.template_name is None:
            return self._file_workflow(show_errors)
        from deeptui.workflows.registry import get_template

        form = self.query_one(ParamForm)
        params = form.validated(show=show_errors)
        if params is None:
            return None
        values = {key: getattr(params, key) for key in type(params).model_fields}
        try:
            return get_template(self.template_name).build(values)
        except DeeptuiError as exc:
            if show_errors:
                self.notify(str(exc), title="Invalid parameters", severity="error")
            return None

    def _file_workflow(self, show_errors: bool) -> WorkflowDefinition | None:
        """The file's workflow, on the directory the Workspace field names (if any)."""
        assert self.workflow is not None
        typed = self.query_one("#workspace", Input).value.strip()
        if typed == (self.workflow.workspace or ""):
            return self.workflow
        folder = Path(typed).expanduser().resolve() if typed else None
        if folder is not None and not folder.is_dir():
            if show_errors:
                self.notify(f"workspace '{visible(typed)}' is not a directory",
                            title="Invalid workspace", severity="error", markup=False)
            return None
        return self.workflow.model_copy(update={"workspace": str(folder) if folder else None})

    @work(thread=True, exclusive=True, group="file-lines", exit_on_error=False,
          description="draw the workflow file")
    def _build_lines(self) -> None:
        assert self.workflow is not None
        with no_gc_pauses():
            lines = workflow_lines(self.workflow)
        self.app.call_from_thread(self._show_lines, lines)

    def _show_lines(self, lines: WorkflowLines) -> None:
        self.lines = lines
        self.query_one("#file-tasks", LineView).set_lines(lines.tasks, lines.tasks_width)
        self.query_one("#preview-lines", LineView).set_lines(lines.dag, lines.dag_width)

    def action_preview(self, show_errors: bool = True) -> None:
        if self.template_name is None:  # a file's DAG is drawn once, on opening
            return
        workflow = self.build(show_errors=show_errors)
        preview = self.query_one("#preview", Static)
        if workflow is None:
            preview.update(Text("Fix the parameters to see the DAG.", style="dim"))
            return
        self.preview_workflow = workflow
        preview.update(DAGVisualizer(workflow).rich_renderable())

    def on_param_form_changed(self, event: ParamForm.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PREVIEW_DELAY, self._delayed_preview)

    def _delayed_preview(self) -> None:
        self._timer = None
        self.action_preview(show_errors=False)

    @property
    def preview_pending(self) -> bool:
        """A change is waiting for the preview to redraw."""
        return self._timer is not None

    # -- running ---------------------------------------------------------------

    def action_run_workflow(self) -> None:
        workflow = self.build(show_errors=True)
        if workflow is None:
            if self.template_name is not None:  # (a bad workspace said so itself)
                self.notify("Some parameters are not valid: see the messages under the fields",
                            severity="error")
            return
        if not self._use_cluster():
            return
        values = self.query_one(ParamForm).json_values() if self.template_name else None
        if self.app.start_run(workflow) is not None and values is not None:
            self._remember(values)

    def _remember(self, values: dict[str, Any]) -> None:
        """Keep the values just run for next time (a failure to write is a warning)."""
        assert self.template_name is not None
        try:
            remember_values(self.template_name, values)
        except OSError as exc:
            self.notify(f"Cannot remember the parameters: {exc}", severity="warning")

    def _use_cluster(self) -> bool:
        """Where the tasks run, as the Cluster field says (False: refused, with the reason)."""
        typed = self.query_one("#cluster", Input).value.strip() or None
        orchestrator = getattr(self.app, "orchestrator", None)
        if orchestrator is None or (typed is None and orchestrator.cluster is None):
            return True  # this machine, as before (nothing to load)
        from deeptui.cluster import switch_cluster

        try:
            switch_cluster(orchestrator, typed)
        except DeeptuiError as exc:
            self.notify(str(exc), title="Where tasks run", severity="error", markup=False)
            return False
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "run":
            self.action_run_workflow()
        elif event.button.id == "preview-button":
            self.action_preview()
        elif event.button.id == "back":
            self.action_back()
