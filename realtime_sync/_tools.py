"""Running registered tools (function calls) off the socket thread.

:class:`ToolRunner` owns one daemon worker thread (``realtime-sync-tools``)
fed by a :class:`queue.Queue`. The socket thread only enqueues a
:class:`ToolCall` (cheap); the worker parses the arguments, runs the user's
handler and hands the JSON-encoded output back through a callback.

With a ``timeout`` each handler runs on its own short-lived daemon thread
(``realtime-sync-tool``) that the worker joins for at most ``timeout``
seconds. Python cannot stop a thread, so a handler that overruns is abandoned:
its output becomes ``{"error": ...}`` and whatever it returns later is
dropped. Calls are run one after another, in the order the server finished
them.

Private module: :class:`realtime_sync.client.RealtimeClient` is its only user.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any, Callable, Dict, Optional

__all__ = ["ToolCall", "ToolRunner", "run_tool"]

logger = logging.getLogger(__name__)

ToolHandler = Callable[[Dict[str, Any]], Any]


class ToolCall:
    """One function call the server asked for, waiting to be run.

    Attributes:
        generation: the client's connection counter when the call arrived;
            an output for an older connection is dropped.
        call_id: the server's ``call_id``.
        name: the tool name.
        arguments: the raw JSON text of the arguments.
        response_id: the response that holds the call.
        handler: the registered handler.
    """

    __slots__ = ("generation", "call_id", "name", "arguments", "response_id", "handler")

    def __init__(
        self,
        *,
        generation: int,
        call_id: str,
        name: str,
        arguments: str,
        response_id: Optional[str],
        handler: ToolHandler,
    ) -> None:
        self.generation = generation
        self.call_id = call_id
        self.name = name
        self.arguments = arguments
        self.response_id = response_id
        self.handler = handler

    def __repr__(self) -> str:
        return f"ToolCall(name={self.name!r}, call_id={self.call_id!r})"


def _error_output(message: str) -> str:
    return json.dumps({"error": message})


def run_tool(
    handler: ToolHandler,
    name: str,
    arguments: Optional[str],
    timeout: Optional[float],
    *,
    finished: Optional[threading.Event] = None,
) -> str:
    """Run one tool handler and return the ``output`` text to send back.

    The arguments are parsed from JSON (empty text means ``{}``) and passed as
    one dict. The handler's return value is JSON-encoded. Bad JSON, arguments
    that are not an object, a raising handler, an unserialisable result or a
    handler still running after ``timeout`` seconds (``None`` = no limit) all
    give ``{"error": "<what failed>"}``. Runs on the calling thread (the tool
    worker); with a timeout, or with ``finished``, the handler itself runs on
    a helper thread.

    ``finished`` (optional) is set when the handler returns; setting it from
    another thread (:meth:`ToolRunner.stop`) abandons a handler still running,
    so the caller is not held until it ends.
    """
    try:
        parsed = json.loads(arguments) if arguments and arguments.strip() else {}
    except ValueError as exc:
        logger.warning("tool %r: arguments are not valid JSON: %s", name, exc)
        return _error_output(f"invalid JSON arguments for tool {name!r}: {exc}")
    if not isinstance(parsed, dict):
        return _error_output(f"arguments for tool {name!r} must be a JSON object")

    box: Dict[str, Any] = {}
    done = finished if finished is not None else threading.Event()

    def target() -> None:
        try:
            box["result"] = handler(parsed)
        except Exception as exc:  # reported as the tool's output
            logger.exception("tool %r raised", name)
            box["error"] = exc
        finally:
            box["finished"] = True
            done.set()

    if timeout is None and finished is None:
        target()
    else:
        thread = threading.Thread(target=target, name="realtime-sync-tool", daemon=True)
        thread.start()
        done.wait(timeout)
        if not box.get("finished"):
            if done.is_set():  # set by ToolRunner.stop(), not by the handler
                logger.info("tool %r abandoned while running: its tool runner was stopped", name)
                return _error_output(f"tool {name!r} was abandoned: the connection ended")
            logger.warning(
                "tool %r did not finish within %.3g s; sending an error output "
                "(the handler keeps running and its result will be dropped)",
                name,
                timeout,
            )
            return _error_output(f"tool {name!r} did not finish within {timeout:g} seconds")

    if "error" in box:
        failure = box["error"]
        return _error_output(str(failure) or type(failure).__name__)
    try:
        return json.dumps(box.get("result"), allow_nan=False)  # NaN and Infinity are not JSON
    except (TypeError, ValueError) as exc:
        logger.warning("tool %r returned a value that is not JSON-serialisable: %s", name, exc)
        return _error_output(f"tool {name!r} returned a value that is not JSON-serialisable: {exc}")


class ToolRunner:
    """A daemon worker thread that runs :class:`ToolCall` objects in order.

    Args:
        on_done: called on the worker thread as ``on_done(call, output)``
            with the output text of each call; exceptions it raises are logged.
        timeout: per-call limit in seconds, ``None`` for none.

    The thread starts on the first :meth:`submit` and ends after :meth:`stop`
    once the call in progress (if any) is over.
    """

    def __init__(self, on_done: Callable[[ToolCall, str], None], timeout: Optional[float]) -> None:
        self._on_done = on_done
        self._timeout = timeout
        self._queue: "queue.Queue[Optional[ToolCall]]" = queue.Queue()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stopped = False
        self._running: Optional[threading.Event] = None  # set when the current call ends

    def submit(self, call: ToolCall) -> None:
        """Queue a call (any thread; never blocks). Ignored after :meth:`stop`."""
        with self._lock:
            if self._stopped:
                logger.debug("tool runner stopped; dropping %r", call)
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="realtime-sync-tools", daemon=True
                )
                self._thread.start()
        self._queue.put(call)

    def stop(self) -> None:
        """Ask the worker to end; queued calls not yet started are skipped.

        Any thread; never blocks. A handler already running is abandoned (it
        runs on its own daemon thread, which Python cannot stop, and its result
        is dropped), so the worker thread ends at once.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            started = self._thread is not None
            running = self._running
        if running is not None:
            running.set()
        if started:
            self._queue.put(None)

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait up to ``timeout`` seconds for the worker to end; True when it has.

        Returns at once when called from the worker itself (a tool handler).
        """
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("the tool worker is still running a handler; leaving it behind")
            return False
        return True

    def is_worker_thread(self) -> bool:
        """True when called from the worker thread."""
        return self._thread is not None and self._thread is threading.current_thread()

    def _run(self) -> None:
        while True:
            call = self._queue.get()
            if call is None:
                return
            finished = threading.Event()
            with self._lock:
                if self._stopped:
                    logger.debug("tool runner stopped; skipping %r", call)
                    continue
                self._running = finished
            try:
                output = run_tool(call.handler, call.name, call.arguments, self._timeout, finished=finished)
            finally:
                with self._lock:
                    self._running = None
            try:
                self._on_done(call, output)
            except Exception:
                logger.exception("sending the output of %r failed", call)
