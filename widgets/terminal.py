"""`TerminalDriver`: Textual's Linux driver, for a terminal that can go away; the app
uses it through `QuitsWhenTerminalCloses`.

When the terminal closes (a window shut, an ssh connection dropped) writes to it fail.
Textual's output thread dies on the first failed write; the queue in front of it fills
and the next write, or the driver's close on exit, waits forever: the app froze and
outlived its terminal (with its runs, if no SIGHUP reached it). Here a failed write is
dropped, and the app is told once, which then quits as on SIGHUP (runs cancelled, their
processes gone, exit 129).

An idle app writes nothing, and its input thread reads end-of-file from a terminal that
hung up, again and again (a core kept busy for good). So the driver also polls the
terminal for a hang-up twice a second (without reading: a key pressed meanwhile stays for
the input thread) and tells the app the same way.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable
from typing import IO, Any

from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver


class _TerminalOutput:
    """The driver's output file: after a failed write it drops everything, and says so once."""

    def __init__(self, file: IO[str], lost: Callable[[], None]) -> None:
        self._file = file
        self._lost = lost
        self.gone = False

    def write(self, text: str) -> None:
        if not self.gone:
            try:
                self._file.write(text)
            except (OSError, ValueError):  # EIO/EPIPE, or closed
                self.went_away()

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self.went_away()

    def went_away(self) -> None:
        """The terminal is gone: drop what is written from now on; tell the app, once."""
        if not self.gone:
            self.gone = True
            self._lost()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...
        return getattr(self._file, name)


HANGUP_POLL_SECONDS = 0.5  # how soon an idle app notices its terminal hung up


def hung_up(fd: int) -> bool:
    """Whether the terminal on ``fd`` hung up (its other end is closed), told by poll,
    without reading from it."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    gone = select.POLLHUP | select.POLLERR | select.POLLNVAL
    return any(mask & gone for _, mask in poller.poll(0))


class TerminalDriver(LinuxDriver):
    """The Linux driver whose output survives the terminal: see the module docstring."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self._loop = loop = asyncio.get_running_loop()  # the app's: drivers are made in its loop

        def lost() -> None:  # on Textual's output thread, or on the loop (a hang-up)
            loop.call_soon_threadsafe(app.terminal_lost)

        self._output = _TerminalOutput(self._file, lost)
        self._file = self._output  # type: ignore[assignment]
        self._hangup_check: asyncio.TimerHandle | None = None

    def start_application_mode(self) -> None:
        super().start_application_mode()
        if self.input_tty:
            self._watch_for_hangup()

    def stop_application_mode(self) -> None:
        if self._hangup_check is not None:
            self._hangup_check.cancel()
            self._hangup_check = None
        super().stop_application_mode()

    def _watch_for_hangup(self) -> None:
        if hung_up(self.fileno):
            self._hangup_check = None
            self._output.went_away()  # nothing more is written; the app quits as on SIGHUP
        else:
            self._hangup_check = self._loop.call_later(HANGUP_POLL_SECONDS,
                                                       self._watch_for_hangup)


class QuitsWhenTerminalCloses:
    """Mixed into the app (which provides ``terminal_lost``): on a Linux terminal, the
    driver above (not in tests' headless driver, nor a web one)."""

    def get_driver_class(self) -> type[Driver]:
        driver: type[Driver] = super().get_driver_class()  # type: ignore[misc]
        return TerminalDriver if driver is LinuxDriver else driver
