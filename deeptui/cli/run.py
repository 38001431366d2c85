"""`deeptui run`, `resume` and `validate`, and opening the app."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from deeptui.cli.changes import after_headless_run
from deeptui.cli.common import (
    CLIError,
    check_model,
    open_store,
    plural,
    resolve_workflow,
    settings_of,
    start_cluster,
    validate_with,
)
from deeptui.cli.gc_policy import headless_run_gc
from deeptui.visualize.safe_text import visible


def cmd_validate(args: argparse.Namespace) -> int:
    from deeptui.loader import load_workflow
    from deeptui.settings import build_orchestrator

    settings = settings_of(args)
    workflow = load_workflow(args.file)
    # validating touches neither the cache nor the history
    orchestrator = build_orchestrator(settings.model_copy(update={"cache": "none"}))
    try:
        validate_with(orchestrator, workflow, args.file)
        levels = orchestrator.recommend_strategy(workflow)
    finally:
        orchestrator.close()
    print(f"{visible(args.file)}: ok: workflow '{visible(workflow.id)}' with {plural(len(workflow.tasks), 'task')}, "
          f"strategy {workflow.execution_strategy.value} (recommended: {levels.value})")
    return 0


def _output_format(args: argparse.Namespace) -> str:
    if args.format != "table" and not args.headless:
        raise CLIError(f"--format {args.format} applies to headless runs; add --headless")
    return str(args.format)


def cmd_run(args: argparse.Namespace) -> int:
    from deeptui.cli.history_view import unsaved_warning
    from deeptui.settings import build_orchestrator

    output = _output_format(args)
    settings = settings_of(args)
    workflow = resolve_workflow(args.target, args.param)
    if args.workspace:
        workflow = workflow.model_copy(update={"workspace": str(Path(args.workspace).resolve())})
    check_model(settings)
    if settings.max_parallel:
        workflow = workflow.model_copy(update={"max_parallel_tasks": settings.max_parallel})
    store = open_store(settings)
    orchestrator = build_orchestrator(settings, store=store, interactive=not args.headless)
    try:
        # checked before the app opens too: a bad file is one line and a non-zero exit
        # (a headless run starts it next, unchanged: it is not checked again)
        validate_with(orchestrator, workflow, args.target, for_next_run=args.headless)
        start_cluster(orchestrator)
        if not args.headless:
            code = run_app(args, settings, workflow, store=store, orchestrator=orchestrator)
        else:
            from deeptui.cli.headless import run_headless

            if args.run_id:  # an id of a stored run: refused
                store.reserve_run(args.run_id, workflow)
            orchestrator.approvals.policy = args.approve
            with headless_run_gc(len(workflow.tasks)):
                code = asyncio.run(run_headless(orchestrator, workflow, run_id=args.run_id,
                                                output=output, refresh=args.refresh))
            code = max(code, after_headless_run(orchestrator, args.apply))
    finally:
        orchestrator.close()
        store.close()
    return unsaved_warning(store, code)


def cmd_resume(args: argparse.Namespace) -> int:
    from deeptui.cli.headless import run_headless
    from deeptui.cli.history_view import unsaved_warning
    from deeptui.settings import build_orchestrator

    output = _output_format(args)
    settings = settings_of(args)
    check_model(settings)
    store = open_store(settings)
    try:
        stored = store.load_run(args.run)
        if not args.headless:
            code = run_app(args, settings, store=store, resume=stored.summary.run_id)
        else:
            orchestrator = build_orchestrator(settings, store=store)
            orchestrator.approvals.policy = args.approve
            try:
                start_cluster(orchestrator)
                with headless_run_gc(len(stored.workflow.tasks)):
                    code = asyncio.run(run_headless(orchestrator, stored.workflow,
                                                    resume_from=store,
                                                    run_id=stored.summary.run_id, output=output))
                code = max(code, after_headless_run(orchestrator, args.apply))
            finally:
                orchestrator.close()
    finally:
        store.close()
    return unsaved_warning(store, code)


def cmd_app(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    check_model(settings)
    return run_app(args, settings)


def run_app(args: argparse.Namespace, settings: Any, workflow: Any = None, *,
            store: Any = None, resume: str | None = None, orchestrator: Any = None) -> int:
    """Open the app (with the history store), optionally starting or resuming a run."""
    from deeptui.app import DeeptuiApp
    from deeptui.cli.history_view import unsaved_warning

    if orchestrator is None:  # the app opens the cache later: refuse a bad directory now
        from deeptui.cache import claim_cache_dir

        claim_cache_dir(settings.cache_config())
    own_store = store is None
    if own_store:
        store = open_store(settings)
    try:
        app = DeeptuiApp(settings, orchestrator=orchestrator, store=store,
                         initial_workflow=workflow,
                         initial_resume=resume, settings_path=getattr(args, "config", None),
                         initial_refresh=getattr(args, "refresh", False))
        app.run()
        built = getattr(app, "_orchestrator", None)
        if orchestrator is None and built is not None and built.cluster is not None:
            built.cluster.close()  # a LocalCluster the app started stops with it
        if getattr(app, "error", None):
            print(app.error, file=sys.stderr)
        code = int(app.return_code or 0)
    finally:
        if own_store:
            store.close()
    return unsaved_warning(store, code) if own_store else code
