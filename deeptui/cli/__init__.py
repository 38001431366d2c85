"""The command line: the parser and error boundary (`main`), the run and info commands,
the headless live view and the history tables."""

from deeptui.cli.main import main

__all__ = ["main"]
