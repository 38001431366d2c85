"""The one change a writing task on the offline model makes, so a diff exists to review.

A task that writes code adds a docstring to the first public function (else class) it
read without one — through ``edit_file``, ``hashline_edit`` or, failing both, a
``write_file`` of the whole file when it was read whole. A documentation task writes one
new Markdown document under the documentation directory (``api.md``, ``guide.md``,
``tutorial.md``, ``examples.md`` or ``index.md``), made from the definitions, commands and
documents it found; it never overwrites an existing one.
"""

from __future__ import annotations

import re

from pydantic_ai.messages import ToolCallPart

from deeptui.runners import offline_review as review
from deeptui.runners.offline_answer import doc_titles, scripts
from deeptui.runners.offline_explore import EDIT_TOOLS, Exploration

_DOC_NAMES = (("api", "api.md"), ("tutorial", "tutorial.md"), ("examples", "examples.md"),
              ("example", "examples.md"), ("guide", "guide.md"))


def next_step(x: Exploration) -> list[ToolCallPart]:
    """The exploration's next calls, then a writing task's change; none: time to answer."""
    calls = x.next_calls()
    if calls or not x.change_due:
        return calls
    call = change_call(x)
    return [call] if call is not None else []


def change_call(x: Exploration) -> ToolCallPart | None:
    """The tool call that makes the task's change, or None when there is nothing to do."""
    out_dir = x.doc_dir()
    if out_dir:
        path = _doc_path(x, out_dir)
        return ToolCallPart("write_file", {"path": path, "content": document(x)}) if path else None
    target = _docstring_target(x)
    if target is None:
        return None
    path, d = target
    lines = x.reads[path][0]
    signature = "".join(lines[n] + "\n" for n in range(d.line, d.signature_end + 1))
    body = next((t for n, t in sorted(lines.items()) if n > d.signature_end and t.strip()), "")
    docstring = " " * (len(body) - len(body.lstrip()) if body else d.indent + 4) + review.docstring_for(d)
    if "edit_file" in x.tools:
        text = "".join(t + "\n" for _, t in sorted(lines.items()))
        tail, after = "", d.signature_end + 1
        while text.count(signature + tail) > 1 and after in lines:  # make the old text unique
            tail += lines[after] + "\n"
            after += 1
        return ToolCallPart("edit_file", {"path": path, "old_string": signature + tail,
                                          "new_string": signature + docstring + "\n" + tail})
    if "hashline_edit" in x.tools:
        from pydantic_ai_backends.hashline import line_hash

        return ToolCallPart("hashline_edit", {"path": path, "start_line": d.signature_end,
                                              "start_hash": line_hash(lines[d.signature_end]),
                                              "new_content": docstring, "insert_after": True})
    if len(lines) == x.reads[path][1] and min(lines) == 1:  # read whole: write it back
        content = "".join(t + "\n" + (docstring + "\n" if n == d.signature_end else "")
                          for n, t in sorted(lines.items()))
        return ToolCallPart("write_file", {"path": path, "content": content})
    return None


def change_text(x: Exploration) -> str:
    """What the writing task changed, or why it did not."""
    record = next((r for r in x.records if r.name in EDIT_TOOLS), None)
    out_dir = x.doc_dir()
    if record is None:
        if not any(t in x.tools for t in EDIT_TOOLS):
            return "No change: the agent has no tool that edits files."
        if out_dir:
            return f"No change: `{out_dir}/` already has this document."
        return "No change: every public definition read already has a docstring."
    path = str(record.args.get("path"))
    if out_dir:
        what = f"wrote {_doc_kind(x)} document ({str(record.args.get('content', '')).count(chr(10))} lines)"
    else:
        target = _docstring_target(x)
        line = target[1].line if target else 1
        what = (f"added a docstring to `{target[1].label}`: `{review.docstring_for(target[1])}`"
                if target else "added a docstring")
        path = f"{path}:{line}"
    if record.ok:
        return f"- `{path}` — {what}."
    tried = what.replace("added", "add", 1).replace("wrote", "write", 1)
    return f"- `{path}` — tried to {tried}; the tool refused: " \
        + (record.text.splitlines()[0][:200] if record.text else "no answer")


def _docstring_target(x: Exploration) -> tuple[str, review.Definition] | None:
    """The first public function (else class) read without a docstring, by path and line."""
    for kinds in (("function", "async function"), ("class",)):
        for path in sorted(p for p in x.reads if p.endswith(".py") and not review.is_test_path(p)):
            lines = x.reads[path][0]
            for d in review.definitions(lines):
                if d.public and not d.documented and d.kind in kinds \
                        and lines[d.signature_end].split("#")[0].rstrip().endswith(":") \
                        and all(n in lines for n in range(d.line, d.signature_end + 2)):
                    return path, d
    return None


# -- documents -------------------------------------------------------------------


def _doc_kind(x: Exploration) -> str:
    if x.focus == "assemble":
        return "index"
    words = set(re.split(r"[^a-z]+", x.task.id.lower()))
    return next((name[:-3] for word, name in _DOC_NAMES if word in words), "guide")


