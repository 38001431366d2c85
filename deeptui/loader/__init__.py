"""Workflow files (YAML, JSON, TOML) to `WorkflowDefinition` and back.

`files` reads and writes them; `errors` words every problem as one line naming the
file, line, task and field; `yaml_events` is the fast path that builds a plain YAML
file straight from libyaml's events.
"""

from deeptui.loader.files import MAX_FILE_BYTES, dump_workflow, load_workflow, loads_workflow

__all__ = ["MAX_FILE_BYTES", "dump_workflow", "load_workflow", "loads_workflow"]
