"""The offline model's answer from what its file tools found.

Findings are ``path:line — what``, by severity then place, at most ``REPORT_CAP`` shown;
the answer gives the counts, names every cap it hit and every tool error it read.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from dataclasses import dataclass, field

from deeptui.runners import offline_review as review
from deeptui.runners.offline_explore import (
    EDIT_TOOLS,
    GLOB_CAP,
    READ_CAP,
    READ_LIMIT,
    TEST_FILE_CAP,
    UNIT_CAP,
    Exploration,
)

REPORT_CAP = 20
LONG_FUNCTION = 50  # lines


@dataclass
class Finding:
    path: str
    line: int
    what: str
    severity: str = "low"

    def bullet(self, severity: bool) -> str:
        return f"- `{self.path}:{self.line}` — {self.what}" + (f" ({self.severity})" if severity else "")


@dataclass
class Review:
    findings: list[Finding] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    counts: list[str] = field(default_factory=list)
    severity: bool = True  # show each finding's severity


def _defs(x: Exploration, path: str) -> list[review.Definition]:
    return review.definitions(x.reads[path][0]) if path in x.reads else []


def _enclosing(x: Exploration, path: str, line: int) -> str:
    inside = [d for d in _defs(x, path) if d.line <= line <= d.end and d.kind != "class"]
    return f" in `{inside[-1].label}`" if inside else ""


def _grep_findings(x: Exploration, checks: tuple[review.Check, ...], r: Review) -> None:
    for check in checks:
        hits = x.findings_of(check)
        r.counts.append(f"{check.label} {len(hits)}")
        for path, line, matched in hits:
            test = review.is_test_path(path)
            r.findings.append(Finding(path, line, check.what.format(m=matched) + _enclosing(x, path, line)
                                      + (" (in a test)" if test else "") + (f"; fix: {check.fix}" if check.fix else ""),
                                      "low" if test else check.severity))


def _security(x: Exploration) -> Review:
    r = Review()
    _grep_findings(x, review.SECURITY, r)
    merged: dict[str, int] = {}
    for count in r.counts:
        label, n = count.rsplit(" ", 1)
        merged[label] = merged.get(label, 0) + int(n)
    r.counts = [f"{label} {n}" for label, n in merged.items()]
    return r


def _quality(x: Exploration) -> Review:
    r = Review()
    _grep_findings(x, review.QUALITY, r)
    long = swallowed = 0
    for path in sorted(p for p in x.reads if not review.is_test_path(p)):
        for d in _defs(x, path):
            if d.kind != "class" and d.end - d.line + 1 > LONG_FUNCTION:
                long += 1
                r.findings.append(Finding(path, d.line, f"`{d.label}` is {d.end - d.line + 1} lines long; "
                                                        "split it", "medium"))
        code = review.code_lines(x.reads[path][0])
        for (number, _, text), (_, _, after) in itertools.pairwise(code):
            if re.match(r"\s*except\b.*:\s*$", text) and after.strip() == "pass":
                swallowed += 1
                r.findings.append(Finding(path, number, "exception silently swallowed by `pass`", "medium"))
    r.counts += [f"functions over {LONG_FUNCTION} lines {long}", f"swallowed exceptions {swallowed}"]
    return r


def _performance(x: Exploration) -> Review:
    r = Review()
    kinds = {"nested loops": 0, "blocking sleeps in async code": 0, "I/O repeated in loops": 0}
    for path in sorted(p for p in x.reads if not review.is_test_path(p)):
        for line, what in review.loop_findings(x.reads[path][0]):
            kind = "nested loops" if what.startswith("loop") else \
                "blocking sleeps in async code" if "sleep" in what else "I/O repeated in loops"
            kinds[kind] += 1
            r.findings.append(Finding(path, line, what + _enclosing(x, path, line),
                                      "low" if kind == "nested loops" else "medium"))
    async_files = {p for p, _, _ in x.findings_of(review.PERFORMANCE[1])}
    for path, line, _ in x.findings_of(review.PERFORMANCE[0]):
        if path in async_files and path not in x.reads:
            r.findings.append(Finding(path, line, "`time.sleep(` in a module with async functions "
                                                  "(file not read)", "medium"))
    r.counts = [f"{k} {n}" for k, n in kinds.items()]
    r.counts += [f"{c.label} {len(x.findings_of(c))}" for c in review.PERFORMANCE[1:]]
    return r


def _docs(x: Exploration) -> Review:
    r = Review()
    checked = files = undocumented = modules = 0
    api: list[str] = []
    for path in sorted(p for p in x.reads if p.endswith(".py") and not review.is_test_path(p)):
        files += 1
        lines = x.reads[path][0]
        code = review.code_lines(lines)
        if 1 in lines and code and not re.match(r"""\s*[rRuU]?("|')""", code[0][2]):
            modules += 1
            r.findings.append(Finding(path, 1, "module has no docstring"))
        for d in (d for d in _defs(x, path) if d.public):
            checked += 1
            api.append(f"- `{path}:{d.line}` `{lines[d.line].strip()[:90]}`"
                       + ("" if d.documented else " — no docstring"))
            if not d.documented:
                undocumented += 1
                r.findings.append(Finding(path, d.line, f"`{d.label}` ({d.what}) has no docstring"))
    unread = {p for c in review.DEFINITIONS for p, _, _ in x.findings_of(c)
              if p not in x.reads and not review.is_test_path(p)}
    r.counts = [f"public definitions checked {checked} in {files} files",
                f"without a docstring {undocumented}", f"modules without a docstring {modules}"]
    if unread:
        r.counts.append(f"files with public definitions not read {len(unread)}")
    if x.focus == "api" and api:
        r.sections = ["", f"### Public API ({len(api)})", *api[:REPORT_CAP]]
        if len(api) > REPORT_CAP:
            r.sections.append(f"- … and {len(api) - REPORT_CAP} more")
    return r


