"""Shared fixtures and helpers: fast offline orchestrators, event recorders, and waiting for a
condition (`until` on the event loop, `wait_for` with a Textual pilot)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deeptui import bus as ev


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the user's config, data and cache directories out of every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("DEEPTUI_HOME", str(home / "deeptui"))
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPTUI_MODEL"):
        monkeypatch.delenv(key, raising=False)
    yield


class Recorder:
    """Every event published on a bus, in order, via a sync tap."""

    def __init__(self, bus: ev.EventBus) -> None:
        self.events: list[ev.Event] = []
        self.running: set[str] = set()
        self.max_running = 0
        self.remove = bus.tap(self._on_event)

    def _on_event(self, event: ev.Event) -> None:
        self.events.append(event)
        if isinstance(event, ev.TaskStarted):
            self.running.add(event.task_id)
            self.max_running = max(self.max_running, len(self.running))
        elif isinstance(event, (ev.TaskCompleted, ev.TaskFailed, ev.TaskCancelled, ev.TaskSkipped)):
            self.running.discard(event.task_id)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def started(self) -> list[str]:
        """Task ids in the order their first attempt started."""
        return [e.task_id for e in self.of(ev.TaskStarted) if e.attempt == 1]

    def first(self, kind: type, task_id: str) -> int:
        return next(i for i, e in enumerate(self.events)
                    if isinstance(e, kind) and getattr(e, "task_id", None) == task_id)


@pytest.fixture
def fast_config():
    from deeptui import OrchestrationConfig

    return OrchestrationConfig(simulated_latency=(0.0, 0.01), simulated_seed=7)


@pytest.fixture
def orchestrator(fast_config):
    from deeptui import TaskOrchestrator

    orch = TaskOrchestrator(config=fast_config)
    yield orch
    orch.close()


@pytest.fixture
def recorder(orchestrator) -> Recorder:
    return Recorder(orchestrator.bus)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the event loop run until ``predicate()`` holds (AssertionError after ``timeout`` s)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let a Textual app (its ``pilot``) run until ``condition()`` holds (AssertionError
    after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped) is gone for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


_SNAPSHOT_EXTENSION: list[type] = []  # made once: syrupy tells extensions apart by class


@pytest.fixture(autouse=True)
def _snapshots_in_tests_snapshots(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every snapshot test (snap_compare) keeps its SVGs in tests/snapshots/<test file>/."""
    if "snap_compare" not in request.fixturenames:
        return
    from pathlib import Path

    import pytest_textual_snapshot

    if not _SNAPSHOT_EXTENSION:
        class InTestsSnapshots(pytest_textual_snapshot.SVGImageExtension):
            @classmethod
            def dirname(cls, *, test_location) -> str:  # type: ignore[no-untyped-def]
                return str(Path(test_location.filepath).parent / "snapshots" / test_location.basename)

        _SNAPSHOT_EXTENSION.append(InTestsSnapshots)
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SNAPSHOT_EXTENSION[0])
    monkeypatch.setenv("PYDANTIC_AI_NO_BANNER", "1")


@pytest.fixture(autouse=True)
def _steady_cursors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text cursors never blink in tests: a screenshot taken on either side of a
    0.5 s blink would differ, so snapshots would depend on the machine's load."""
    from textual.widgets import Input, TextArea

    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)


def tree_hash(root: Path) -> dict[str, str]:
    """Every file under ``root`` (symlinks left out) and the sha256 of its bytes: hash a
    folder before and after to show nothing in it changed."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}
