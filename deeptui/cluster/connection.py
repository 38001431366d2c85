"""The connection to a Dask cluster: a Client (and a LocalCluster deeptui starts) on a thread
of its own, the log topic, and the watch for dead workers and a lost scheduler.

The Client lives on its own event loop in a daemon thread, so it serves the app's loop,
a headless ``asyncio.run`` and a resume alike, and can be closed from plain code.
deeptui's side calls the ``async`` methods here from its own loop; they hop over.

Log lines come back as Dask structured events (``Worker.log_event`` on the topic of
this connection, ``Client.subscribe_topic``): measured against a ``distributed.Queue``
in benchmarks/cluster.py. A worker's death is the scheduler's ``remove-worker`` event
on the ``all`` topic, which names the tasks it was processing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import uuid
from collections import OrderedDict
from typing import Any

from deeptui.cluster.target import ClusterError, ClusterTarget, parse_target
from deeptui.runners.context import TaskFailure

CONNECT_TIMEOUT = "10s"
WATCH_SECONDS = 0.5  # how often the client's link to the scheduler is checked
CANCEL_TIMEOUT = 15.0  # for a worker to end a cancelled body (its group: SIGTERM, SIGKILL)
ABANDONED_KEPT = 1000  # keys given up on, whose late start on a worker is then ended


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ClusterConnection:
    """``ClusterConnection("tcp://HOST:8786" | "local" | "local:N")``."""

    def __init__(self, target: str | ClusterTarget) -> None:
        self.target = parse_target(target) if isinstance(target, str) else target
        self.topic = f"deeptui-logs-{uuid.uuid4().hex[:12]}"
        self.client: Any = None
        self.cluster: Any = None  # the LocalCluster deeptui started, if any
        self.streams: dict[str, Any] = {}  # key -> its `remote.LogStream` (deeptui's side)
        self.failures: dict[str, asyncio.Future[None]] = {}  # key -> set when it is lost
        self.abandoned: OrderedDict[str, None] = OrderedDict()
        self.lost: str | None = None  # why the scheduler is unreachable
        self.closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._starting: concurrent.futures.Future[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self.local_runners: dict[str, Any] = {}  # the orchestrator's runners before (see use_cluster)
        self.check: Any = None  # the validator use_cluster added

    @property
    def label(self) -> str:
        return self.target.label

    # -- the loop of its own --------------------------------------------------

    def _call(self, coro: Any) -> concurrent.futures.Future[Any]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def starting(self) -> concurrent.futures.Future[None]:
        """The connection being opened (once; later calls get the same future)."""
        with self._lock:
            if self.closed:  # a retry of a run whose cluster was switched away from
                raise ClusterError(f"the connection to the {self.label} was closed; run "
                                   "the workflow again")
            if self._starting is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever,
                                                name="deeptui-dask", daemon=True)
                self._thread.start()
                self._starting = self._call(self._start())
            return self._starting

    def start(self) -> None:
        """Open it now, blocking (the CLI: an unreachable scheduler is one line up front)."""
        self.starting().result()

    async def ready(self) -> None:
        await asyncio.wrap_future(self.starting())

    async def _start(self) -> None:
        from distributed import Client, LocalCluster

        where = self.target.address or "a new LocalCluster"
        try:
            # Dask's warnings and tracebacks (a lost worker, a reconnect) would land in the
            # app's screen or the headless output: deeptui says them in the task's words
            logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
            if self.target.address is None:
                self.cluster = await LocalCluster(
                    n_workers=self.target.workers, processes=True, asynchronous=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL)
                self.client = await Client(self.cluster, asynchronous=True)
            else:
                self.client = await Client(self.target.address, asynchronous=True,
                                           timeout=CONNECT_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - refused, timed out, bad address...
            await self._close()
            raise ClusterError(f"cannot reach the Dask scheduler at {where}: "
                               f"{_describe(exc)}") from None
        self.client.subscribe_topic(self.topic, self._on_log)
        self.client.subscribe_topic("all", self._on_cluster_event)
        self._watch = asyncio.ensure_future(self._watch_scheduler())

    def workers(self) -> list[str]:
        """The addresses of the cluster's workers now (blocking)."""
        self.start()
        return self._call(self._workers()).result()

    async def _workers(self) -> list[str]:
        info = await self.client.scheduler.identity()
        return sorted(info["workers"])

    # -- running a body -------------------------------------------------------

    async def submit(self, stream: Any, kind: str, payload: dict[str, Any],
                     resources: dict[str, float] | None) -> dict[str, Any]:
        """Run ``kind``'s body on a worker; its result (a dict, see `worker.execute`). A
        worker's death or the scheduler's loss raises TaskFailure."""
        await self.ready()
        return await asyncio.wrap_future(self._call(self._submit(stream, kind, payload, resources)))

    async def _submit(self, stream: Any, kind: str, payload: dict[str, Any],
                      resources: dict[str, float] | None) -> dict[str, Any]:
        from distributed.client import FutureCancelledError

        from deeptui.cluster.worker import execute

        if self.lost is not None:
            raise TaskFailure(self.lost)
        key = stream.key
        self.streams[key] = stream
        failure = self.failures[key] = asyncio.get_running_loop().create_future()
        future = self.client.submit(execute, key, self.topic, kind, payload, key=key,
                                    pure=False, resources=resources or None)
        stream.future = future
        waiter = asyncio.ensure_future(future.result())
        ok = False
        try:
            await asyncio.wait({waiter, failure}, return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():
                failure.result()  # raises the TaskFailure it holds
            try:
                result: dict[str, Any] = waiter.result()
            except FutureCancelledError as exc:  # Dask gave up on it (e.g. scheduler lost)
                if "connection-lost" in str(exc) or self.client.status != "running":
                    raise TaskFailure(self._lose()) from None
                raise TaskFailure(f"the cluster cancelled it: {_describe(exc)}") from None
            ok = True
            return result
        finally:
            self.failures.pop(key, None)
            if not ok:
                waiter.cancel()
                await self._give_up(stream)

    async def _give_up(self, stream: Any) -> None:
        """The attempt ended without its result: forget the future; a body that starts
        late anyway (Dask reruns a dead worker's tasks) is ended when it says so."""
        self.abandoned[stream.key] = None
        while len(self.abandoned) > ABANDONED_KEPT:
            self.abandoned.popitem(last=False)
        if stream.future is not None and self.lost is None:
            try:
                await self.client.cancel([stream.future], force=True)
            except Exception:  # noqa: BLE001 - the scheduler went away meanwhile
                pass

    async def cancel(self, stream: Any) -> None:
        """End a running body (its process group on the worker) and forget its future."""
        await asyncio.wrap_future(self._call(self._cancel(stream)))

    async def _cancel(self, stream: Any) -> None:
        await self._give_up(stream)
        # The body may have started before its "placed" message arrived here: a worker
        # not known yet means asking them all (where it is not running, it will not start).
        await self._end_on(stream.worker, stream.key)

    async def _end_on(self, worker: str | None, key: str) -> None:
        from deeptui.cluster.worker import cancel_body

        if self.lost is not None:
            return
        try:
            await asyncio.wait_for(
                self.client.run(cancel_body, key, workers=None if worker is None else [worker],
                                on_error="ignore"),
                CANCEL_TIMEOUT)
        except Exception:  # noqa: BLE001 - the worker is gone: so is what it ran
            pass

    def release(self, key: str) -> None:
        self.streams.pop(key, None)

    # -- what the scheduler says ------------------------------------------------

    def _on_log(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        key = msg.get("key")
        stream = self.streams.get(key)  # type: ignore[arg-type]
        if stream is not None:
            stream.loop.call_soon_threadsafe(stream.deliver, msg)
        elif key in self.abandoned and msg.get("placed") and msg.get("worker"):
            asyncio.ensure_future(self._end_on(msg["worker"], key))

    def _on_cluster_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        worker = msg.get("worker", "?")
        if not msg.get("expected"):  # killed: its nanny ends the shell groups it left
            asyncio.ensure_future(self._end_orphans())
        for key in msg.get("processing-tasks") or ():
            failure = self.failures.get(key)
            if failure is not None and not failure.done():
                failure.set_exception(TaskFailure(
                    f"worker {worker} died while running the task (the attempt is lost)"))

    async def _end_orphans(self) -> None:
        from deeptui.cluster.orphans import end_orphans

        try:
            await asyncio.wait_for(self.client.run(end_orphans, nanny=True), CANCEL_TIMEOUT)
        except Exception:  # noqa: BLE001 - workers without a nanny: nothing restarts them
            pass

    async def _watch_scheduler(self) -> None:
        """A scheduler that stops answering fails every running attempt, once, clearly."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            status = getattr(self.client, "status", "closed")
            if status in ("running", "newly-created"):
                continue
            lost = self._lose()
            for failure in list(self.failures.values()):
                if not failure.done():
                    failure.set_exception(TaskFailure(lost))
            return

    def _lose(self) -> str:
        """The scheduler is unreachable: the one line every attempt running then fails with."""
        if self.lost is None:
            address = self.target.address or str(getattr(self.cluster, "scheduler_address", ""))
            self.lost = (f"lost the Dask scheduler at {address}: the attempt's result is lost; "
                         "completed tasks are in the history: resume the run when the cluster "
                         "is back, or without --cluster to run here")
        return self.lost

    # -- closing -----------------------------------------------------------

    def close(self) -> None:
        """Close the client and any LocalCluster deeptui started (blocking); idempotent."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
            self._starting = None
            self.closed = True
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=60)
        except Exception:  # noqa: BLE001 - closing what is already gone
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    async def _close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.client is not None and self.client.status == "running":
            for topic in ("all", self.topic):  # the scheduler would tell a closed client
                self.client.unsubscribe_topic(topic)
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    await thing.close()
                except Exception:  # noqa: BLE001
                    pass
        self.client = self.cluster = None