def _tests(x: Exploration) -> Review:
    r = Review()
    untested = x.untested_modules()
    for module in untested:
        stem = module.rsplit("/", 1)[-1][:-3]
        public = [d for d in _defs(x, module) if d.public]
        detail = ""
        if module in x.reads:
            names = ", ".join(f"`{d.label}`" for d in public[:4]) or "none"
            detail = f"; {x.reads[module][1]} lines, public: {names}"
        r.findings.append(Finding(module, public[0].line if public else 1,
                                  f"no test file (`test_{stem}.py`) and no test imports it{detail}", "medium"))
    r.counts = [f"modules {len(x.packaged_modules())}", f"test files {len(x.test_files())}",
                f"modules without tests {len(untested)}"]
    return r


def _structure(x: Exploration) -> Review:
    r = Review()
    every = sorted({p for fs in x.files.values() for p in fs})
    layout = []
    for unit in x.glob_units[:GLOB_CAP]:
        lines = x.count_in(unit)
        layout.append(f"- `{unit}/` — {_n(x.globbed.get(unit, 0), 'Python file')}"
                      + (f", {lines} lines" if lines is not None else ""))
    packages = sorted({p.rsplit("/", 1)[0] for p in every if p.endswith("/__init__.py")})
    modules = x.modules_by_package()
    listed = []
    for module in modules[:REPORT_CAP]:
        lines, total = x.reads.get(module, ({}, 0))
        doc = next((t.strip().strip("\"'r").strip() for _, t in sorted(lines.items()) if t.strip()), "")
        listed.append(f"- `{module}`" + (f" — {total} lines" if total else "")
                      + (f" — {doc[:80]}" if doc and not doc.startswith(("import", "from")) else ""))
    if len(modules) > REPORT_CAP:
        listed.append(f"- … and {len(modules) - REPORT_CAP} more")
    entries = [f"- `{p}:{n}` — `{t}`" for p, n, t in x.findings_of(review.STRUCTURE[3])]
    entries = [f"- `{p}` — runs with `python -m`" for p in every if p.endswith("__main__.py")] + entries
    entries = [f"- `{name}` → `{target}` (pyproject.toml [project.scripts])" for name, target in scripts(x)] + entries
    r.sections = ["", "### Layout", *layout, *[f"- `{f}`" for f in x.top_files],
                  "", f"### Packages ({len(packages)})", *[f"- `{p}/`" for p in packages],
                  "", f"### Modules ({len(modules)})", *listed,
                  "", f"### Entry points ({len(entries)})", *(entries or ["- none found"])]
    lines = sum(x.count_in(u) or 0 for u, _ in x.grep_units())
    r.counts = [f"packages {len(packages)}", f"modules {len(modules)}", f"test files {len(x.test_files())}",
                f"lines {lines}"]
    if x.python_search:  # one grep found both
        r.counts.append(f"top-level classes and functions {x.total_of(review.STRUCTURE[1])}")
    else:
        r.counts += [f"top-level classes {x.total_of(review.STRUCTURE[1])}",
                     f"top-level functions {x.total_of(review.STRUCTURE[2])}"]
    return r


