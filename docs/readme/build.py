"""Assemble README.md from the sections in this folder (python docs/readme/build.py)."""

from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["_head", "app", "app-inspectors", "library", "examples", "templates", "agents-files", "workflow-files", "cli", "history",
         "reliability", "cluster",
         "conditions", "skills", "caching", "metrics", "visualization", "benchmarks",
         "_architecture"]

parts = [(HERE / f"{name}.md").read_text().strip() for name in ORDER
         if (HERE / f"{name}.md").exists()]
(HERE.parent.parent / "README.md").write_text("\n\n".join(parts) + "\n")
print("README.md:", sum(p.count("\n") + 1 for p in parts), "lines")
