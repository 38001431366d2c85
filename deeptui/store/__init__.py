"""Run history in SQLite (WAL): every run's definition, statuses, outputs, logs and events.

`run_store` is the store a run writes through and reads from; `schema` creates and
migrates the tables; `queue` takes bus events (as `entries`: plain values) to a writer
thread, where `writer`'s `StoreWriter` commits them batch by batch (`batch`: one
transaction's staged rows; `task_rows`: how each task event changes a task's row);
`codec` turns values into stored text and back (both sides use it); `records` are the
shapes readers get; `reports` exports runs and aggregates them; `resume` takes over an
unfinished run atomically and continues it.
"""

from deeptui.store.records import RunSummary, StoredRun
from deeptui.store.resume import resume_run, start_resume
from deeptui.store.run_store import RunStore, default_db_path

__all__ = ["RunStore", "RunSummary", "StoredRun", "default_db_path", "resume_run", "start_resume"]
