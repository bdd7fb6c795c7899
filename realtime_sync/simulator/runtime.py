"""The simulator's one event-loop thread, and the small pool that runs user code off it.

A :class:`Runtime` owns an asyncio event loop running on ONE thread
(``realtime-sync-sim-server``): every session's socket I/O, handshake,
client-event handling, paced streaming and timers run there, so a simulator
costs the same few threads whatever the number of sessions. Nothing may sleep
or block on that thread; code that might (a user's responder, MCP tool or transcriber) is
handed to :meth:`Runtime.offload`, a pool of at most :data:`POOL_SIZE`
threads (``realtime-sync-sim-work``, started on first use), whose result comes
back to the loop as an asyncio future.

Any thread may hand work to the loop: :meth:`Runtime.soon` (fire and forget,
in order) or :meth:`Runtime.run_coroutine` (wait for a coroutine, with a
timeout; not from the loop thread itself).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from typing import Any, Callable, Coroutine, List, Optional, Tuple, TypeVar

__all__ = ["POOL_SIZE", "Runtime"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Most threads the pool for user code starts (one simulator, all its sessions).
POOL_SIZE = 4

_Job = Optional[Tuple[Callable[..., Any], Tuple[Any, ...], "asyncio.Future[Any]"]]


class Runtime:
    """One event loop on one thread, plus a bounded pool for user code (thread-safe).

    Args:
        name: the loop thread's name.
    """

    def __init__(self, name: str = "realtime-sync-sim-server") -> None:
        self.name = name
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ident: Optional[int] = None
        self._lock = threading.Lock()  # guards the pool's threads
        self._jobs: "queue.Queue[_Job]" = queue.Queue()
        self._workers: List[threading.Thread] = []
        self._idle = 0

    # -- the loop thread -------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> asyncio.AbstractEventLoop:
        """Make the loop and start its thread; returns the loop.

        Raises:
            TimeoutError: the thread did not start its loop within ``timeout`` seconds (it is stopped).
        """
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            self._ident = threading.get_ident()
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            try:
                loop.run_forever()
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.run_until_complete(loop.shutdown_default_executor())  # a name lookup's thread
                finally:
                    asyncio.set_event_loop(None)
                    loop.close()

        self.loop = loop
        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            self.stop(1.0)
            raise TimeoutError(f"the simulator's loop thread did not start within {timeout:g} s")
        return loop

    def on_loop(self) -> bool:
        """Whether the caller runs on the loop thread."""
        return self._ident is not None and threading.get_ident() == self._ident

    def soon(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the loop thread soon, after what was handed over before (any thread)."""
        loop = self.loop
        if loop is None:
            return
        if self.on_loop():
            loop.call_soon(function, *args)
        else:
            try:
                loop.call_soon_threadsafe(function, *args)
            except RuntimeError:  # the loop has closed: the simulator has stopped
                logger.debug("simulator loop closed; %r not run", function)

    def run_coroutine(self, coroutine: Coroutine[Any, Any, T], timeout: Optional[float]) -> T:
        """Run ``coroutine`` on the loop and wait for it (not from the loop thread).

        Raises:
            TimeoutError: not done within ``timeout`` seconds (it is cancelled).
        """
        assert self.loop is not None and not self.on_loop()
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the simulator's loop did not finish within {timeout} s") from None

    def stop(self, timeout: Optional[float]) -> None:
        """Stop the loop, join its thread, end the pool's threads (not from the loop thread)."""
        loop, thread = self.loop, self._thread
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("simulator loop thread did not stop")
        self._thread = None
        self._ident = None
        self.loop = None
        with self._lock:
            workers, self._workers = self._workers, []
            self._idle = 0
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join(timeout)
                if worker.is_alive():
                    logger.warning("simulator worker %s did not stop (user code still running)", worker.name)
        self._jobs = queue.Queue()  # a stuck worker keeps its own queue

    # -- the pool for user code -------------------------------------------------------

    def offload(self, function: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
        """Run ``function(*args)`` on a pool thread; its outcome as a future of the loop (loop thread only)."""
        assert self.loop is not None
        future: "asyncio.Future[T]" = self.loop.create_future()
        with self._lock:
            self._jobs.put((function, args, future))
            # a new thread when the idle ones will not take every queued job, up to POOL_SIZE
            if self._idle < self._jobs.qsize() and len(self._workers) < POOL_SIZE:
                worker = threading.Thread(
                    target=self._work, args=(self._jobs,), name="realtime-sync-sim-work", daemon=True
                )
                self._workers.append(worker)
                worker.start()
        return future

    def _work(self, jobs: "queue.Queue[_Job]") -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = jobs.get()
            with self._lock:
                self._idle -= 1
            if job is None:
                return
            function, args, future = job
            try:
                outcome: Tuple[bool, Any] = (True, function(*args))
            except Exception as exc:  # handed to the loop
                outcome = (False, exc)
            except BaseException as exc:  # SystemExit, say: re-raised on the loop it would end the loop's thread
                failure = RuntimeError(f"user code raised {exc!r}")
                failure.__cause__ = exc
                outcome = (False, failure)
            self._settle(future, outcome)

    def _settle(self, future: "asyncio.Future[Any]", outcome: Tuple[bool, Any]) -> None:
        def settle() -> None:
            if future.done():
                return
            if outcome[0]:
                future.set_result(outcome[1])
            else:
                future.set_exception(outcome[1])

        try:
            future.get_loop().call_soon_threadsafe(settle)
        except RuntimeError:  # the loop has closed
            pass
