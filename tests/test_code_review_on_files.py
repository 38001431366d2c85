"""The code-review template on a real repository, end to end through the command line,
on the offline model: the reviews cite the fixture's real files and lines, the files are
untouched, and the auto-fix's diff reaches them only through `deeptui apply`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import FAST, deeptui
from conftest import tree_hash

MOD = '''"""Expressions."""


def helper(x):
    return x + 1


def run(expr):
    """Evaluate an expression."""
    return eval(expr)
'''
EVAL_LINE = MOD.splitlines().index("    return eval(expr)") + 1


def make_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text('"""The package."""\n')
    (root / "pkg" / "mod.py").write_text(MOD)
    (root / "pkg" / "untested.py").write_text('"""No test imports this."""\n\nVALUE = 1\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_mod.py").write_text("from pkg.mod import run\n\n\n"
                                                "def test_run():\n    assert run('1') == 1\n")
    return root


def review(home: Path, repo: Path, *extra: str) -> tuple[str, dict]:
    proc = deeptui(home, *FAST, "--cache", "none", "run", "code-review", "--headless",
                   "--param", f"repository_path={repo}", "--run-id", "review", *extra,
                   timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    export = deeptui(home, "history", "export", "review")
    assert export.returncode == 0, export.stderr
    return proc.stdout, json.loads(export.stdout)


def outputs(document: dict) -> dict[str, str]:
    return {task["task_id"]: str(task["output"]) for task in document["tasks"]}


def test_the_reviews_cite_the_repository_and_leave_it_as_it_was(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    before = tree_hash(repo)
    _, document = review(tmp_path, repo, "--param", "review_focus=security,documentation,testing")
    out = outputs(document)
    assert f"pkg/mod.py:{EVAL_LINE}" in out["security-review"]
    assert "helper" in out["review-documentation"]
    assert "pkg/mod.py" in out["analyze-code-structure"] and \
        "pkg/untested.py" in out["analyze-code-structure"]
    assert "pkg/untested.py" in out["evaluate-test-coverage"]
    assert tree_hash(repo) == before
    calls = [line["text"] for task in document["tasks"] for line in task["logs"]
             if line["kind"] == "tool_call"]
    assert any(c.startswith("read_file") and "pkg/mod.py" in c for c in calls), calls
    assert any(c.startswith(("glob", "ls")) for c in calls)


def test_the_auto_fix_is_a_diff_applied_only_by_deeptui_apply(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    before = tree_hash(repo)
    stdout, document = review(tmp_path, repo, "--param", "auto_fix=true", "--apply", "never")
    assert "deeptui apply review apply-auto-fixes" in stdout
    assert tree_hash(repo) == before  # --apply never: nothing written

    shown = deeptui(tmp_path, "apply", "review", "apply-auto-fixes", "--diff")
    assert shown.returncode == 0 and "+++ b/pkg/" in shown.stdout, shown.stderr
    changed = [line[6:] for line in shown.stdout.splitlines() if line.startswith("+++ b/")]
    applied = deeptui(tmp_path, "apply", "review", "apply-auto-fixes")
    assert applied.returncode == 0, applied.stderr
    after = tree_hash(repo)
    assert sorted(p for p in after if after[p] != before.get(p)) == sorted(changed)
    assert '"""' in (repo / changed[0]).read_text()


def test_applying_refuses_a_file_edited_after_the_review(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    review(tmp_path, repo, "--param", "auto_fix=true")
    shown = deeptui(tmp_path, "apply", "review", "apply-auto-fixes", "--diff").stdout
    target = next(line[6:] for line in shown.splitlines() if line.startswith("+++ b/"))
    (repo / target).write_text("# edited by hand\n")
    refused = deeptui(tmp_path, "apply", "review", "apply-auto-fixes")
    assert refused.returncode != 0
    assert f"{target} (changed since the task read it)" in refused.stderr
    assert (repo / target).read_text() == "# edited by hand\n"


def test_unfinished_work_is_a_todo_comment_not_a_pattern_naming_one(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "pkg" / "markers.py").write_text(
        '"""Markers."""\nimport re\n\nMARKER = re.compile(r"\\b(TODO|FIXME)\\b")\n\n\n'
        'def upload():\n    # TODO: retry the upload\n    return MARKER\n')
    _, document = review(tmp_path, repo, "--param", "review_focus=quality")
    quality = outputs(document)["check-code-quality"]
    assert "pkg/markers.py:8" in quality and "TODO: retry the upload" in quality
    assert "pkg/markers.py:4" not in quality
