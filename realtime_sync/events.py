"""A thread-safe registry of event callbacks with blocking waits.

:class:`EventHandler` is the base of :class:`~realtime_sync.api.RealtimeAPI`
and :class:`~realtime_sync.client.RealtimeClient`. Callbacks take one
argument, the event payload (a dict), and run on the thread that calls
:meth:`EventHandler.dispatch` -- for the socket layer that is the receive
thread, so callbacks should be short and hand slow work to a worker.

Names are plain strings. Wildcards such as ``"server.*"`` are not patterns:
the dispatcher sends each event under its own name and then again under the
wildcard name, as the JavaScript reference client does.

Example::

    handler = EventHandler()

    @handler.on("greeting")
    def show(event):
        print(event["text"])

    handler.dispatch("greeting", {"text": "hello"})
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .errors import ConfigurationError

__all__ = ["EventHandler", "EventCallback", "Waiter", "check_timeout"]


def check_timeout(timeout: Optional[float]) -> Optional[float]:
    """``timeout`` if it is ``None`` or a finite number of seconds; else ConfigurationError.

    Every blocking helper takes its timeout through here: infinity and NaN are
    no number of seconds (``threading`` would raise a bare OverflowError for the
    one and not wait at all for the other); ``None`` is how to wait for ever.
    """
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout > threading.TIMEOUT_MAX
    ):
        raise ConfigurationError(
            f"timeout must be None or a finite number of seconds (at most {threading.TIMEOUT_MAX:.0f}), got {timeout!r}"
        )
    return timeout

logger = logging.getLogger(__name__)

#: The one callback signature: the event payload in, nothing out.
EventCallback = Callable[[Dict[str, Any]], Any]


class Waiter:
    """A handle on one awaited outcome: resolved with a payload or failed with an error, once.

    The one waiting primitive of the package. :meth:`EventHandler.wait_for_next`
    registers one per blocked call; the client's request handles (an
    :meth:`~realtime_sync.client.RealtimeClient.ask` in flight) are Waiters too.
    ``tag`` groups waiters that end together: :meth:`EventHandler._fail_waiters`
    fails every waiter registered or tracked with a tag (the socket layer tags
    waits with their connection, the client with its session), so nothing
    blocked on a connection outlives it. The waiting thread sleeps on a
    :class:`threading.Event` (no polling).
    """

    __slots__ = ("event", "payload", "error", "tag")

    def __init__(self, tag: object = None) -> None:
        self.event = threading.Event()
        self.payload: Any = None
        self.error: Optional[BaseException] = None
        self.tag = tag

    def resolve(self, payload: Any) -> bool:
        """Wake the waiting thread with ``payload``; ``False`` if already settled. Any thread."""
        return self._settle(payload, None)

    def fail(self, error: BaseException) -> bool:
        """Wake the waiting thread by raising ``error`` in it; ``False`` if already settled."""
        return self._settle(None, error)

    def _settle(self, payload: Any, error: Optional[BaseException]) -> bool:
        """Set the outcome and wake the waiting thread, unless it was settled already."""
        with _SETTLE_LOCK:
            if self.event.is_set():
                return False
            self.payload = payload
            self.error = error
            self.event.set()
        return True

    def done(self) -> bool:
        """Whether the waiter has been resolved or failed."""
        return self.event.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Sleep until settled or ``timeout`` seconds (``None``: for ever); ``True`` when settled.

        Raises:
            ConfigurationError: ``timeout`` is not ``None`` or a finite number.
        """
        return self.event.wait(check_timeout(timeout))


# Orders resolve() and fail() of any waiter: the first one wins. Held for a few
# instructions only, never while user code runs.
_SETTLE_LOCK = threading.Lock()


class _DispatchDepth(threading.local):
    """Per thread: how many dispatch() calls of one handler are on the stack."""

    depth = 0


