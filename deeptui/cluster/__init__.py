"""Running task bodies on a Dask ``distributed`` cluster while deeptui stays the scheduler.

deeptui keeps every decision (order, limits, conditions, retries, timeouts, cache, store,
bus); only a task's body is submitted to a worker as a Dask future. `use_cluster` swaps
the orchestrator's runners (task kind -> runner) for remote ones:

- `target`: what ``--cluster`` accepts (``tcp://HOST:8786``, ``local``, ``local:N``) and
  `ClusterError`;
- `connection`: the Client (and a LocalCluster deeptui starts) on a thread of its own,
  the log topic and the worker watch;
- `remote`: the runners on deeptui's side: submit, stream logs, cancel, fail on faults;
- `worker`: what runs on a worker: the same runners as on this machine;
- `shipping`: what a task sends (a callable by its import name, the agent's config) and
  the validation that refuses what cannot be sent;
- `orphans`: the shell groups of a worker that died, ended by its nanny.

``distributed`` is optional (``pip install 'deeptui[dask]'``): `require_distributed`
says so in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deeptui.cluster.target import INSTALL_HINT, ClusterError, require_distributed

if TYPE_CHECKING:
    from deeptui.cluster.connection import ClusterConnection


def use_cluster(orchestrator: Any, target: str) -> ClusterConnection:
    """Run ``orchestrator``'s task bodies on the cluster ``target`` (not yet connected: the
    connection opens on first use, or with `ClusterConnection.start`)."""
    from functools import partial

    from deeptui.cluster.connection import ClusterConnection
    from deeptui.cluster.remote import run_remote
    from deeptui.cluster.shipping import check_shippable

    require_distributed()
    conn = ClusterConnection(target)
    conn.local_runners = orchestrator.runners
    # a new dict: a run going on keeps the runners it started with
    orchestrator.runners = {kind: partial(run_remote, conn=conn, kind=kind,
                                          orchestrator=orchestrator)
                            for kind in ("shell", "callable", "agent")}
    conn.check = partial(check_shippable, orchestrator=orchestrator)
    orchestrator.validators.append(conn.check)
    orchestrator.cluster = conn  # closed with the orchestrator
    return conn


def switch_cluster(orchestrator: Any, target: str | None) -> None:
    """Where the next runs' tasks run: ``target`` (see `use_cluster`) or, None, this machine.
    Refused while a run is going (its tasks run where it started)."""
    from deeptui.cluster.target import parse_target

    current = orchestrator.cluster
    wanted = parse_target(target) if target else None
    if (current.target if current is not None else None) == wanted:
        return
    if any(run.executor.active for run in orchestrator.runs()):
        raise ClusterError("a run is going: where tasks run changes once it has ended")
    if wanted is not None:
        require_distributed()
    if current is not None:
        orchestrator.runners = current.local_runners
        orchestrator.validators.remove(current.check)
        orchestrator.cluster = None
        current.close()
    if wanted is not None:
        use_cluster(orchestrator, target or "")


__all__ = ["ClusterError", "INSTALL_HINT", "require_distributed", "switch_cluster", "use_cluster"]
