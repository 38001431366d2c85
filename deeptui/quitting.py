"""How the app quits: Quit, SIGTERM and SIGHUP (or its terminal going away: see
deeptui.widgets.terminal) cancel the running runs and close the app only once every
task's process group is gone (see deeptui.runners.groups)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deeptui.orchestrator import Run, TaskOrchestrator

log = logging.getLogger(__name__)


class StopsRunsBeforeExit:
    """Mixed into the app (which provides ``running_runs``, ``orchestrator``, ``notify``,
    ``run_worker`` and ``exit``); Textual-free itself."""

    _stop_signal: int | None = None  # SIGTERM or SIGHUP received
    _terminal_gone = False  # `terminal_lost`: the SIGHUP that may follow is the same hang-up
    running_runs: Callable[[], list[Run]]
    notify: Any
    exit: Any
    run_worker: Any

    if TYPE_CHECKING:  # the app's: built on first use
        @property
        def orchestrator(self) -> TaskOrchestrator: ...

    def stop_runs_and_exit(self, return_code: int = 0) -> None:
        """Cancel the running runs and exit once they ended, in a worker: every task's
        process group is gone (a task ignoring SIGTERM gets SIGKILL after the grace)."""
        self.run_worker(self._stop_runs_then_exit(return_code), group="quit", exclusive=True,
                        exit_on_error=False, description="stop the runs, then quit")

    async def _stop_runs_then_exit(self, return_code: int) -> None:
        running = self.running_runs()
        for run in running:
            self.orchestrator.cancel_workflow(run.state.run_id)
        if running:
            self.notify(f"Stopping {len(running)} run(s)...", timeout=30)
        for run in running:
            try:
                await self.orchestrator.wait(run.state.run_id)
            except Exception:  # the run's own error is in its state; quitting goes on
                log.debug("run %s ended with an error", run.state.run_id, exc_info=True)
        self.exit(return_code=return_code)

    def _on_stop_signal(self, signum: int) -> None:
        """SIGTERM or SIGHUP: like Quit (runs cancelled, their processes gone, then exit,
        128 + the signal's number); a second one: SIGKILL the task processes, exit now."""
        if self._stop_signal is not None:
            if signum == signal.SIGHUP and self._terminal_gone:
                return  # the kernel's word for the hang-up the app already saw: not a second
            from deeptui.runners import groups

            groups.end_all(grace=0)
            self.exit(return_code=128 + signum)
            return
        self._stop_signal = signum
        self.stop_runs_and_exit(128 + signum)

    def terminal_lost(self) -> None:
        """The terminal went away (a write to it failed, or it hung up): quit as on SIGHUP,
        once."""
        if self._stop_signal is None:
            self._terminal_gone = True
            self._on_stop_signal(signal.SIGHUP)

    def handle_stop_signals(self, on: bool) -> None:
        """Handle SIGTERM and SIGHUP in the running loop (``on``), or stop handling them."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                if on:
                    loop.add_signal_handler(signum, self._on_stop_signal, signum)
                else:
                    loop.remove_signal_handler(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