class EventHandler:
    """Register callbacks by event name and dispatch events to them.

    Every method is safe to call from any thread. Handler lists are replaced,
    never mutated, under a lock, and callbacks run outside that lock, so a
    callback may itself register, remove or dispatch.
    """

    def __init__(self) -> None:
        self._handlers_lock = threading.Lock()
        # name -> tuple of callbacks; tuples are replaced on change, so a
        # dispatch can iterate the tuple it read without holding the lock.
        self._handlers: Dict[str, Tuple[EventCallback, ...]] = {}
        self._next_handlers: Dict[str, Tuple[EventCallback, ...]] = {}
        # Waiters are kept apart from on_next callbacks, so that
        # clear_event_handlers() and off_next() never strand a blocked thread.
        self._waiters: Dict[str, List[Waiter]] = {}
        # Handles (request waiters not tied to an event name) that _fail_waiters also fails.
        self._tracked: Set[Waiter] = set()
        self._dispatch_local = _DispatchDepth()

    # -- registration -------------------------------------------------------

    def on(self, name: str, callback: Optional[EventCallback] = None) -> Any:
        """Call ``callback(event)`` for every event dispatched under ``name``.

        Without ``callback``, return a decorator that registers the function it
        decorates (and returns it unchanged). The callback runs on the
        dispatching thread (the receive thread for socket events).

        Returns:
            The callback, or the decorator.

        Raises:
            TypeError: ``name`` is not a string or ``callback`` not callable.
        """
        _check_name(name)
        if callback is None:

            def decorator(function: EventCallback) -> EventCallback:
                self.on(name, function)
                return function

            return decorator
        _check_callback(callback)
        with self._handlers_lock:
            self._handlers[name] = self._handlers.get(name, ()) + (callback,)
        return callback

    def on_next(self, name: str, callback: EventCallback) -> EventCallback:
        """Call ``callback(event)`` once, for the next event named ``name``.

        The callback runs on the dispatching thread, after the :meth:`on`
        callbacks for that event.
        """
        _check_name(name)
        _check_callback(callback)
        with self._handlers_lock:
            self._next_handlers[name] = self._next_handlers.get(name, ()) + (callback,)
        return callback

    def off(self, name: str, callback: Optional[EventCallback] = None) -> None:
        """Remove one callback registered with :meth:`on`, or all of them for ``name``.

        Raises:
            ValueError: ``callback`` is not registered for ``name``.
        """
        with self._handlers_lock:
            _remove(self._handlers, name, callback, "on")

    def off_next(self, name: str, callback: Optional[EventCallback] = None) -> None:
        """Remove one pending :meth:`on_next` callback, or all of them for ``name``.

        Threads blocked in :meth:`wait_for_next` are not affected.

        Raises:
            ValueError: ``callback`` is not pending for ``name``.
        """
        with self._handlers_lock:
            _remove(self._next_handlers, name, callback, "on_next")

    def clear_event_handlers(self) -> None:
        """Remove every :meth:`on` and :meth:`on_next` callback.

        Threads blocked in :meth:`wait_for_next` keep waiting for their event.
        """
        with self._handlers_lock:
            self._handlers = {}
            self._next_handlers = {}

    def has_listeners(self, name: str) -> bool:
        """Whether a dispatch of ``name`` now would reach anything.

        ``True`` when an :meth:`on` or :meth:`on_next` callback or a blocked
        :meth:`wait_for_next` is registered for ``name``. Read without the
        lock: for skipping work (building a payload) nobody would receive,
        not for synchronisation. Any thread.
        """
        return name in self._handlers or name in self._next_handlers or name in self._waiters

    def _has_listeners_besides(self, name: str, callback: EventCallback) -> bool:
        """As :meth:`has_listeners`, leaving out ``callback`` registered once with :meth:`on` (an owner's own)."""
        handlers = self._handlers.get(name)
        if handlers and (len(handlers) != 1 or handlers[0] != callback):
            return True
        return name in self._next_handlers or name in self._waiters

    # -- waiting ------------------------------------------------------------

    def wait_for_next(self, name: str, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """Block until the next event named ``name`` and return its payload.

        The calling thread sleeps until the event is dispatched (no polling).

        Args:
            name: the event name to wait for.
            timeout: seconds to wait; ``None`` waits for ever.

        Returns:
            The event payload, or ``None`` if ``timeout`` ran out. A wait that
            times out leaves nothing registered behind.

        Raises:
            RuntimeError: called from a thread that dispatches this handler's
                events (for example inside a callback): it would wait for ever.
        """
        _check_name(name)
        self._refuse_to_block(name)
        return self._await_waiter(name, self._add_waiter(name), timeout)

    # The parts of wait_for_next, for subclasses that wake waiters in more cases.

    def _refuse_to_block(self, name: str) -> None:
        """Raise ``RuntimeError`` on a thread that dispatches this object's events."""
        if self._is_dispatching_thread():
            raise RuntimeError(
                f"wait_for_next({name!r}) called from a thread that dispatches this "
                "object's events (for example from inside a callback); it would wait "
                "for ever. Use on_next() with a callback instead."
            )

    def _add_waiter(self, name: str, tag: object = None) -> Waiter:
        """Register a waiter for the next ``name`` event (any thread)."""
        waiter = Waiter(tag)
        with self._handlers_lock:
            self._waiters.setdefault(name, []).append(waiter)
        return waiter

    def _remove_waiter(self, name: str, waiter: Waiter) -> bool:
        """Withdraw ``waiter``; ``False`` if a dispatch or a failure already took it."""
        with self._handlers_lock:
            waiters = self._waiters.get(name)
            if waiters is None or waiter not in waiters:
                return False
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[name]
            return True

    def _await_waiter(
        self, name: str, waiter: Waiter, timeout: Optional[float]
    ) -> Optional[Dict[str, Any]]:
        """Sleep until ``waiter`` is woken or ``timeout`` runs out; return its payload.

        Raises:
            BaseException: the error :meth:`_fail_waiters` woke it with.
        """
        if not waiter.wait(timeout):
            # A dispatch may have taken the waiter between the timeout and the
            # removal; then the payload is (or is about to be) set.
            self._remove_waiter(name, waiter)
        if waiter.error is not None:
            raise waiter.error
        payload: Optional[Dict[str, Any]] = waiter.payload
        return payload

    def _wake_waiters(self, name: str, payload: Any) -> int:
        """Resolve the waiters for ``name`` with ``payload`` without running callbacks.

        For states a subclass reports only to its waiters (the client's
        "session created"). Returns how many were woken. Any thread.
        """
        with self._handlers_lock:
            waiters = self._waiters.pop(name, None) or []
        for waiter in waiters:
            waiter.resolve(payload)
        return len(waiters)

    def _track(self, waiter: Waiter) -> None:
        """Keep a request handle (a waiter not tied to an event name) so :meth:`_fail_waiters` reaches it."""
        with self._handlers_lock:
            self._tracked.add(waiter)

    def _untrack(self, waiter: Waiter) -> None:
        """Forget a handle given to :meth:`_track` (no error if it is gone)."""
        with self._handlers_lock:
            self._tracked.discard(waiter)

    def _fail_waiters(self, tag: object, error: BaseException) -> int:
        """Wake every blocked wait registered or tracked with ``tag`` by raising ``error`` in it.

        ``tag`` must not be ``None`` (untagged waiters are only woken by their
        event). Returns how many were woken. Any thread.
        """
        failed: List[Waiter] = []
        with self._handlers_lock:
            for name in list(self._waiters):
                group = self._waiters[name]
                keep = [waiter for waiter in group if waiter.tag is not tag]
                if len(keep) == len(group):
                    continue
                failed.extend(waiter for waiter in group if waiter.tag is tag)
                if keep:
                    self._waiters[name] = keep
                else:
                    del self._waiters[name]
            handles = [waiter for waiter in self._tracked if waiter.tag is tag]
            self._tracked.difference_update(handles)
        failed.extend(handles)
        return sum(1 for waiter in failed if waiter.fail(error))

    def _is_dispatching_thread(self) -> bool:
        """Whether the current thread is inside :meth:`dispatch` of this object.

        Subclasses extend this (the socket layer adds its receive thread).
        """
        return self._dispatch_local.depth > 0

    # -- dispatching --------------------------------------------------------

    def dispatch(self, name: str, event: Dict[str, Any]) -> None:
        """Run the callbacks for ``name`` with ``event``, on the calling thread.

        :meth:`on` callbacks run first, in registration order, then the
        :meth:`on_next` callbacks (which are removed), then blocked
        :meth:`wait_for_next` callers are woken. A callback that raises is
        logged with its traceback and the others still run; ``KeyboardInterrupt``
        and ``SystemExit`` propagate.
        """
        handlers = self._handlers.get(name, ())
        if self._next_handlers or self._waiters:
            with self._handlers_lock:
                next_handlers = self._next_handlers.pop(name, ())
                waiters = self._waiters.pop(name, None)
        else:
            next_handlers, waiters = (), None
        try:
            if handlers or next_handlers:
                local = self._dispatch_local
                local.depth += 1
                try:
                    for callback in handlers:
                        try:
                            callback(event)
                        except Exception:
                            logger.exception("callback %r for event %r raised", callback, name)
                    for callback in next_handlers:
                        try:
                            callback(event)
                        except Exception:
                            logger.exception("callback %r for event %r raised", callback, name)
                finally:
                    local.depth -= 1
        finally:
            # Waiters were taken off the table above: wake them even if a
            # callback let KeyboardInterrupt through, or they would wait for ever.
            if waiters:
                for waiter in waiters:
                    waiter.resolve(event)


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"event name must be a str, not {type(name).__name__}")


def _check_callback(callback: object) -> None:
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")


def _remove(
    table: Dict[str, Tuple[EventCallback, ...]],
    name: str,
    callback: Optional[EventCallback],
    kind: str,
) -> None:
    """Remove ``callback`` (first match) or every callback for ``name``; lock held."""
    if callback is None:
        table.pop(name, None)
        return
    current = table.get(name, ())
    for index, registered in enumerate(current):
        if registered == callback:
            remaining = current[:index] + current[index + 1 :]
            if remaining:
                table[name] = remaining
            else:
                del table[name]
            return
    raise ValueError(f"{callback!r} is not registered with {kind}() for event {name!r}")
