"""What the command line's commands share: settings from flags, the history store,
the model check, workflow files or templates, and the console."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deeptui.errors import DeeptuiError

WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
EXIT_USAGE = 2


class CLIError(DeeptuiError):
    pass


def settings_of(args: argparse.Namespace) -> Any:
    from deeptui.settings import Settings, load_settings

    overrides = {name: getattr(args, name, None) for name in Settings.model_fields
                 if name != "keymap"}
    return load_settings(getattr(args, "config", None), **overrides)


def open_store(settings: Any) -> Any:
    from deeptui.store import RunStore

    return RunStore.from_settings(settings)


def check_model(settings: Any) -> None:
    """A named model must resolve now: a typo, a missing provider package or a missing
    API key is a user error, not four failed attempts per task."""
    if settings.model:
        from deeptui.runners.agent import resolve_model

        resolve_model(settings.model)


def is_workflow_file(target: str) -> bool:
    return target.lower().endswith(WORKFLOW_SUFFIXES) or Path(target).is_file()


def resolve_workflow(target: str, params: list[str]) -> Any:
    """A workflow file, or a template built from ``k=v`` parameters."""
    if is_workflow_file(target):
        if params:
            raise CLIError(f"--param applies to templates only; '{target}' is a workflow file")
        from deeptui.loader import load_workflow

        return load_workflow(target)
    from deeptui.workflows import build_workflow, get_template, parse_param_assignments

    template = get_template(target)
    values = parse_param_assignments(params, template.parameters_model)
    return build_workflow(template.name, values)


def validate_with(orchestrator: Any, workflow: Any, target: str, *,
                  for_next_run: bool = False) -> None:
    """The orchestrator's checks (skills, routing, callables, conditions), naming the file;
    ``for_next_run``: the run started next, of this workflow, is not checked again."""
    from deeptui.errors import WorkflowValidationError

    try:
        orchestrator.validate(workflow, for_next_run=for_next_run)
    except WorkflowValidationError as exc:
        if not is_workflow_file(target):
            raise
        raise WorkflowValidationError(f"{target}: {exc}") from None


def start_cluster(orchestrator: Any) -> None:
    """With --cluster: connect now (start the LocalCluster), so an unreachable scheduler is
    one line before anything runs; say on stderr where the tasks run."""
    import sys

    if orchestrator.cluster is not None:
        orchestrator.cluster.start()
        print(f"tasks run on the {orchestrator.cluster.label}", file=sys.stderr)


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def plural(count: int, word: str) -> str:
    """"1 task", "2 tasks"."""
    return f"{count} {word}{'' if count == 1 else 's'}"
