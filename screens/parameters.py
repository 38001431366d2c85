"""`ParametersScreen`: a template's parameter form (or a workflow file's tasks) with a DAG preview and Run.

For a template the form is generated from its pydantic parameters model and
validated on Run (errors under the fields); the preview redraws shortly after
each change while the values are valid. For a workflow file there is no form:
the file's tasks and DAG are shown with a Run button.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, Header, Label, Static

from deeptui.errors import DeeptuiError
from deeptui.widgets.bindings import bindings
from deeptui.models import WorkflowDefinition
from deeptui.visualize import DAGVisualizer
from deeptui.widgets.param_form import ParamForm

PREVIEW_DELAY = 0.3  # seconds after the last change before the preview redraws


def tasks_table(workflow: WorkflowDefinition) -> Table:
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
    table.add_column("task", style="bold", no_wrap=True)
    table.add_column("kind", style="cyan", no_wrap=True)
    table.add_column("needs", style="dim")
    table.add_column("description", overflow="fold")
    for task in workflow.tasks:
        table.add_row(task.id, task.kind, ", ".join(task.depends_on), task.description)
    return table


class ParametersScreen(Screen[None]):
    """``ParametersScreen(template=name)`` or ``ParametersScreen(workflow=wf, source=path)``."""

    BINDINGS = bindings("parameters")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self, *, template: str | None = None, workflow: WorkflowDefinition | None = None,
                 source: str | None = None) -> None:
        super().__init__()
        if (template is None) == (workflow is None):
            raise ValueError("ParametersScreen needs a template name or a workflow")
        self.template_name = template
        self.workflow = workflow
        self.source = source
        self.preview_workflow: WorkflowDefinition | None = workflow
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
                    yield ParamForm(template.parameters_model, id="param-form")
                else:
                    assert self.workflow is not None
                    wf = self.workflow
                    yield Label(Text.assemble((wf.name, "bold"), f"  {Path(self.source).name if self.source else ''}",
                                              f"\n{len(wf.tasks)} tasks, strategy "
                                              f"{wf.execution_strategy.value}"), id="params-title")
                    with VerticalScroll(id="file-tasks"):
                        yield Static(tasks_table(wf))
            with Vertical(id="params-right"):
                yield Label("DAG preview", classes="section-title")
                with VerticalScroll(id="preview-scroll"):
                    yield Static(id="preview")
        with Horizontal(id="params-buttons"):
            yield Button("Run", id="run", variant="success", compact=True)
            if self.template_name is not None:
                yield Button("Preview", id="preview-button", compact=True)
            yield Button("Back", id="back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Parameters" if self.template_name else "Workflow file"
        self.action_preview(show_errors=False)
        if self.template_name is None:
            self.query_one("#run", Button).focus()
        else:
            inputs = self.query(ParamForm).first().query("Input, Switch, Select, SelectionList")
            if inputs:
                inputs.first().focus()

    # -- building ------------------------------------------------------------

    def build(self, *, show_errors: bool = True) -> WorkflowDefinition | None:
        """The workflow the current values make, or None (errors shown when asked)."""
        if self.template_name is None:
            return self.workflow
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

    def action_preview(self, show_errors: bool = True) -> None:
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
            self.notify("Some parameters are not valid: see the messages under the fields",
                        severity="error")
            return
        self.app.start_run(workflow)  # type: ignore[attr-defined]

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
