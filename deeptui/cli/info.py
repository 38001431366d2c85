"""`deeptui viz`, `templates`, `skills`, `cache` and `history`: commands that show
things (and clear the cache) without running a workflow."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from deeptui.cli.common import CLIError, console, open_store, resolve_workflow, settings_of
from deeptui.visualize.safe_text import markup, text as safe, visible

RENDERED_SUFFIXES = (".svg", ".png")  # drawn by Graphviz's `dot` from the DOT text


def cmd_viz(args: argparse.Namespace) -> int:
    from deeptui.visualize import VisualizationFormat, render_to_file, visualize_workflow

    workflow = resolve_workflow(args.target, args.param)
    if args.output is None:
        print(visualize_workflow(workflow, format=VisualizationFormat(args.format or "ascii")))
        return 0
    suffix = args.output.suffix.lower()
    if suffix in RENDERED_SUFFIXES:
        if args.format not in (None, "graphviz"):
            raise CLIError(f"{args.output}: a {suffix} file is drawn from the graphviz format; "
                           f"--format {args.format} cannot be written to it")
        dot = visualize_workflow(workflow, format=VisualizationFormat.GRAPHVIZ)
        _render_dot(dot, args.output)
    else:
        render_to_file(workflow, args.output, args.format)
    print(f"wrote {args.output}")
    return 0


def _render_dot(dot: str, output: Path) -> None:
    exe = shutil.which("dot")
    if exe is None:
        raise CLIError(f"{output}: drawing {output.suffix} needs Graphviz's 'dot' command, which "
                       "is not installed (install graphviz, or write .dot/.mmd/.txt instead)")
    proc = subprocess.run([exe, f"-T{output.suffix.lower().lstrip('.')}", "-o", str(output)],
                          input=dot, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["failed"])[0]
        raise CLIError(f"{output}: dot failed: {first}")


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
    console().print(table)
    return 0


def cmd_skills(args: argparse.Namespace) -> int:
    from rich.table import Table

    from deeptui.skills_manager import SkillManager

    settings = settings_of(args)
    manager = SkillManager([{"path": d, "recursive": True} for d in settings.skill_dirs] or None)
    table = Table("skill", "description", "tags", box=None, header_style="bold")
    for skill in manager.get_all_skills():
        table.add_row(*map(safe, (skill["name"], skill["description"],
                                  ", ".join(skill.get("tags") or []))))
    out = console()
    out.print(table)
    for problem in getattr(manager, "problems", []):
        out.print(f"[yellow]warning:[/] {markup(problem)}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from deeptui.cache import create_cache

    settings = settings_of(args)
    cache = create_cache(settings.cache_config())
    try:
        if args.action == "clear":
            removed = cache.invalidate(args.task) if args.task else cache.clear()
            what = f"task '{visible(args.task)}'" if args.task else "all tasks"
            print(f"removed {removed} cache entries ({what})")
            return 0
        stats = {**cache.stats(), "entries": len(cache.entries()),
                 "directory": str(getattr(cache, "directory", None) or "")}
        if args.format == "json":
            print(json.dumps(stats, indent=2, default=str))
        else:
            _print_stats(stats)
        return 0
    finally:
        cache.close()


def _print_stats(stats: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in stats.items():
        shown = "" if value is None else (f"{value:,}" if isinstance(value, int)
                                           and not isinstance(value, bool) else str(value))
        table.add_row(key.replace("_", " "), safe(shown))
    console().print(table)


def cmd_history(args: argparse.Namespace) -> int:
    from deeptui.cli.history_view import history_command

    if args.action == "export" and args.format == "table":
        raise CLIError("history export writes JSON; use 'history show' for a table")
    store = open_store(settings_of(args))
    try:
        return history_command(store, args.action, args.run, args.limit, console(),
                               fmt=args.format or "table")
    finally:
        store.close()
