"""The registered tools, the worker thread that runs them, and their per-response batches.

:class:`ToolRunner` owns one daemon worker thread (``realtime-sync-tools``)
fed by a :class:`queue.Queue`. The receive thread only enqueues a
:class:`ToolCall` (cheap); the worker parses the arguments, runs the user's
handler and hands the JSON-encoded output back through a callback. Calls run
one after another, in the order the server finished them.

With a ``timeout`` each handler runs on its own short-lived daemon thread
(``realtime-sync-tool``) that the worker joins for at most ``timeout``
seconds. Python cannot stop a thread, so a handler that overruns is
abandoned: its output becomes ``{"error": ...}`` and whatever it returns later
is dropped.

:class:`ToolBox` holds the registry (``add_tool``/``remove_tool``), the
runner, and one batch per response: each output is sent as soon as its call is
done, and once the response has finished (``response.done``) and every
registered call in it has its output, the box asks for one follow-up
``response.create`` so the model can use the results.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ..errors import ConfigurationError, RealtimeConnectionError, RealtimeError, ToolError
from ..types import ToolHandler
from .requests import Ask, ResponseQueue, Sender, Ticket
from .settings import copy_config

__all__ = ["ToolCall", "ToolRunner", "ToolBox", "run_tool"]

logger = logging.getLogger(__name__)


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
    except RecursionError:
        logger.warning("tool %r: arguments are nested too deeply to parse", name)
        return _error_output(f"arguments for tool {name!r} are nested too deeply")
    if not isinstance(parsed, dict):
        return _error_output(f"arguments for tool {name!r} must be a JSON object")

    box: Dict[str, Any] = {}
    done = finished if finished is not None else threading.Event()

    def target() -> None:
        try:
            box["result"] = handler(parsed)
        except ToolError as exc:  # the handler's own words for the model: no traceback
            logger.info("tool %r failed: %s", name, exc)
            box["error"] = exc
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
    except (TypeError, ValueError, RecursionError) as exc:
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
            except Exception as exc:  # a bug here must not end the worker: later calls still run
                logger.exception("running %r failed", call)
                output = _error_output(f"tool {call.name!r} could not be run: {type(exc).__name__}")
            finally:
                with self._lock:
                    self._running = None
            try:
                self._on_done(call, output)
            except Exception:
                logger.exception("sending the output of %r failed", call)


class _Batch:
    """The registered tool calls of one response."""

    __slots__ = ("pending", "done", "status", "ask", "failure")

    def __init__(self) -> None:
        self.pending: Set[str] = set()
        self.done = False
        self.status: Optional[str] = None
        self.ask: Optional[Ask] = None
        self.failure: Optional[BaseException] = None  # an output that could not be sent


class ToolBox:
    """Registered tools, the runner of their calls and the batch of each response.

    Args:
        timeout: seconds a handler may run (``None``: no limit).
        send: sends one client event (``send(event_type, data, handle)``), for
            the ``function_call_output`` items (tool worker thread).
        responses: where the follow-up ``response.create`` of a finished batch
            is requested, before anything else queued.
    """

    def __init__(self, timeout: Optional[float], send: Sender, responses: ResponseQueue) -> None:
        self.timeout = timeout
        self._send = send
        self._responses = responses
        self._lock = threading.Lock()
        # Replaced, never mutated, so readers need no lock.
        self._registry: Dict[str, Tuple[Dict[str, Any], ToolHandler]] = {}
        self._batches: Dict[Optional[str], _Batch] = {}
        self._runner: Optional[ToolRunner] = None
        self._stopping: Optional[ToolRunner] = None
        self._generation = 0
        self._live = False

    # -- the registry -------------------------------------------------------------

    def add(self, definition: Dict[str, Any], handler: ToolHandler) -> Dict[str, Any]:
        """Register a tool; return its stored (deep-copied) definition.

        Raises:
            ConfigurationError: no name, the handler is not callable, or the name is taken.
        """
        name = definition.get("name") if isinstance(definition, dict) else None
        if not isinstance(name, str) or not name:
            raise ConfigurationError('the tool definition needs a non-empty "name"')
        if not callable(handler):
            raise ConfigurationError(f'the handler of tool "{name}" must be callable')
        stored: Dict[str, Any] = copy_config(definition, f'the definition of tool "{name}"')
        with self._lock:
            if name in self._registry:
                raise ConfigurationError(f'tool "{name}" already added; remove_tool("{name}") first')
            registry = dict(self._registry)
            registry[name] = (stored, handler)
            self._registry = registry
        return stored

    def remove(self, name: str) -> None:
        """Unregister a tool. Raises ConfigurationError if there is none of that name."""
        with self._lock:
            if name not in self._registry:
                raise ConfigurationError(f'tool "{name}" does not exist, so it cannot be removed')
            registry = dict(self._registry)
            del registry[name]
            self._registry = registry

    def clear(self) -> None:
        with self._lock:
            self._registry = {}

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def definitions(self) -> List[Dict[str, Any]]:
        """The registered definitions, in order of registration."""
        return [definition for definition, _ in self._registry.values()]

    def table(self) -> Dict[str, Dict[str, Any]]:
        """``{name: {"definition", "handler"}}`` (a new dict)."""
        return {name: {"definition": d, "handler": h} for name, (d, h) in self._registry.items()}

    # -- a connection -------------------------------------------------------------

    def open(self) -> None:
        """A connection begins: outputs of calls from older ones will be dropped."""
        with self._lock:
            self._generation += 1
            self._batches = {}
            self._live = True

    def close(self) -> None:
        """The connection ended: stop the worker (a running handler is abandoned), drop batches."""
        with self._lock:
            self._live = False
            self._batches = {}
            runner = self._runner
            self._runner = None
            if runner is not None:
                self._stopping = runner
        if runner is not None:
            runner.stop()

    def join_stopped(self, timeout: float = 1.0) -> None:
        """Wait briefly for a stopped worker to end (not from the worker itself)."""
        runner = self._stopping
        if runner is not None and not runner.is_worker_thread() and runner.join(timeout=timeout):
            self._stopping = None

    def is_worker_thread(self) -> bool:
        runner = self._runner or self._stopping
        return runner is not None and runner.is_worker_thread()

    # -- calls ----------------------------------------------------------------------

    def start(self, response_id: Optional[str], call_id: str, name: str, arguments: str) -> bool:
        """Run the call if ``name`` is a registered tool (receive thread); ``False`` if it is not."""
        entry = self._registry.get(name)
        if entry is None:
            return False
        with self._lock:
            if not self._live:
                return True
            batch = self._batches.get(response_id)
            if batch is None or batch.done:
                batch = self._batches[response_id] = _Batch()
            batch.pending.add(call_id)
            runner = self._runner
            if runner is None:
                runner = self._runner = ToolRunner(self._finish_call, self.timeout)
            generation = self._generation
        runner.submit(
            ToolCall(
                generation=generation,
                call_id=call_id,
                name=name,
                arguments=arguments,
                response_id=response_id,
                handler=entry[1],
            )
        )
        return True

    def response_done(
        self, response_id: Optional[str], status: Any, ask: Optional[Ask]
    ) -> Tuple[bool, Optional[BaseException]]:
        """``response.done`` for a response: settle its batch (receive thread).

        Returns ``(continues, failure)``: ``continues`` when the exchange goes on
        with a follow-up response (``ask`` moves to the batch; the follow-up is
        requested here once every output is sent), ``failure`` when an output
        of the batch could not be sent (the ask must fail with it).
        """
        follow_up = False
        with self._lock:
            batch = self._batches.get(response_id)
            if batch is None:
                return False, None
            if batch.failure is not None:
                del self._batches[response_id]
                return False, batch.failure
            if batch.done:
                return False, None
            batch.done = True
            batch.status = status
            if status != "completed":
                if not batch.pending:
                    del self._batches[response_id]
                return False, None
            batch.ask = ask
            if not batch.pending:
                del self._batches[response_id]
                follow_up = True
        if follow_up:
            self._request_follow_up(ask)
        return True, None

    def _finish_call(self, call: ToolCall, output: str) -> None:
        """Send a call's output, then the follow-up when it was the batch's last (tool worker)."""
        with self._lock:
            current = self._live and call.generation == self._generation
        if not current:
            logger.debug("dropping the output of %r: its connection is gone", call)
            return
        try:
            self._send(
                "conversation.item.create",
                {"item": {"type": "function_call_output", "call_id": call.call_id, "output": output}},
                None,
            )
        except RealtimeConnectionError as exc:
            logger.warning("could not send the output of %r: %s", call, exc)
            return  # the connection is over: its end fails the waiting asks
        except RealtimeError as exc:
            # Still connected (a send that timed out): no follow-up can use this
            # result, so end the batch and fail an ask() waiting on it.
            logger.warning("could not send the output of %r: %s", call, exc)
            failed: Optional[Ask] = None
            with self._lock:
                batch = self._batches.get(call.response_id)
                if batch is not None:
                    batch.pending.discard(call.call_id)
                    if batch.done:
                        del self._batches[call.response_id]
                        failed = batch.ask
                    else:  # response.done fails the ask
                        batch.failure = exc
            if failed is not None:
                failed.fail(exc)
            return
        follow_up = False
        ask: Optional[Ask] = None
        with self._lock:
            batch = self._batches.get(call.response_id)
            if batch is not None:
                batch.pending.discard(call.call_id)
                if batch.done and not batch.pending:
                    del self._batches[call.response_id]
                    follow_up = batch.status == "completed"
                    ask = batch.ask
        if follow_up:
            self._request_follow_up(ask)

    def _request_follow_up(self, ask: Optional[Ask]) -> None:
        """The response that lets the model use a finished batch's outputs."""
        try:
            self._responses.request(Ticket(ask=ask), front=True)
        except RealtimeError as exc:
            logger.warning("could not request the response after the tool calls: %s", exc)
            if ask is not None:
                ask.fail(exc)
