"""The command line: the same engine as the app, without the UI.

``deeptui`` alone opens the app. Every user error prints one line on stderr
and exits non-zero; a run exits 0 only when it succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from deeptui.errors import DeeptuiError
from deeptui.safe_text import markup, text as safe, visible

WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
EXIT_USAGE = 2


class CLIError(DeeptuiError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and the same exit code as other user errors)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------- parser


def _settings_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting (see deeptui.settings.Settings), generated from the model."""
    from deeptui.settings import Settings

    group = parser.add_argument_group("settings (override the config file)")
    group.add_argument("--config", type=Path, help="config file (TOML)")
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if name == "keymap":
            continue
        if name == "skill_dirs":
            group.add_argument("--skill-dir", dest="skill_dirs", action="append",
                               help=field.description)
            continue
        kind = {float: float, int: int}.get(_base_type(field.annotation), str)
        group.add_argument(flag, dest=name, type=kind, default=None, help=field.description)


def _base_type(annotation: Any) -> Any:
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    return args[0] if args else annotation


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deeptui")
    except PackageNotFoundError:  # running from a source tree that is not installed
        from deeptui import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deeptui",
        description="Run multi-agent workflows and watch and steer them live. "
                    "Without a command, opens the app.")
    parser.add_argument("--version", action="version", version=f"deeptui {_version()}")
    _settings_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a workflow file or a template")
    run.add_argument("target", help="workflow file (.yaml/.json/.toml) or template name")
    run.add_argument("--param", "-p", action="append", default=[], metavar="K=V",
                     help="template parameter (repeatable)")
    run.add_argument("--headless", action="store_true", help="no app: rich progress, exit code")
    run.add_argument("--run-id", help="id for this run (default: generated)")

    validate = sub.add_parser("validate", help="check a workflow file without running it")
    validate.add_argument("file")

    viz = sub.add_parser("viz", help="draw a workflow's DAG")
    viz.add_argument("target", help="workflow file or template name")
    viz.add_argument("--format", "-f", default="ascii",
                     choices=["mermaid", "graphviz", "ascii", "json"])
    viz.add_argument("--param", "-p", action="append", default=[], metavar="K=V")
    viz.add_argument("--output", "-o", type=Path, help="write to this file")

    sub.add_parser("templates", help="list the workflow templates and their parameters")
    sub.add_parser("skills", help="list the skills tasks can require")

    cache = sub.add_parser("cache", help="result cache statistics and clearing")
    cache.add_argument("action", choices=["stats", "clear"])
    cache.add_argument("--task", help="clear only this task's entries")

    history = sub.add_parser("history", help="past runs")
    history.add_argument("action", nargs="?", default="list", choices=["list", "show", "export"])
    history.add_argument("run", nargs="?", help="run id (or a unique prefix)")
    history.add_argument("--format", default="json", choices=["json"])
    history.add_argument("--limit", type=int, default=30)

    resume = sub.add_parser("resume", help="continue an unfinished or failed run")
    resume.add_argument("run", help="run id (or a unique prefix)")
    resume.add_argument("--headless", action="store_true")
    return parser


# ---------------------------------------------------------------- helpers


def _settings(args: argparse.Namespace) -> Any:
    from deeptui.settings import Settings, load_settings

    overrides = {name: getattr(args, name, None) for name in Settings.model_fields
                 if name != "keymap"}
    return load_settings(args.config, **overrides)


def _open_store(settings: Any) -> Any:
    from deeptui.store import RunStore

    return RunStore.from_settings(settings)


def _check_model(settings: Any) -> None:
    """A named model must resolve now: a typo or a missing provider package is a user error,
    not four failed attempts per task."""
    if settings.model:
        from deeptui.runners import resolve_model

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


def _validate(orchestrator: Any, workflow: Any, target: str) -> None:
    """The orchestrator's checks (skills, routing, callables, conditions), naming the file."""
    from deeptui.errors import WorkflowValidationError

    try:
        orchestrator.validate(workflow)
    except WorkflowValidationError as exc:
        if not is_workflow_file(target):
            raise
        raise WorkflowValidationError(f"{target}: {exc}") from None


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# --------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    from deeptui.loader import load_workflow

    settings = _settings(args)
    workflow = load_workflow(args.file)
    from deeptui.settings import build_orchestrator

    # validating touches neither the cache nor the history
    orchestrator = build_orchestrator(settings.model_copy(update={"cache": "none"}))
    try:
        _validate(orchestrator, workflow, args.file)
        levels = orchestrator.recommend_strategy(workflow)
    finally:
        orchestrator.close()
    print(f"{visible(args.file)}: ok: workflow '{visible(workflow.id)}' with {len(workflow.tasks)} tasks, "
          f"strategy {workflow.execution_strategy.value} (recommended: {levels.value})")
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    from deeptui.visualize import VisualizationFormat, visualize_workflow

    workflow = resolve_workflow(args.target, args.param)
    text = visualize_workflow(workflow, format=VisualizationFormat(args.format))
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    from rich.table import Table

    from deeptui.workflows import list_templates

    table = Table("template", "description", "parameters (default)", box=None,
                  header_style="bold")
    for template in list_templates():
        params = "\n".join(
            name + ("" if f.is_required() else f"={f.get_default(call_default_factory=True)!r}")
            for name, f in template.parameters_model.model_fields.items())
        table.add_row(template.name, template.description, params)
        table.add_row("", "", "")
    _console().print(table)
    return 0


