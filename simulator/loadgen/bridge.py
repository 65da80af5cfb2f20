"""One asyncio event loop per process, in a native OS thread, serving gevent greenlets.

Locust monkey-patches the process with gevent; aiobotocore needs asyncio. The loop runs in a thread
started with the *original* `_thread.start_new_thread`; greenlets submit coroutines with `run()` and
wait on a gevent AsyncResult that is completed on the hub's thread through one `hub.loop.async_()`
watcher (the only thread-safe way to wake the hub). The loop's `run_in_executor` (DNS lookups,
`asyncio.to_thread`) uses native threads too: gevent's patched pool would never answer there.

Create the bridge once per process in Locust's `init` event (after `--processes` forks), never at
import and never lazily per user.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import gevent
import gevent.event
from gevent import monkey

from simulator.client.event_loops import default_kind, loop_class

T = TypeVar("T")
# The hub's thread (Locust's stats, the record) and the loop's thread share the GIL: at Python's
# default 5 ms switch interval a burst of hub work holds up due invocations for 5 ms at a time.
SWITCH_INTERVAL_S = 0.0002
_start_new_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")
_SimpleQueue = monkey.get_original("queue", "SimpleQueue")
_EpollSelector = monkey.get_original("selectors", "EpollSelector")  # gevent replaces the default
native_socket = monkey.get_original("socket", "socket")  # for the standard loop's own connections
native_sleep = monkey.get_original("time", "sleep")  # blocks the whole thread, and lets go of the GIL


class _NativeSelector(_EpollSelector):  # type: ignore[misc,valid-type]
    _selector_cls = monkey.get_original("select", "epoll")


class _NativePool:
    """A few native threads running blocking calls for the loop (what run_in_executor needs)."""

    def __init__(self, size: int = 4) -> None:
        self.jobs: Any = _SimpleQueue()
        for _ in range(size):
            _start_new_thread(self._work, ())

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            job()

    def close(self, size: int = 4) -> None:
        for _ in range(size):
            self.jobs.put(None)


class _NativeExecutor:
    """`run_in_executor` on native threads, for either loop class."""

    pool: _NativePool

    def run_in_executor(self, executor: Any, func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop: Any = self
        future: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()

        def job() -> None:
            try:
                result = context.run(func, *args)
            except BaseException as exc:  # handed back to the awaiting coroutine, not swallowed
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

        self.pool.jobs.put(job)
        return future


# run_in_executor's signature is the loop's, less its generic typing: mypy sees two definitions
class _NativeSelectorLoop(_NativeExecutor, asyncio.SelectorEventLoop):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(_NativeSelector())


def _native_loop(kind: str) -> tuple[asyncio.AbstractEventLoop, _NativePool]:
    """A loop that touches nothing gevent patched: the standard loop gets the original epoll;
    uvloop does its I/O (DNS included) in libuv, never through the socket module."""
    base = loop_class(kind)
    loop: Any = (_NativeSelectorLoop() if base is asyncio.SelectorEventLoop
                 else type("_NativeUvLoop", (_NativeExecutor, base), {})())
    loop.pool = _NativePool()
    return loop, loop.pool


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class AsyncioBridge:
    """Run coroutines on the process's native asyncio loop from greenlets."""

    def __init__(self, event_loop: str = default_kind()) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.loop, self.pool = _native_loop(event_loop)  # uvloop or the standard loop (`--event-loop`)
        # What the loop's own connections (the fast invoker's) are made with. uvloop makes its sockets in
        # libuv; handed an object of a socket class it was not imported with (here, the original one:
        # it saw gevent's), it closes the descriptor a second time after libuv has, and by then the
        # hub's thread may have been given that number for a file or a socket of its own.
        self.socket_factory = native_socket if isinstance(self.loop, asyncio.SelectorEventLoop) else None
        self._finished: collections.deque[tuple[gevent.event.AsyncResult, asyncio.Future[Any]]] = collections.deque()
        self._hub = gevent.get_hub()
        self._watcher = self._hub.loop.async_()
        self._watcher.start(self._deliver)
        ready = _allocate_lock()
        ready.acquire()
        _start_new_thread(self._run_loop, (ready,))
        while not ready.acquire(False):  # spin cooperatively: the loop thread starts in microseconds
            gevent.sleep(0.001)
        self.closed = False

    def _run_loop(self, ready: Any) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.release)
        self.loop.run_forever()

    def _deliver(self) -> None:
        """On the hub's thread: complete the AsyncResults of finished coroutines."""
        while self._finished:
            result, task = self._finished.popleft()
            if task.cancelled():
                result.set_exception(asyncio.CancelledError())
            elif task.exception() is not None:
                result.set_exception(task.exception())
            else:
                result.set(task.result())

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> tuple[gevent.event.AsyncResult, Callable[[], None]]:
        """Schedule a coroutine; return its AsyncResult and a thread-safe cancel."""
        result = gevent.event.AsyncResult()
        holder: list[asyncio.Task[Any]] = []

        def start() -> None:
            task = self.loop.create_task(coroutine)
            holder.append(task)
            task.add_done_callback(self._on_done(result))

        self.loop.call_soon_threadsafe(start)

        def cancel() -> None:
            self.loop.call_soon_threadsafe(lambda: holder and holder[0].cancel())

        return result, cancel

    def _on_done(self, result: gevent.event.AsyncResult) -> Callable[[asyncio.Future[Any]], None]:
        def done(task: asyncio.Future[Any]) -> None:
            self._finished.append((result, task))
            self._watcher.send()
        return done

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for it in this greenlet. If the greenlet is killed
        (Locust stopping a user) or times out, the coroutine is cancelled and the exit goes on."""
        result, cancel = self.submit(coroutine)
        try:
            return result.get(timeout=timeout)
        except gevent.Timeout:
            cancel()
            raise
        finally:
            if not result.ready():
                cancel()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(shutdown(), timeout=5)
        except gevent.Timeout:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.pool.close()
        self._watcher.stop()
