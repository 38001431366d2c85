"""The offline model on real files: which tool calls it makes next, rebuilt from the run's
messages at every step, so the same files give the same calls and the same answer.

1. ``ls .`` (made with the first step's ``load_skill``/``add_todo``): no entries, no
   exploration — the canned answer, exactly as without files;
2. ``glob *.py`` in each top-level directory that is not hidden, vendored or built;
3. the focus's greps (`offline_review`) in each directory: all in one step where the
   workspace searches with Python's ``re`` (each pattern tagged with its directory by a
   ``(?#dir)`` comment), else one directory per step — either way a step's greps all
   differ, so pydantic-deep's stuck-loop check never sees three identical results in a row;
4. ``read_file`` of the files that matter most (at most ``READ_CAP``);
5. a writing task: one small change (`offline_change`) — a docstring, or a new Markdown document;
6. the answer (`offline_answer`).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import ToolCallPart

from deeptui.runners import offline_review as review
from deeptui.runners.offline_files import (
    GrepResult,
    Paths,
    ToolRecord,
    parse_glob,
    parse_grep,
    parse_ls,
    parse_read,
    reviewable,
)

READ_CAP = 8  # files read
UNIT_CAP = 8  # directories (and top-level files) searched with grep
TEST_FILE_CAP = 40  # test files whose imports are searched
GLOB_CAP = 12  # top-level directories listed with glob
READ_LIMIT = 500  # lines per read
SKIM_LIMIT = 120  # lines per read when only the layout matters
EDIT_TOOLS = ("edit_file", "hashline_edit", "write_file")
_CITATION = re.compile(r"(?<![\w/.-])(?P<path>[\w./-]+\.[A-Za-z]{1,5}):(?P<line>\d+)\b`?\s*(?:—|-)?\s*(?P<what>.*)")


@dataclass
class Task:
    """What the prompt says about the task."""

    id: str
    description: str
    skills: list[str]
    writes: bool
    root: str | None
    params: dict[str, Any]
    upstream: str  # the results of the tasks it depends on

    @classmethod
    def from_prompt(cls, prompt: str, skills: list[str]) -> Task:
        def line(name: str) -> str:
            m = re.search(rf"^{name}: (.+)$", prompt, re.MULTILINE)
            return m.group(1).strip() if m else ""

        root = re.sub(r" \(use the file tools.*\)$", "", line("Workspace")) or None
        params: dict[str, Any] = {}
        if m := re.search(r"^Parameters:\n(.+?)(?:\n\n|\Z)", prompt, re.MULTILINE | re.DOTALL):
            try:
                params = json.loads(m.group(1))
            except ValueError:
                params = {}
        upstream = prompt.split("Results of the tasks this one depends on:", 1)
        return cls(line("Task") or "the task", line("Description").rstrip(".") or "the request",
                   skills, line("Writes").lower().startswith("yes"), root,
                   params if isinstance(params, dict) else {},
                   upstream[1] if len(upstream) > 1 else "")


@dataclass
class Citation:
    path: str
    line: int
    what: str
    severity: str


@dataclass
class Exploration:
    """Everything the tools have told the model so far, and what to ask them next."""

    task: Task
    tools: set[str]
    records: list[ToolRecord]
    focus: str = ""
    paths: Paths = field(init=False)
    top_dirs: list[str] = field(default_factory=list)
    top_files: list[str] = field(default_factory=list)
    files: dict[str, list[str]] = field(default_factory=dict)  # unit -> reviewable files
    globbed: dict[str, int] = field(default_factory=dict)  # unit -> files matched in all
    glob_shown: dict[str, int] = field(default_factory=dict)  # unit -> paths the glob listed
    greps: dict[tuple[str, str], GrepResult] = field(default_factory=dict)
    reads: dict[str, tuple[dict[int, str], int]] = field(default_factory=dict)
    listed: dict[str, list[str]] = field(default_factory=dict)  # ls of other directories
    citations: list[Citation] = field(default_factory=list)
    python_search: bool = False  # the workspace greps with Python's re (its globs answer absolute paths)
    searchable: int = 0  # directories and top-level files with greps to run, before UNIT_CAP

    def __post_init__(self) -> None:
        task = self.task
        self.paths = Paths(task.root)
        self.focus = self.focus or review.focus_of(task.id, task.skills, task.description)
        if self.focus == "followup":
            self.citations = _citations(task.upstream, changes_only="verify" in task.id.lower())
            if not self.citations:
                self.focus = "quality"
        for record in self.records:
            if record.name == "ls" and record.args.get("path", ".") in (".", "", "/"):
                self.top_dirs, self.top_files = parse_ls(record.text)
            elif record.name == "ls":
                dirs, files = parse_ls(record.text)
                self.listed[str(record.args.get("path"))] = dirs + files
            elif record.name == "glob":
                unit = str(record.args.get("path", "."))
                shown, total = parse_glob(record.text)
                self.python_search = self.python_search or any(p.startswith("/") for p in shown)
                self.paths.learn(unit, shown)
                self.files[unit] = self._wanted([self.paths.rel(p) for p in shown])
                self.globbed[unit] = total
                self.glob_shown[unit] = len(shown)
        for record in self.records:
            if record.name == "grep":
                key = (str(record.args.get("pattern")), str(record.args.get("path")))
                found = parse_grep(record.text)
                found.counted = record.args.get("output_mode") == "count"
                if len(found.matches) == 1 and key[1] in self.top_files:
                    self.paths.learn_file(key[1], found.matches[0][0])
                found.matches = [(self.paths.rel(p), n, t) for p, n, t in found.matches]
                self.greps[key] = found
            elif record.name == "read_file" and record.ok:
                path = self.paths.rel(str(record.args.get("path")))
                lines, total = parse_read(record.text)
                known = self.reads.get(path, ({}, 0))[0]
                self.reads[path] = ({**known, **lines}, max(total, self.reads.get(path, ({}, 0))[1]))

    # -- what there is ---------------------------------------------------------

    @property
    def has_files(self) -> bool:
        return bool(self.top_dirs or self.top_files)

    @property
    def glob_units(self) -> list[str]:
        return [d for d in self.top_dirs if reviewable(f"{d}/x")]

    @property
    def python(self) -> bool:
        return any(self.files.values()) or any(f.endswith(".py") for f in self.top_files)

    def _wanted(self, paths: list[str]) -> list[str]:
        targets = [t for t in self.task.params.get("target_files") or [] if isinstance(t, str)]
        kept = [p for p in paths if reviewable(p)]
        if targets:
            kept = [p for p in kept if any(fnmatch.fnmatch(p, t) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], t)
                                           for t in targets)]
        return sorted(kept)

    def grep_units(self) -> list[tuple[str, tuple[review.Check, ...]]]:
        """(directory or top-level file, its greps): the biggest UNIT_CAP, in name order."""
        if self.focus == "assemble":
            docs = self.docs_dir()
            return [(docs, review.LINKS)] if self.files.get(docs) else []
        units = [u for u in self.glob_units[:GLOB_CAP] if self.files.get(u) or not self.python]
        units += [f for f in self.top_files if (f.endswith(".py") or not self.python)
                  and not f.startswith(".") and self._wanted([f])]
        planned = [(u, review.checks_for(self.focus, review.is_test_path(u if u in self.top_files
                                                                         else f"{u}/x"), self.task.writes))
                   for u in units]
        tests = self.focus == "tests"
        planned = [(u, checks) for u, checks in planned if checks and not (tests and checks == review.TEST_IMPORTS)]
        self.searchable = len(planned)
        biggest = sorted(planned, key=lambda p: (-len(self.files.get(p[0], [p[0]])), p[0]))[:UNIT_CAP]
        # the tests' imports, file by file: a directory's would stop at the 50 lines a grep shows
        files = [(p, review.TEST_IMPORTS) for p in self.test_files()[:TEST_FILE_CAP]] if tests else []
        return sorted(biggest, key=lambda p: p[0]) + files

    def all_units(self) -> int:
        """How many directories and top-level files there were to search (before the cap)."""
        self.grep_units()
        return self.searchable

    def grep_patterns(self, unit: str, checks: tuple[review.Check, ...]) -> list[tuple[str, str]]:
        """(pattern, output mode) of a unit's greps. Searching with Python's ``re``: the rare
        checks in one alternation, each common one alone, all tagged with the unit (a
        ``(?#...)`` comment) so that no two greps of a step can answer the same text.
        Searching with ``grep``: one basic pattern per check."""
        if not self.python_search:
            return [(c.pattern, "count" if c.counts_only else "content") for c in checks]
        tag = "(?#" + re.sub(r"[^\w./-]", "_", unit) + ")"
        out = []
        for group in ([c for c in checks if not c.common and not c.counts_only], [c for c in checks if c.common]):
            if group:  # the rare checks together, the common ones together: no rare match is crowded out
                out.append((tag + "|".join(f"(?:{c.python})" if len(group) > 1 else c.python for c in group),
                            "content"))
        return out + [(tag + c.python, "count") for c in checks if c.counts_only]

    def total_of(self, check: review.Check) -> int:
        """How many lines the greps that include this check matched in all (shown or not)."""
        total = 0
        for unit, checks in self.grep_units():
            for pattern, _ in self.grep_patterns(unit, checks):
                if check.python in pattern and (pattern, unit) in self.greps:
                    total += self.greps[(pattern, unit)].total
        return total

    def count_in(self, unit: str) -> int | None:
        """The total of the unit's counting grep (its lines), when it ran."""
        counted = [r.total for (_, u), r in self.greps.items() if u == unit and r.counted]
        return counted[0] if counted else None

    def findings_of(self, check: review.Check) -> list[tuple[str, int, str]]:
        """(path, line, matched text) of a check over every line the greps showed; a code-only
        check leaves out comments, and, in a file read, docstrings and string literals."""
        out = []
        for result in self.greps.values():
            for path, line, text in result.matches:
                if not self._wanted([path]) or (matched := check.match(text)) is None:
                    continue
                if check.code_only and not self._is_code(path, line, text, check):
                    continue
                out.append((path, line, matched))
        return sorted(set(out))

    def _is_code(self, path: str, line: int, text: str, check: review.Check) -> bool:
        if text.lstrip().startswith("#"):
            return False
        if path not in self.reads:
            return True
        lines = self.reads[path][0]
        if line not in lines:
            return True
        if line not in {n for n, _, _ in review.code_lines(lines)}:
            return False
        return check.match(review.without_strings(lines[line])) is not None

    # -- the next calls ----------------------------------------------------------

    def next_calls(self) -> list[ToolCallPart]:
        """The next step's tool calls; none: time to answer."""
        if not self.has_files:
            return []
        if not self.globbed and self.glob_units:
            if self.focus == "assemble":  # the documents, not the code
                docs = self.docs_dir()
                return [_call("glob", pattern="*", path=docs)] if docs.split("/")[0] in self.top_dirs else []
            calls = [_call("glob", pattern="*.py", path=u) for u in self.glob_units[:GLOB_CAP]]
            out_dir = self.doc_dir()
            if out_dir and out_dir.split("/")[0] in self.top_dirs:
                calls.append(_call("ls", path=out_dir))
            return calls
        pending = [(unit, pattern, mode) for unit, checks in self.grep_units()
                   for pattern, mode in self.grep_patterns(unit, checks) if (pattern, unit) not in self.greps]
        if pending:  # all at once with Python's re (tagged apart), else a unit per step
            return [_call("grep", pattern=pattern, path=unit, glob_pattern=self.file_glob(),
                          output_mode=mode) for unit, pattern, mode in pending
                    if self.python_search or unit == pending[0][0]]
        if not any(r.name == "read_file" for r in self.records):
            wanted = self.files_to_read()[:READ_CAP]
            limit = {"structure": SKIM_LIMIT, "guide": SKIM_LIMIT, "assemble": 5}.get(self.focus, READ_LIMIT)
            if wanted:
                return [_call("read_file", path=p, offset=0, limit=limit) for p in wanted]
        return []  # then the change of a writing task (`offline_change.next_step`), and the answer

    @property
    def change_due(self) -> bool:
        """A writing task that can edit and has not made its change yet."""
        return self.task.writes and any(t in self.tools for t in EDIT_TOOLS) \
            and not any(r.name in EDIT_TOOLS for r in self.records)

    def docs_dir(self) -> str:
        """The directory of the documentation (the ``output_dir`` parameter, else ``docs``)."""
        return str(self.task.params.get("output_dir") or "docs").strip("/") or "docs"

    def doc_dir(self) -> str | None:
        """Where a documentation-writing task writes, or None for a task that edits code."""
        if not self.task.writes or self.focus not in ("api", "guide", "assemble") \
                or "write_file" not in self.tools:
            return None
        return self.docs_dir()

    def file_glob(self) -> str | None:
        """The files the greps look in."""
        if self.focus == "assemble":
            return "*.md"
        return "*.py" if self.python else None

    def files_to_read(self) -> list[str]:
        """The files worth reading for this focus, most telling first (not capped here)."""
        focus = self.focus
        hits: dict[str, int] = {}
        checks = {c.pattern: c for _, cs in self.grep_units() for c in cs}
        for check in checks.values():
            if check.counts_only:
                continue
            weight = {"high": 100, "medium": 10, "low": 1}[check.severity]
            for path, _, _ in self.findings_of(check):
                hits[path] = hits.get(path, 0) + weight
        source = [p for p in hits if not review.is_test_path(p)]
        if focus == "followup":
            return list(dict.fromkeys(c.path for c in self.citations))
        if focus == "assemble":
            return [p for p in self.files.get(self.docs_dir(), []) if p.endswith(".md")]
        if focus == "tests":
            return [m for m in self.untested_modules()]
        if focus in ("structure", "guide"):
            config = [f for f in ("pyproject.toml", "setup.cfg", "setup.py") if f in self.top_files]
            every = sorted({p for fs in self.files.values() for p in fs})
            mains = [p for p in every if p.endswith("__main__.py")]
            inits = [p for p in every if p.endswith("__init__.py") and p.count("/") == 1][:3]
            return list(dict.fromkeys(config + mains + inits + self.modules_by_package()))
        config = ["pyproject.toml"] if focus == "api" and "pyproject.toml" in self.top_files else []
        return config + sorted(source, key=lambda p: (-hits[p], p))

    def modules(self) -> list[str]:
        """Source modules (not tests, not ``__init__``) among the files found."""
        every = sorted({p for fs in self.files.values() for p in fs} |
                       {f for f in self.top_files if f.endswith(".py")})
        return [p for p in every if not review.is_test_path(p)
                and p.rsplit("/", 1)[-1] not in ("__init__.py", "__main__.py", "setup.py", "conftest.py")]

    def modules_by_package(self) -> list[str]:
        """The modules, those inside packages first."""
        packaged = set(self.packaged_modules())
        return sorted(self.modules(), key=lambda p: (p not in packaged, p))

    def packaged_modules(self) -> list[str]:
        """The modules inside packages (directories with ``__init__.py``), when there are
        packages: scripts beside them are not what tests are for."""
        every = {p for fs in self.files.values() for p in fs}
        packages = {p.rsplit("/", 1)[0] for p in every if p.endswith("/__init__.py")}
        modules = self.modules()
        return [m for m in modules if m.rsplit("/", 1)[0] in packages] if packages else modules

    def test_files(self) -> list[str]:
        return sorted({p for fs in self.files.values() for p in fs if review.is_test_path(p)})

    def untested_modules(self) -> list[str]:
        """Modules with no test file named after them and no test importing them."""
        tests = {p.rsplit("/", 1)[-1] for p in self.test_files()}
        imported: set[str] = set()
        for check in review.TEST_IMPORTS:
            for _, _, text in self.findings_of(check):
                names = re.findall(r"[\w.]+", text.replace("from ", "", 1).replace(" import ", "."))
                imported.update(n for name in names for n in _prefixes(name))
        out = []
        for module in self.packaged_modules():
            stem = module.rsplit("/", 1)[-1][:-3]
            dotted = module[:-3].replace("/", ".")
            package = dotted.rsplit(".", 1)[0] if dotted.count(".") > 1 else ""  # not the root package
            named = f"test_{stem}.py" in tests or f"{stem}_test.py" in tests
            reached = {dotted, dotted.split(".", 1)[-1], package} & imported
            if not named and not reached:
                out.append(module)
        return out


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _citations(upstream: str, changes_only: bool = False) -> list[Citation]:
    """The ``path:line`` the upstream outputs cite; ``changes_only``: those under a
    ``### Change`` heading when there are any (what a verifying task checks)."""
    found: dict[tuple[str, int], Citation] = {}
    if changes_only:
        changed = re.findall(r"^### Change\n((?:.+\n?)+)", upstream, re.MULTILINE)
        if changed:
            upstream = "\n".join(changed)
    for raw in upstream.splitlines():
        for m in _CITATION.finditer(raw):
            what = m.group("what").strip()
            severity = next((s for s in review.SEVERITIES if what.endswith(f"({s})")), "medium")
            what = re.sub(r"\s*\((high|medium|low)\)$", "", what)
            key = (m.group("path"), int(m.group("line")))
            found.setdefault(key, Citation(key[0], key[1], what, severity))
    return sorted(found.values(), key=lambda c: (review.SEVERITIES.index(c.severity), c.path, c.line))


def _call(tool: str, **args: Any) -> ToolCallPart:
    return ToolCallPart(tool, {k: v for k, v in args.items() if v is not None})
