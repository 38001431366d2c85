"""The README's two commands are what CI runs: `.ci/run` executes their text.

(CI itself runs the first command on a clean clone, starting from the pip that
`python3 -m venv` ships, with `deeptui` replaced by `deeptui --version`.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci" / "run"


def readme_commands() -> list[str]:
    blocks = re.findall(r"^```bash[ \t]*\n(.*?)^```", (ROOT / "README.md").read_text(),
                        re.S | re.M)
    return [block.strip() for block in blocks[:2]]


def test_the_readme_commands_upgrade_pip_then_launch_and_test() -> None:
    launch, test = readme_commands()
    for command in (launch, test):
        assert "\n" not in command
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
        assert "python -m pip install -U pip && " in command
    assert launch.endswith("&& deeptui")
    # the cluster tests need Dask's distributed: the test command installs it, so CI runs them
    assert 'pip install -e ".[test,dask]"' in test and "pytest" in test


def test_ci_has_no_install_or_test_command_of_its_own() -> None:
    code = [line for line in CI.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    for line in code:
        assert not re.search(r"\bpip\b|pytest|python[0-9.]* -m venv", line), line
    assert any("README.md" in line for line in code)


def test_ci_reads_the_commands_it_runs_from_the_readme(tmp_path: Path) -> None:
    """.ci/run, run on a copy whose README has other commands, executes those."""
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(
        CI.read_text().replace("command -v dot", "true"))  # no apt-get here
    (tmp_path / "README.md").write_text(
        "# x\n\n```bash\nmkdir -p bin && printf '#!/bin/sh\\necho \"$@\" > launched\\n' > "
        "bin/deeptui && chmod +x bin/deeptui && PATH=$PWD/bin:$PATH && deeptui\n```\n\n"
        "text\n\n```bash\necho tested > tested && exit 3\n```\n")
    proc = subprocess.run(["bash", ".ci/run"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 3, proc.stderr  # the second command's exit code is CI's
    assert (tmp_path / "launched").read_text() == "--version\n"
    assert (tmp_path / "tested").read_text() == "tested\n"
