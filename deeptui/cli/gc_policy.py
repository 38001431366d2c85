"""How a headless run's process uses Python's cyclic garbage collector.

The CLI owns its process, so it may tune the collector for the run it makes
(measured with `benchmarks/scale.py`, 100,000 no-op tasks):

- the loaded workflow lives until exit: it is frozen (`gc.freeze`) before the run,
  so no collection walks it;
- a large run (`LARGE_RUN` tasks or more) raises the collection thresholds while
  it runs: young objects are still collected (the cycles a task leaves die young),
  but only every 100,000 allocations, and the full collections over the whole heap
  (8 of them at 100,000 tasks, 1.3-1.9 s of CPU) are not made during the run;
- after the run its results are frozen too: the interpreter's collections at exit
  would otherwise walk them (1.2-1.4 s at 100,000 tasks).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

LARGE_RUN = 10_000  # tasks: from here the run raises the collection thresholds
RUN_THRESHOLDS = (100_000, 50, 1_000)  # young every 100,000 allocations; no full ones


@contextmanager
def headless_run_gc(tasks: int) -> Iterator[None]:
    """Around a headless run of ``tasks`` tasks: freeze what is loaded, raise the
    thresholds for a large run (restored after it), freeze what the run leaves."""
    gc.freeze()
    before = gc.get_threshold()
    if tasks >= LARGE_RUN:
        gc.set_threshold(*RUN_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.freeze()
