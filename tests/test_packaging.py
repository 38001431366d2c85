"""A non-editable install ships every sub-package: pyproject's package list is complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_deeptui_sub_package_is_in_the_package_list() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"deeptui." + ".".join(p.parent.relative_to(ROOT / "deeptui").parts)
             for p in (ROOT / "deeptui").rglob("__init__.py") if p.parent != ROOT / "deeptui"}
    assert found and found <= listed, f"missing from pyproject.toml: {sorted(found - listed)}"
