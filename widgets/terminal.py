"""`TerminalDriver`: Textual's Linux driver, for a terminal that can go away; the app
uses it through `QuitsWhenTerminalCloses`.

When the terminal closes (a window shut, an ssh connection dropped) writes to it fail.
Textual's output thread dies on the first failed write; the queue in front of it fills
and the next write, or the driver's close on exit, waits forever: the app froze and
outlived its terminal (with its runs, if no SIGHUP reached it). Here a failed write is
dropped, and the app is told once, which then quits as on SIGHUP (runs cancelled, their
processes gone, exit 129).
"""

from __future__ import annotations

import asyncio
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
                self._went_away()

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._went_away()

    def _went_away(self) -> None:
        self.gone = True
        self._lost()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...
        return getattr(self._file, name)


class TerminalDriver(LinuxDriver):
    """The Linux driver whose output survives the terminal: see the module docstring."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        loop = asyncio.get_running_loop()  # the app's: drivers are made in its message loop

        def lost() -> None:  # on Textual's output thread
            loop.call_soon_threadsafe(app.terminal_lost)

        self._file = _TerminalOutput(self._file, lost)  # type: ignore[assignment]


class QuitsWhenTerminalCloses:
    """Mixed into the app (which provides ``terminal_lost``): on a Linux terminal, the
    driver above (not in tests' headless driver, nor a web one)."""

    def get_driver_class(self) -> type[Driver]:
        driver: type[Driver] = super().get_driver_class()  # type: ignore[misc]
        return TerminalDriver if driver is LinuxDriver else driver
