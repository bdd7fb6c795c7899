"""Where the client's own events go: its callbacks, its waiters, and the ``events()`` queue."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable, Iterable, Optional, Tuple

__all__ = ["EventQueue", "Outlet", "CLIENT_EVENTS"]

logger = logging.getLogger(__name__)

#: Client-level events, in the order a GUI usually cares about them.
CLIENT_EVENTS: Tuple[str, ...] = (
    "conversation.updated",
    "conversation.item.appended",
    "conversation.item.completed",
    "conversation.interrupted",
    "error",
    "close",
    "reconnecting",
    "reconnected",
)


class EventQueue:
    """``(name, payload)`` pairs for a reader thread; drops the oldest when full.

    :meth:`offer` never blocks (it runs on the receive thread).
    """

    def __init__(self, maxsize: int, names: Iterable[str]) -> None:
        self.queue: "queue.Queue[Tuple[str, Any]]" = queue.Queue(maxsize)
        self.names = frozenset(names)
        self.dropped = 0
        self._lock = threading.Lock()

    def offer(self, name: str, payload: Any) -> None:
        if name not in self.names:
            return
        with self._lock:
            while True:
                try:
                    self.queue.put_nowait((name, payload))
                    return
                except queue.Full:
                    try:
                        self.queue.get_nowait()
                    except queue.Empty:
                        continue
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 1000 == 0:
                        logger.warning(
                            "events() queue is full: %d oldest event(s) dropped so far; "
                            "read it faster or pass a larger maxsize",
                            self.dropped,
                        )


class Outlet:
    """Dispatches client-level events to the client's listeners and the ``events()`` queue.

    Args:
        dispatch: the client's :meth:`EventHandler.dispatch <realtime_sync.events.EventHandler.dispatch>`.
        has_listeners: the client's :meth:`EventHandler.has_listeners <realtime_sync.events.EventHandler.has_listeners>`.
    """

    def __init__(self, dispatch: Callable[[str, Any], None], has_listeners: Callable[[str], bool]) -> None:
        self._dispatch = dispatch
        self._has_listeners = has_listeners
        self._lock = threading.Lock()
        self._queue: Optional[EventQueue] = None

    def emit(self, name: str, payload: Any) -> None:
        """Dispatch ``name`` (callbacks, then waiters), then offer it to the queue (calling thread)."""
        self._dispatch(name, payload)
        event_queue = self._queue
        if event_queue is not None:
            event_queue.offer(name, payload)

    def wants(self, name: str) -> bool:
        """Whether anything would receive ``name`` now: to skip building payloads nobody reads."""
        if self._has_listeners(name):
            return True
        event_queue = self._queue
        return event_queue is not None and name in event_queue.names

    def queue(self, maxsize: int, include_realtime_events: bool) -> "queue.Queue[Tuple[str, Any]]":
        """The ``events()`` queue, created on the first call."""
        with self._lock:
            if self._queue is None:
                names = CLIENT_EVENTS + (("realtime.event",) if include_realtime_events else ())
                self._queue = EventQueue(maxsize, names)
            return self._queue.queue

    def drop_queue(self) -> None:
        self._queue = None

    @property
    def dropped(self) -> int:
        event_queue = self._queue
        return event_queue.dropped if event_queue is not None else 0
