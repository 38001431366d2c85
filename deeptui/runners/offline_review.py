"""What the offline model looks for in a task's files: the task's focus, its greps, and
what it reads out of Python source.

The focus comes from the words of the task's id, then its skills, then its description
(``security-review`` → security, ``evaluate-test-coverage`` → tests, ...). Grep patterns
use only what Python's ``re`` (a read-only workspace searches with Python) and POSIX basic
regular expressions (a writable one runs ``grep``) read alike — literals, ``[...]``,
``*``, ``^``, ``\\.`` — and the lines found are refined with a Python pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Check:
    """A grep and what a kept line means; ``refine``: a Python pattern the line must match."""

    pattern: str
    what: str
    severity: str = "medium"
    refine: str | None = None
    counts_only: bool = False  # a grep for a total (output_mode="count")
    masks: bool = False  # the match holds a secret: show only its first characters
    label: str = ""  # what the counts call it
    common: bool = False  # many lines match: a grep of its own, so it hides no rare match
    code_only: bool = True  # a match in a comment or a string literal does not count
    plain_ok: bool = True  # a secret may be a plain word (else: digits, symbols or 12+ letters)
    fix: str = ""  # the usual remedy

    @property
    def python(self) -> str:
        """The pattern for a workspace that searches with Python's ``re``: the basic one
        (cheaper to search than ``refine``, which the lines found are then held to)."""
        return self.pattern

    def match(self, text: str) -> str | None:
        """The matched text when the line is a finding, else None."""
        if self.refine is None:
            return text.strip()
        found = re.search(self.refine, text)
        if not found:
            return None
        if self.masks:
            value = re.findall(r"['\"]([^'\"]*)['\"]", found.group(0))[-1]
            if not self.plain_ok and not (re.search(r"[\d\W_]", value) or len(value) >= 12):
                return None  # a plain word ("Tokens"): a label, not a secret
            return re.sub(r"(['\"])([^'\"]{2})[^'\"]*\1", r"\1\2***\1", found.group(0))
        return found.group(0)


def _secret(grep: str, word: str, name: str) -> Check:
    """A name containing ``word`` given a string literal of 4+ characters with no spaces."""
    return Check(grep + "[A-Za-z_]*['\"]* *[:=] *['\"][^'\"]", f"hard-coded {name}: `{{m}}`",
                 "high", r"(?i:" + word + r"""['"]?\s*[:=]\s*['"][^'"\s{$<]{4,}['"])""",
                 masks=True, label="hard-coded secrets", code_only=False, plain_ok=name == "password",
                 fix="read it from the environment or a secret store, and rotate it")


SECURITY = (
    Check("e[vx][ae][lc][(]", "`{m}` runs code built at run time", "high", r"(?<![\w.])(eval|exec)\(", label="eval/exec",
          fix="parse the input (`ast.literal_eval`, `json`) instead of running it"),
    Check("[el]\\.loads*[(]", "`{m}` deserialises data unsafely", "high",
          r"(pickle|marshal|cPickle)\.loads?\(|yaml\.load\((?!.*(Safe|Base)Loader)",
          label="unsafe deserialisation", fix="load untrusted data with `json` or `yaml.safe_load`"),
    Check("shell *= *True", "`{m}` runs a command through the shell", "high",
          r"shell\s*=\s*True", label="shell=True", fix="pass the command as a list, without `shell=True`"),
    _secret("[Pp][Aa][Ss][Ss][Ww]", "(passw(or)?d|pwd)", "password"),
    _secret("[Ss][Ee][Cc][Rr][Ee][Tt]", "secret(_key)?", "secret"),
    _secret("[Aa][Pp][Ii]_*[Kk][Ee][Yy]", "api_?key", "API key"),
    _secret("[Tt][Oo][Kk][Ee][Nn]", "token", "token"),
    Check("AKIA[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]", "an AWS access key id: `{m}`", "high",
          r"AKIA[0-9A-Z]{16}", label="AWS key ids", code_only=False,
          fix="revoke the key; read credentials from the environment"),
)
QUALITY = (
    Check("except *:", "bare `except:` catches everything, KeyboardInterrupt included", "medium",
          r"^\s*except\s*:", label="bare except", fix="catch the exceptions you expect"),
    # a marker opening a comment or a line (not a pattern or a message naming one)
    Check("[TF][OI][DX][OM]", "unfinished work: `{m}`", "low",
          r"(?:^|#|//)\s*(TODO|FIXME)\b.*", label="TODO/FIXME", code_only=False),
    Check("^ *global ", "`{m}` state shared through a global", "low", r"global\s+\w+(\s*,\s*\w+)*",
          label="globals", fix="pass the state explicitly"),
)
PERFORMANCE = (
    Check("time\\.sleep[(]", "`time.sleep(` blocks", "medium", r"time\.sleep\(", label="time.sleep calls"),
    Check("async def ", "async function", "low", r"async\s+def\s+\w+", label="async functions",
          common=True),
    Check("^ *for .* in ", "loop", "low", r"^\s*for\s", label="for loops", common=True),
)
DEFINITIONS = (
    Check("def [A-Za-z]", "public function", "low", r"^\s*(async\s+)?def\s+[A-Za-z]\w*",
          label="public functions", common=True),
    Check("class [A-Za-z]", "public class", "low", r"^\s*class\s+[A-Za-z]\w*",
          label="public classes", common=True),
)
STRUCTURE = (
    Check("^", "lines", counts_only=True, label="lines"),
    Check("^class [A-Za-z]", "class", "low", r"^class\s+\w+", label="top-level classes",
          common=True),
    Check("^def [A-Za-z]", "function", "low", r"^(async\s+)?def\s+\w+",
          label="top-level functions", common=True),
    Check("__main__", "entry point", "low", r"__name__\s*==\s*['\"]__main__['\"]",
          label="entry points", code_only=False),
)
TEST_IMPORTS = (
    Check("^ *from [A-Za-z_][A-Za-z0-9_.]* import", "import", "low",
          r"^\s*from\s+[\w.]+\s+import\s+[\w, ()]+", common=True),
    Check("^ *import [A-Za-z_]", "import", "low", r"^\s*import\s+[\w.]+", common=True),
)

LINKS = (
    Check("[]][(]", "link", "low", r"\[[^\]]*\]\([^)\s]+\)", common=True, code_only=False, label="links"),
)

# focus -> the words of an id or description that choose it, in this order
_FOCUS_WORDS = (
    ("followup", {"verify", "report", "assemble", "build", "summary", "summarise", "summarize"}),
    ("fix", {"fix", "fixes", "autofix", "refactor"}),
    ("security", {"security", "secure", "secrets", "vulnerability", "vulnerabilities", "audit"}),
    ("tests", {"test", "tests", "testing", "coverage"}),
    ("performance", {"performance", "perf", "profile", "profiling", "speed", "optimise", "optimize"}),
    ("api", {"api", "reference"}),
    ("guide", {"guide", "tutorial", "examples", "example", "readme"}),
    ("docs", {"documentation", "docs", "docstring", "docstrings", "document"}),
    ("structure", {"structure", "architecture", "codebase", "modules", "analyze", "analyse"}),
    ("quality", {"quality", "lint", "style", "smell", "smells", "review"}),
)
_FOCUS_SKILLS = {"security-audit": "security", "test-strategy": "tests",
                 "performance-analysis": "performance", "python-code-review": "quality",
                 "api-design": "api"}
TITLES = {"security": "Security review", "quality": "Code quality", "performance": "Performance",
          "docs": "Documentation", "api": "API reference", "guide": "Project guide",
          "tests": "Test coverage", "structure": "Structure", "fix": "Fixes",
          "followup": "Follow-up", "assemble": "Documentation set"}


def focus_of(task_id: str, skills: list[str], description: str) -> str:
    """The task's focus: the first rule its id's words match, then its skills, then its text."""
    words = set(re.split(r"[^a-z]+", task_id.lower()))
    if "assemble" in words or (words & {"build", "index"} and words & {"documentation", "docs", "doc"}):
        return "assemble"
    for focus, keys in _FOCUS_WORDS:
        if words & keys:
            return focus
    for skill in skills:
        if skill in _FOCUS_SKILLS:
            return _FOCUS_SKILLS[skill]
    words = set(re.split(r"[^a-z]+", description.lower()))
    for focus, keys in _FOCUS_WORDS[1:]:  # a description mentioning a report is still a review
        if words & keys:
            return focus
    return "quality"


def checks_for(focus: str, tests_unit: bool, writes: bool) -> tuple[Check, ...]:
    """The greps run in one directory (or top-level file) for a task of this focus."""
    if focus == "tests":
        return TEST_IMPORTS if tests_unit else DEFINITIONS[:1]
    if focus in ("structure", "guide"):
        return STRUCTURE
    if focus == "assemble":
        return LINKS
    if tests_unit:
        return ()
    found = {"security": SECURITY, "quality": QUALITY + DEFINITIONS[:1], "performance": PERFORMANCE,
             "docs": DEFINITIONS, "api": DEFINITIONS, "fix": DEFINITIONS + QUALITY,
             "followup": ()}[focus]
    if writes and DEFINITIONS[0] not in found:
        found = found + DEFINITIONS  # a writing task adds a docstring: it looks for them
    return found


def is_test_path(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or any(p in ("tests", "test", "testing") for p in path.split("/")[:-1]))


# -- reading Python source -----------------------------------------------------

_DEF = re.compile(r"^(?P<indent>\s*)(?P<kw>(async\s+)?def|class)\s+(?P<name>\w+)")
_QUOTES = ('"""', "'''")
_DOC_START = re.compile(r"""^[rRuUbB]?(\"\"\"|'''|"|')""")


@dataclass
class Definition:
    name: str
    kind: str  # "function", "async function", "class"
    line: int
    signature_end: int
    indent: int
    documented: bool
    parent: Definition | None
    end: int = 0

    @property
    def public(self) -> bool:
        if self.name.startswith("_") or self.name.startswith("test"):
            return False
        return self.parent is None or (self.parent.kind == "class" and self.parent.public)

    @property
    def what(self) -> str:
        """function, async function, method or class."""
        return "method" if self.parent is not None and self.parent.kind == "class" \
            and self.kind != "class" else self.kind

    @property
    def label(self) -> str:
        qualified = f"{self.parent.name}.{self.name}" if self.parent else self.name
        return qualified if self.kind == "class" else qualified + "()"


def without_strings(text: str) -> str:
    """The line with the insides of its string literals removed."""
    return re.sub(r"""(\"\"\"|\'\'\'|"|')(?:\\.|(?!\1).)*\1""", '""', text)


def code_lines(lines: dict[int, str]) -> list[tuple[int, int, str]]:
    """(number, indent, text) of the lines that are code: not blank, comments or inside
    a triple-quoted string."""
    out: list[tuple[int, int, str]] = []
    open_quote: str | None = None
    for number in sorted(lines):
        text = lines[number]
        stripped = text.strip()
        if open_quote is not None:
            if text.count(open_quote) % 2 == 1:
                open_quote = None
            continue
        if not stripped or stripped.startswith("#"):
            continue
        out.append((number, len(text) - len(text.lstrip()), text))
        for quote in _QUOTES:
            if text.count(quote) % 2 == 1:
                open_quote = quote
                break
    return out


def definitions(lines: dict[int, str]) -> list[Definition]:
    """The functions and classes in the lines read, with where they end and whether
    their body starts with a docstring."""
    code = code_lines(lines)
    found: list[Definition] = []
    stack: list[Definition] = []
    last = 0
    for i, (number, indent, text) in enumerate(code):
        while stack and stack[-1].indent >= indent and number > stack[-1].signature_end:
            stack.pop().end = last
        m = _DEF.match(text)
        if m:
            end = _signature_end(code, i)
            after_colon = lines[end].split("#")[0].rstrip()
            body = next((t for n, _, t in code if n > end), "") if after_colon.endswith(":") else ""
            definition = Definition(
                m.group("name"), "class" if m.group("kw") == "class" else
                ("async function" if m.group("kw").startswith("async") else "function"),
                number, end, indent, bool(_DOC_START.match(body.strip())),
                stack[-1] if stack else None)
            found.append(definition)
            stack.append(definition)
        last = number
    for definition in stack:
        definition.end = last
    return found


def _signature_end(code: list[tuple[int, int, str]], start: int) -> int:
    depth = 0
    for number, _, text in code[start:start + 30]:
        bare = re.sub(r"(['\"]).*?\1", "", text.split("#")[0])
        depth += bare.count("(") + bare.count("[") - bare.count(")") - bare.count("]")
        if depth <= 0 and ":" in bare:
            return number  # `def f(x):`, or a body on the same line: `def f(): return 1`
    return code[start][0]


_LOOP = re.compile(r"^\s*(async\s+)?(for|while)\b")
_IO = re.compile(r"\b(open|requests\.\w+|urlopen|subprocess\.\w+|\.execute|\.read_text|\.write_text)\(")


def loop_findings(lines: dict[int, str]) -> list[tuple[int, str]]:
    """(line, what) for loops nested in loops, blocking sleeps in async functions and
    I/O repeated in a loop."""
    found: list[tuple[int, str]] = []
    stack: list[tuple[int, str, int]] = []  # (indent, "loop" | "def" | "async", line)
    for number, indent, text in code_lines(lines):
        while stack and stack[-1][0] >= indent:
            stack.pop()
        in_function = [s for s in stack if s[1] != "loop"]
        loops = [s for s in stack if s[1] == "loop" and (not in_function or s[0] > in_function[-1][0])]
        if _LOOP.match(text):
            if loops:
                found.append((number, f"loop nested in the loop at line {loops[-1][2]}"))
            stack.append((indent, "loop", number))
        elif m := _DEF.match(text):
            stack.append((indent, "async" if m.group("kw").startswith("async") else "def", number))
        elif "time.sleep(" in text and in_function and in_function[-1][1] == "async":
            where = in_function[-1][2]
            found.append((number, f"`time.sleep(` blocks the event loop in the async function at line {where}"))
        elif loops and (io := _IO.search(text)):
            found.append((number, f"`{io.group(0)}` repeated in the loop at line {loops[-1][2]}"))
    return found


def docstring_for(definition: Definition) -> str:
    """A one-line docstring made from the name: ``load_config`` -> ``Load config.``"""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", definition.name).replace("_", " ").split()
    sentence = " ".join(words).lower().capitalize() or definition.name
    if definition.kind == "class":
        sentence = f"A {sentence.lower()}."
    return f'"""{sentence.rstrip(".")}."""' if definition.kind != "class" else f'"""{sentence}"""'
