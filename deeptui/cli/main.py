"""The command line: the same engine as the app, without the UI.

``deeptui`` alone opens the app. Every user error prints one line on stderr
(a workflow file with several problems: one line each) and exits non-zero; a
run exits 0 only when it succeeded. Output cut short by a closed pipe
(``deeptui viz X | head``) ends quietly. This module owns the parser and the
error boundary; the commands live in ``run`` and ``info``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from deeptui.cli.common import EXIT_USAGE, CLIError, is_workflow_file, resolve_workflow
from deeptui.errors import DeeptuiError
from deeptui.visualize.safe_text import visible

__all__ = ["CLIError", "build_parser", "is_workflow_file", "main", "resolve_workflow"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and the same exit code as other user errors)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------- parser


def _settings_flags(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """One flag per setting (see deeptui.settings.Settings), generated from the model.

    Every command takes them too (``deeptui run ci-cd --fail-rate 0.5``); there their
    default is "not given", so a flag before the command is not undone by one after it.
    """
    from deeptui.settings import Settings

    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("settings (override the config file)")
    group.add_argument("--config", type=Path, default=default, help="config file (TOML)")
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if name == "keymap":
            continue
        if name == "skill_dirs":
            group.add_argument("--skill-dir", dest="skill_dirs", action="append",
                               default=default, help=field.description)
            continue
        kind = {float: float, int: int}.get(_base_type(field.annotation), str)
        group.add_argument(flag, dest=name, type=kind, default=default, help=field.description)


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help, description=help)
        _settings_flags(cmd, suppress=True)
        return cmd

    run = command("run", "run a workflow file or a template")
    run.add_argument("target", help="workflow file (.yaml/.json/.toml) or template name")
    run.add_argument("--param", "-p", action="append", default=[], metavar="K=V",
                     help="template parameter (repeatable)")
    run.add_argument("--headless", action="store_true", help="no app: rich progress, exit code")
    run.add_argument("--run-id", help="id for this run (default: generated)")
    run.add_argument("--refresh", action="store_true",
                     help="run every task, reading nothing from the cache (results are still stored)")
    run.add_argument("--format", default="table", choices=["table", "json"],
                     help="headless output: the task table, or one JSON document")
    run.add_argument("--workspace", metavar="DIR",
                     help="the directory agent tasks work on (overrides the workflow's)")
    _file_flags(run)

    validate = command("validate", "check a workflow file without running it")
    validate.add_argument("file")

    viz = command("viz", "draw a workflow's DAG")
    viz.add_argument("target", help="workflow file or template name")
    viz.add_argument("--format", "-f", default=None,
                     choices=["mermaid", "graphviz", "ascii", "json"],
                     help="default: ascii, or what the --output suffix says")
    viz.add_argument("--param", "-p", action="append", default=[], metavar="K=V")
    viz.add_argument("--output", "-o", type=Path,
                     help="write to this file: .mmd/.md, .dot/.gv, .json, .txt, or .svg/.png "
                          "(drawn by Graphviz)")

    command("templates", "list the workflow templates and their parameters")
    command("skills", "list the skills tasks can require")

    cache = command("cache", "result cache statistics and clearing")
    cache.add_argument("action", choices=["stats", "clear"])
    cache.add_argument("--task", help="clear only this task's entries")
    cache.add_argument("--format", default="table", choices=["table", "json"])

    history = command("history", "past runs")
    history.add_argument("action", nargs="?", default="list", choices=["list", "show", "export"])
    history.add_argument("run", nargs="?", help="run id (or a unique prefix)")
    history.add_argument("--format", default=None, choices=["table", "json"],
                         help="list/show: table (default) or json; export: json")
    history.add_argument("--limit", type=int, default=30)

    resume = command("resume", "continue an unfinished or failed run")
    resume.add_argument("run", help="run id (or a unique prefix)")
    resume.add_argument("--headless", action="store_true")
    resume.add_argument("--format", default="table", choices=["table", "json"])
    _file_flags(resume)

    apply = command("apply", "apply a writing task's changes (its diff) to the real files")
    apply.add_argument("run", help="run id (or a unique prefix)")
    apply.add_argument("task", help="the task whose changes to apply")
    apply.add_argument("--diff", action="store_true", help="print the diff, apply nothing")
    apply.add_argument("--discard", action="store_true", help="drop the changes instead")
    return parser


def _file_flags(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--apply", default="never", choices=["never", "ask", "always"],
                     help="headless: apply writing tasks' changes to the files at the end "
                          "(never: keep them for 'deeptui apply RUN TASK')")
    cmd.add_argument("--approve", default="never", choices=["never", "always"],
                     help="headless: answer agents' requests to run commands (default: deny)")


# --------------------------------------------------------------- dispatch


def _command(name: str | None) -> Any:
    from deeptui.cli import changes as cli_changes, info as cli_info, run as cli_run

    return {
        None: cli_run.cmd_app, "run": cli_run.cmd_run, "validate": cli_run.cmd_validate,
        "resume": cli_run.cmd_resume, "viz": cli_info.cmd_viz,
        "templates": cli_info.cmd_templates, "skills": cli_info.cmd_skills,
        "cache": cli_info.cmd_cache, "history": cli_info.cmd_history,
        "apply": cli_changes.cmd_apply,
    }[name]


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
        try:
            return _dispatch(args)
        except BrokenPipeError:
            return _pipe_closed()


def _pipe_closed() -> int:
    """The reader went away (``| head``): stop quietly. Point stdout at /dev/null so the
    interpreter's final flush does not complain about the closed pipe either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return int(_command(args.command)(args))
    except DeeptuiError as exc:
        for problem in getattr(exc, "problems", None) or [str(exc)]:
            text = " ".join(line.strip() for line in problem.splitlines())  # one line each
            print(f"deeptui: error: {visible(text)}", file=sys.stderr)
        return EXIT_USAGE if not isinstance(exc, KeyError) else 1
    except KeyboardInterrupt:
        print("deeptui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
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

