"""Risky tool calls wait for a person: the approval gate between agents and the user.

An agent task's tool call that needs approval (running a command) becomes an
`ApprovalRequested` event on the bus; the task waits, its timeout paused, until
`TaskOrchestrator.answer_approval` answers it (a key in the app) or the policy does: ``never``
denies at once (the default headless), ``always`` approves, ``ask`` waits for a person.
"Always for this run" approves that tool for the rest of the run.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Literal

from deeptui import bus as ev

ApprovalPolicy = Literal["ask", "never", "always"]


@dataclass
class PendingApproval:
    request: ev.ApprovalRequested
    answer: asyncio.Future[tuple[bool, str]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ApprovalGate:
    """Holds pending approvals per run and answers them by policy or by command."""

    def __init__(self, bus: ev.EventBus, policy: ApprovalPolicy = "ask") -> None:
        self.bus = bus
        self.policy: ApprovalPolicy = policy
        self.pending: dict[str, PendingApproval] = {}
        self._always: set[tuple[str, str]] = set()  # (run id, tool) approved for the whole run
        self._ids = itertools.count(1)

    def pending_for(self, run_id: str) -> list[ev.ApprovalRequested]:
        return [p.request for p in self.pending.values() if p.request.run_id == run_id]

    async def ask(self, run_id: str, workflow_id: str, task_id: str, tool: str,
                  args: str) -> tuple[bool, str]:
        """Wait for the answer to one tool call: (approved, who answered)."""
        request = ev.ApprovalRequested(run_id, workflow_id, task_id=task_id,
                                       request_id=f"{run_id}/{next(self._ids)}", tool=tool, args=args)
        self.bus.publish(request)
        if (run_id, tool) in self._always:
            return self._answer(request, True, "an earlier 'always for this run'")
        if self.policy != "ask":
            return self._answer(request, self.policy == "always", f"policy: {self.policy}")
        pending = PendingApproval(request)
        self.pending[request.request_id] = pending
        try:
            return await pending.answer
        finally:
            self.pending.pop(request.request_id, None)

    def answer(self, request_id: str, approve: bool, always: bool = False) -> bool:
        """A person's answer; False when the request is no longer waiting."""
        pending = self.pending.get(request_id)
        if pending is None or pending.answer.done():
            return False
        request = pending.request
        if approve and always:
            self._always.add((request.run_id, request.tool))
        by = "a person, for the rest of the run" if approve and always else "a person"
        pending.answer.set_result(self._answer(request, approve, by))
        return True

    def _answer(self, request: ev.ApprovalRequested, approved: bool, by: str) -> tuple[bool, str]:
        self.bus.publish(ev.ApprovalAnswered(request.run_id, request.workflow_id,
                                             task_id=request.task_id, request_id=request.request_id,
                                             tool=request.tool, approved=approved, by=by))
        return approved, by
