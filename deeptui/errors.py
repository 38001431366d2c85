"""The project's exception types: every error a user can cause is one of these.

Each message says what was wrong, where (file, task, field, parameter) and,
where it helps, what to do about it. The CLI and the app print the message,
never a traceback.
"""

from __future__ import annotations


class DeeptuiError(Exception):
    """Base of every error a user can cause."""


class WorkflowValidationError(DeeptuiError, ValueError):
    """A workflow that cannot run: bad ids, a cycle, an unroutable task..."""


class SkillNotFoundError(WorkflowValidationError):
    """A task requires a skill no configured directory provides."""


class WorkflowFileError(DeeptuiError, ValueError):
    """A workflow file that cannot be read, parsed or validated. The message is the
    first problem (and how many more); ``problems`` lists each one, when there are."""

    problems: list[str]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.problems = []


class ConditionError(WorkflowValidationError):
    """A condition expression that does not parse or uses a forbidden construct."""


class TemplateError(DeeptuiError, ValueError):
    """An unknown template or a bad template parameter."""


class StoreError(DeeptuiError):
    """The history database cannot be opened or written."""


class UnknownRunError(DeeptuiError, KeyError):
    """A run or workflow id the orchestrator or the store does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown run"
