"""Callables the cluster tests register: module-level, so Dask workers import them by name."""

from __future__ import annotations

import os
from typing import Any


def where(task: Any, parameters: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The process that ran it, and how many inputs it got."""
    return {"pid": os.getpid(), "inputs": len(outputs), "n": parameters.get("n")}


async def doubled(task: Any, parameters: dict[str, Any], outputs: dict[str, Any]) -> int:
    return 2 * int(parameters.get("n", 0))
