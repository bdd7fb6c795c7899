"""The bounded queue behind ``RealtimeClient.events()``."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Iterable, Tuple

__all__ = ["EventQueue", "CLIENT_EVENTS"]

logger = logging.getLogger(__name__)

#: Client-level events, in the order a GUI usually cares about them.
CLIENT_EVENTS: Tuple[str, ...] = (
    "conversation.updated",
    "conversation.item.appended",
    "conversation.item.completed",
    "conversation.interrupted",
    "error",
    "close",
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