def _doc_path(x: Exploration, out_dir: str) -> str | None:
    existing = set(x.listed.get(out_dir, [])) | {p.rsplit("/", 1)[-1] for p in x.files.get(out_dir, [])}
    for name in (f"{_doc_kind(x)}.md", f"{x.task.id}.md"):
        if name not in existing:
            return f"{out_dir}/{name}"
    return None


def _public(x: Exploration) -> list[tuple[str, review.Definition, dict[int, str]]]:
    out = []
    for path in sorted(p for p in x.reads if p.endswith(".py") and not review.is_test_path(p)):
        lines = x.reads[path][0]
        out += [(path, d, lines) for d in review.definitions(lines) if d.public]
    return out


def _signature(d: review.Definition, lines: dict[int, str]) -> str:
    text = " ".join(lines[n].strip() for n in range(d.line, d.signature_end + 1) if n in lines)
    text = re.sub(r"^(async\s+)?(def|class)\s+|:\s*$", "", text).replace("( ", "(")
    return f"{d.parent.name}.{text}" if d.parent is not None else text


def _docstring(d: review.Definition, lines: dict[int, str]) -> str:
    body = next((t.strip() for n, t in sorted(lines.items()) if n > d.signature_end and t.strip()), "")
    return body.strip("\"'rRuU ").strip() if d.documented else ""


def _project(x: Exploration) -> str:
    lines = x.reads.get("pyproject.toml", ({}, 0))[0]
    name = next((m.group(1) for _, t in sorted(lines.items())
                 if (m := re.match(r"\s*name\s*=\s*['\"]([^'\"]+)", t))), "")
    where = x.task.root or str(x.task.params.get("repository_path") or "")
    return name or where.rstrip("/").rsplit("/", 1)[-1] or "the project"


def _module_of(path: str) -> str:
    return path[:-3].replace("/", ".").removesuffix(".__init__")


def document(x: Exploration) -> str:
    """The Markdown document a documentation-writing task writes, from what it found."""
    kind, project = _doc_kind(x), _project(x)
    read = sorted(x.reads)
    lines = [f"_Written offline by deeptui from {len(read)} file{'' if len(read) == 1 else 's'} of the workspace"
             + (f" ({', '.join(f'`{p}`' for p in read[:8])})" if read else "") + "._", ""]
    install = "pip install ." if {"pyproject.toml", "setup.py"} & set(x.top_files) else "(no pyproject.toml)"
    commands = [f"`{name}` (runs `{target}`)" for name, target in scripts(x)]
    commands += [f"`python -m {_module_of(p).removesuffix('.__main__')}`" for p in read if p.endswith("__main__.py")]
    public = _public(x)
    if kind == "api":
        body = [f"# API reference of {project}", "", *lines]
        for path in dict.fromkeys(p for p, _, _ in public):
            body += [f"## `{_module_of(path)}` (`{path}`)", ""]
            for _, d, src in (item for item in public if item[0] == path):
                doc = _docstring(d, src) or "No docstring yet."
                body += [f"### `class {_signature(d, src)}`" if d.kind == "class" else f"### `{_signature(d, src)}`",
                         "", f"{doc} Defined at `{path}:{d.line}`.", ""]
    elif kind == "index":
        titles = doc_titles(x)
        docs = [p for p in x.files.get(x.docs_dir(), []) if p.endswith(".md")]
        body = [f"# Documentation of {project}", "", *lines,
                *[f"- [{titles.get(p, p.rsplit('/', 1)[-1])}]({p.split('/', 1)[-1]})" for p in docs], ""]
    elif kind == "tutorial":
        first = next((p for p in public if p[1].parent is None), None)
        body = [f"# Tutorial: {project}", "", *lines, "1. Install it:", "", f"       {install}", ""]
        if commands:
            body += [f"2. Run {commands[0]} and read its help.", ""]
        if first is not None:
            path, d, src = first
            body += [f"{2 + bool(commands)}. Use it from Python:", "", "   ```python",
                     f"   from {_module_of(path)} import {d.name}", "   ```", "",
                     (f"   `{_signature(d, src)}` is defined at `{path}:{d.line}`. "
                      "The output is not shown: the offline model does not run code."), ""]
    elif kind == "examples":
        body = [f"# Examples for {project}", "", *lines]
        for path, d, src in [p for p in public if p[1].kind != "class" and p[1].parent is None][:8]:
            body += [f"## `{_signature(d, src)}` (`{path}:{d.line}`)", "", "```python",
                     f"from {_module_of(path)} import {d.name}", "", f"{d.name}(...)  # fill in the arguments",
                     "```", ""]
    else:
        modules = [f"- `{p}` — {_docstring_first(x, p)}" for p in x.modules() if p in x.reads]
        body = [f"# User guide of {project}", "", *lines, "## Installation", "", f"    {install}", "",
                "## Commands", "", *([f"- {c}" for c in commands] or ["- none declared"]), "",
                "## Modules", "", *(modules or ["- none read"]), ""]
    return "\n".join(body).rstrip() + "\n"


def _docstring_first(x: Exploration, path: str) -> str:
    lines = x.reads[path][0]
    first = next((t.strip() for _, t in sorted(lines.items()) if t.strip()), "")
    return first.strip("\"'rRuU ").strip() or "no docstring" if first.startswith(('"', "'", "r\"")) \
        else "no module docstring"