def scripts(x: Exploration) -> list[tuple[str, str]]:
    """The console scripts pyproject.toml declares (when it was read)."""
    lines = x.reads.get("pyproject.toml", ({}, 0))[0]
    out, inside = [], False
    for _, text in sorted(lines.items()):
        if text.startswith("["):
            inside = text.strip() == "[project.scripts]"
        elif inside and (m := re.match(r"\s*([\w.-]+)\s*=\s*['\"]([^'\"]+)['\"]", text)):
            out.append((m.group(1), m.group(2)))
    return out


def _followup(x: Exploration) -> Review:
    r = Review()
    now = 0
    for c in x.citations:
        lines = x.reads.get(c.path, ({}, 0))[0]
        if c.line not in lines:
            tried = any(rec.name == "read_file" and rec.args.get("path") == c.path for rec in x.records)
            why = "could not be read back" if tried else f"not read back (at most {READ_CAP} files are read)"
            r.findings.append(Finding(c.path, c.line, f"{c.what} — {why}", c.severity))
            continue
        now += 1
        line, state = _read_back(x, c.path, c.line, c.what)
        moved = f" (now line {line})" if line != c.line else ""
        r.findings.append(Finding(c.path, c.line, f"{c.what.rstrip('.')} — checked{moved}: {state}", c.severity))
    r.counts = [f"findings cited upstream {len(x.citations)}", f"read back {now}"]
    return r


def _read_back(x: Exploration, path: str, line: int, what: str) -> tuple[int, str]:
    """Where the cited code is now (earlier changes move lines) and what it says there."""
    lines = x.reads[path][0]
    names = [re.sub(r"\(\)$", "", t).split(".")[-1] for t in re.findall(r"`([^`]+)`", what)]
    defs = {d.line: d for d in _defs(x, path)}
    near = sorted(range(line - 10, line + 11), key=lambda n: (abs(n - line), n))
    for name in names[:1]:  # the subject of the finding: a definition, or code on the line
        for n in near:
            d = defs.get(n)
            if d is not None and d.name == name:
                if "docstring" in what:
                    return n, f"`{d.label}` " + ("has a docstring now" if d.documented else "still has no docstring")
                return n, f"`{d.label}` is still there"
        for n in near:
            if n in lines and name and name in lines[n]:
                return n, f"still there: `{lines[n].strip()[:80]}`"
    return line, f"the line reads `{lines[line].strip()[:80]}`"


def doc_titles(x: Exploration) -> dict[str, str]:
    """path -> first heading of each Markdown document read."""
    titles = {}
    for path in sorted(x.reads):
        heading = next((t.lstrip("#").strip() for _, t in sorted(x.reads[path][0].items()) if t.startswith("#")), "")
        titles[path] = heading or path.rsplit("/", 1)[-1]
    return titles


def _assemble(x: Exploration) -> Review:
    r = Review()
    docs_dir = x.docs_dir()
    files = set(x.files.get(docs_dir, []))
    docs = sorted(p for p in files if p.endswith(".md"))
    links = x.findings_of(review.LINKS[0])
    broken = 0
    for path, line, _ in links:
        text = next((t for p, n, t in _all_matches(x) if (p, n) == (path, line)), "")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:|#", target):
                continue
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target.split("#")[0]))
            if resolved not in files:
                broken += 1
                r.findings.append(Finding(path, line, f"link to `{target}` points to no file", "medium"))
    titles = doc_titles(x)
    r.sections = ["", f"### Documents in `{docs_dir}/` ({len(docs)})",
                  *[f"- `{p}`" + (f" — {titles[p]}" if p in titles else "") for p in docs]]
    r.counts = [f"documents {len(docs)}", f"links {len(links)}", f"broken links {broken}"]
    return r


def _all_matches(x: Exploration) -> list[tuple[str, int, str]]:
    return [m for result in x.greps.values() for m in result.matches]


_ANALYSES = {"security": _security, "quality": _quality, "performance": _performance, "docs": _docs,
             "api": _docs, "fix": _docs, "tests": _tests, "structure": _structure, "guide": _structure,
             "followup": _followup, "assemble": _assemble}


def analyse(x: Exploration) -> Review:
    r = _ANALYSES[x.focus](x)
    if x.focus == "fix":
        r.findings += _quality(x).findings
    rank = {s: i for i, s in enumerate(review.SEVERITIES)}
    r.findings.sort(key=lambda f: (rank.get(f.severity, 3) if r.severity else 0, f.path, f.line))
    return r


# -- the answer ----------------------------------------------------------------