def cmd_skills(args: argparse.Namespace) -> int:
    from rich.table import Table

    from deeptui.skills_manager import SkillManager

    settings = _settings(args)
    manager = SkillManager([{"path": d, "recursive": True} for d in settings.skill_dirs] or None)
    table = Table("skill", "description", "tags", box=None, header_style="bold")
    for skill in manager.get_all_skills():
        table.add_row(*map(safe, (skill["name"], skill["description"],
                                  ", ".join(skill.get("tags") or []))))
    console = _console()
    console.print(table)
    for problem in getattr(manager, "problems", []):
        console.print(f"[yellow]warning:[/] {markup(problem)}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from deeptui.cache import create_cache

    settings = _settings(args)
    cache = create_cache(settings.cache_config())
    try:
        if args.action == "clear":
            removed = cache.invalidate(args.task) if args.task else cache.clear()
            what = f"task '{visible(args.task)}'" if args.task else "all tasks"
            print(f"removed {removed} cache entries ({what})")
            return 0
        stats = cache.stats()
        entries = cache.entries()
        print(json.dumps({**stats, "entries": len(entries),
                          "directory": str(getattr(cache, "directory", None) or "")}, indent=2))
        return 0
    finally:
        cache.close()


def cmd_history(args: argparse.Namespace) -> int:
    from deeptui.history_view import history_command

    store = _open_store(_settings(args))
    try:
        return history_command(store, args.action, args.run, args.limit, _console())
    finally:
        store.close()


def cmd_run(args: argparse.Namespace) -> int:
    from deeptui.history_view import unsaved_warning
    from deeptui.settings import build_orchestrator

    settings = _settings(args)
    workflow = resolve_workflow(args.target, args.param)
    _check_model(settings)
    if settings.max_parallel:
        workflow = workflow.model_copy(update={"max_parallel_tasks": settings.max_parallel})
    store = _open_store(settings)
    orchestrator = build_orchestrator(settings, store=store)
    try:
        # checked before the app opens too: a bad file is one line and a non-zero exit
        _validate(orchestrator, workflow, args.target)
        if not args.headless:
            code = _run_app(args, settings, workflow, store=store, orchestrator=orchestrator)
        else:
            from deeptui.headless import run_headless

            if args.run_id:  # an id of a stored run: refused
                store.reserve_run(args.run_id, workflow)
            code = asyncio.run(run_headless(orchestrator, workflow, run_id=args.run_id))
    finally:
        orchestrator.close()
        store.close()
    return unsaved_warning(store, code)


def cmd_resume(args: argparse.Namespace) -> int:
    from deeptui.headless import run_headless
    from deeptui.history_view import unsaved_warning
    from deeptui.settings import build_orchestrator

    settings = _settings(args)
    _check_model(settings)
    store = _open_store(settings)
    try:
        stored = store.load_run(args.run)
        if not args.headless:
            code = _run_app(args, settings, store=store, resume=stored.summary.run_id)
        else:
            orchestrator = build_orchestrator(settings, store=store)
            try:
                code = asyncio.run(run_headless(orchestrator, stored.workflow,
                                                resume_from=store, run_id=stored.summary.run_id))
            finally:
                orchestrator.close()
    finally:
        store.close()
    return unsaved_warning(store, code)


def _run_app(args: argparse.Namespace, settings: Any, workflow: Any = None, *,
             store: Any = None, resume: str | None = None, orchestrator: Any = None) -> int:
    """Open the app (with the history store), optionally starting or resuming a run."""
    from deeptui.app import DeeptuiApp
    from deeptui.history_view import unsaved_warning

    if orchestrator is None:  # the app opens the cache later: refuse a bad directory now
        from deeptui.cache import claim_cache_dir

        claim_cache_dir(settings.cache_config())
    own_store = store is None
    if own_store:
        store = _open_store(settings)
    try:
        app = DeeptuiApp(settings, orchestrator=orchestrator, store=store,
                         initial_workflow=workflow,
                         initial_resume=resume, settings_path=args.config)
        app.run()
        if getattr(app, "error", None):
            print(app.error, file=sys.stderr)
        code = int(app.return_code or 0)
    finally:
        if own_store:
            store.close()
    return unsaved_warning(store, code) if own_store else code


COMMANDS = {
    "run": cmd_run, "validate": cmd_validate, "viz": cmd_viz, "templates": cmd_templates,
    "skills": cmd_skills, "cache": cmd_cache, "history": cmd_history, "resume": cmd_resume,
}


def _one_line_warning(message: Any, category: Any, filename: str, lineno: int,
                     file: Any = None, line: str | None = None) -> None:
    """Warnings (a corrupted cache being rebuilt...) as one line, without source lines."""
    print(f"deeptui: warning: {visible(' '.join(str(message).split()))}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # restores showwarning for callers of main()
        warnings.showwarning = _one_line_warning
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command is None:
            settings = _settings(args)
            _check_model(settings)
            return _run_app(args, settings)
        return COMMANDS[args.command](args)
    except DeeptuiError as exc:
        text = " ".join(line.strip() for line in str(exc).splitlines())  # always one line
        print(f"deeptui: error: {visible(text)}", file=sys.stderr)
        return EXIT_USAGE if not isinstance(exc, KeyError) else 1
    except KeyboardInterrupt:
        print("deeptui: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"'{exc.filename}': " if getattr(exc, "filename", None) else ""
        print(f"deeptui: error: {visible(where)}{visible(exc.strerror or exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line on screen, the traceback in a file
        log = _crash_log(exc)
        print(f"deeptui: internal error: {type(exc).__name__}: {visible(exc)} (details: {log})",
              file=sys.stderr)
        return 70


def _crash_log(exc: BaseException) -> str:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="deeptui-crash-", suffix=".log",
                                     delete=False) as fh:
        traceback.print_exception(exc, file=fh)
        return fh.name


if __name__ == "__main__":
    sys.exit(main())
