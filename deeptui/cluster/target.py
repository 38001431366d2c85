"""What ``--cluster`` (and the ``cluster`` setting) accepts: a scheduler's address, or a
LocalCluster of N worker processes that deeptui starts and stops; and the error when a
cluster cannot be used."""

from __future__ import annotations

import re
from dataclasses import dataclass

from deeptui.errors import DeeptuiError
from deeptui.runners.context import TaskFailure

_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|inproc)://\S+$")
FORMS = "tcp://HOST:8786, local or local:N"
INSTALL_HINT = "pip install 'deeptui[dask]'"


class ClusterError(DeeptuiError, TaskFailure):
    """A cluster that cannot be used: distributed not installed, a bad address, unreachable
    (an attempt that meets it fails with this one line)."""


def require_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError(f"--cluster needs Dask's distributed package: {INSTALL_HINT}") \
            from None


@dataclass(frozen=True)
class ClusterTarget:
    address: str | None  # an existing scheduler's address, or None for a LocalCluster
    workers: int | None = None  # a LocalCluster's worker processes (None: Dask's choice)

    @property
    def label(self) -> str:
        """Where tasks run, for the run header and the CLI."""
        if self.address is not None:
            return f"cluster {self.address}"
        return "local cluster" + (f" ({self.workers} workers)" if self.workers else "")


def parse_target(text: str) -> ClusterTarget:
    """``tcp://HOST:8786`` | ``local`` | ``local:N``; anything else is one clear error."""
    value = text.strip()
    if value == "local":
        return ClusterTarget(None)
    if value.startswith("local:"):
        count = value.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--cluster {text}: N in local:N must be a whole number >= 1")
        return ClusterTarget(None, int(count))
    if _ADDRESS.match(value):
        return ClusterTarget(value)
    if re.match(r"^[\w.-]+:\d+$", value):  # host:port: Dask's default protocol
        return ClusterTarget(f"tcp://{value}")
    raise ClusterError(f"--cluster {text}: not a cluster; use {FORMS}")