def compose(x: Exploration, change: str | None = None) -> str:
    """The answer; ``change``: what a writing task changed (`offline_change.change_text`)."""
    r = analyse(x)
    lines = [f"## {x.task.id}", "", f"Goal: {x.task.description}.", "", f"{_title(x)}: {_scope(x)}"]
    if r.findings and x.focus == "followup":  # grouped by severity
        for severity in review.SEVERITIES:
            group = [f for f in r.findings[:REPORT_CAP] if f.severity == severity]
            if group:
                lines += ["", f"### {severity.capitalize()} ({len(group)})", *(f.bullet(False) for f in group)]
    elif r.findings:
        lines += ["", f"### Findings ({len(r.findings)})", *(f.bullet(r.severity) for f in r.findings[:REPORT_CAP])]
    elif x.focus not in ("structure", "guide", "assemble"):
        lines += ["", "No findings in the files searched."]
    lines += r.sections
    if r.counts:
        lines += ["", "Counts: " + "; ".join(r.counts) + "."]
    if change is not None:
        lines += ["", "### Change", change]
    limits = _limits(x, len(r.findings))
    lines += ["", ("Limits reached: " + "; ".join(limits) + ".") if limits else
              f"No limit reached (at most {READ_CAP} files read, {REPORT_CAP} findings shown, "
              f"{UNIT_CAP} directories searched)."]
    errors = [f"- `{rec.describe()}`: {rec.text.splitlines()[0][:160] if rec.text else 'no answer'}"
              for rec in x.records if not rec.ok and rec.name in (*EDIT_TOOLS, "ls", "glob", "grep", "read_file")]
    if errors:
        lines += ["", f"### Tool errors ({len(errors)})", *errors]
    return "\n".join(lines)


def _title(x: Exploration) -> str:
    if x.focus == "followup":
        words = set(re.split(r"[^a-z]+", x.task.id.lower()))
        return "Verification" if "verify" in words else "Report" if "report" in words else "Follow-up"
    return review.TITLES[x.focus]


def _scope(x: Exploration) -> str:
    units = [u for u, _ in x.grep_units() if u in x.files or u in x.top_files]
    tests = len([u for u, _ in x.grep_units()]) - len(units)
    files = sorted({p for fs in x.files.values() for p in fs} | {f for f in x.top_files if f.endswith(".py")})
    greps = sum(1 for r in x.records if r.name == "grep")
    read = sorted(p for p in x.reads)
    kind = "files" if x.focus == "assemble" else "Python files" if x.python else "files (no Python files found)"
    where = (", ".join(f"`{u}`" for u in units) or "the top level") + (f" and {_n(tests, 'test file')}" if tests else "")
    searched = f"{_n(greps, 'grep')} in {where}; " if greps else ""
    return (f"{len(files)} {kind} found; {searched}"
            f"{_n(len(read), 'file')} read" + (f" ({', '.join(f'`{p}`' for p in read[:READ_CAP])})" if read else "")
            + ".")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _limits(x: Exploration, findings: int) -> list[str]:
    out = []
    if len(x.glob_units) > GLOB_CAP:
        out.append(f"listed the first {GLOB_CAP} of {len(x.glob_units)} top-level directories")
    if x.focus == "tests" and len(x.test_files()) > TEST_FILE_CAP:
        out.append(f"searched the imports of {TEST_FILE_CAP} of {len(x.test_files())} test files")
    if x.all_units() > UNIT_CAP:
        out.append(f"searched the {UNIT_CAP} largest of {x.all_units()} directories")
    for unit, total in sorted(x.globbed.items()):
        shown = x.glob_shown.get(unit, total)
        if total > shown:
            out.append(f"glob listed {shown} of {total} files in `{unit}`")
    for (pattern, path), result in sorted(x.greps.items()):
        if result.cut:
            out.append(f"grep `{pattern}` showed {len(result.matches)} of {result.total} matches in `{path}`")
    wanted = len(x.files_to_read())
    if wanted > READ_CAP:
        out.append(f"read {READ_CAP} of {wanted} files worth reading")
    for path, (lines, total) in sorted(x.reads.items()):
        if lines and total > max(lines) and max(lines) - min(lines) + 1 >= READ_LIMIT:  # a skim is no cap
            out.append(f"read the first {max(lines)} of {total} lines of `{path}`")
    if findings > REPORT_CAP:
        out.insert(0, f"showed {REPORT_CAP} of {findings} findings")
    return out if len(out) <= 8 else [*out[:8], f"{len(out) - 8} more"]
