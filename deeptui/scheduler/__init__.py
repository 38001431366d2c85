"""The scheduler: one run's ready queue, one task's attempts, and the four strategies.

`ready_queue` is `ReadyQueueExecutor` (the ready heap, the limits, cancel and retry,
the run's end); `capacity` its tasks waiting for an agent type's slot; `estimates` the
critical path in seconds and the time left, from the history's past durations; `attempts` runs one task (cache lookup, attempts, timeouts, retries);
`strategies` are sequential, parallel (level barrier), DAG and conditional as policies
over the ready queue, and the strategy recommendation.
"""

from deeptui.scheduler.ready_queue import FINISHED, ReadyQueueExecutor

__all__ = ["FINISHED", "ReadyQueueExecutor"]
