"""Private helpers of :class:`realtime_sync.client.RealtimeClient`.

Small state objects (waiters, response tickets, tool batches, the events()
queue) and :class:`_ClientBase`, which declares the attributes and methods the
client's mixins (``_client_responses``, ``_client_waits``) share, for type
checkers. Nothing here is public.
"""

from __future__ import annotations

import collections
import datetime
import logging
import queue
import threading
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Set, Tuple

from .events import EventHandler

if TYPE_CHECKING:  # pragma: no cover
    from ._tools import ToolHandler, ToolRunner
    from .api import RealtimeAPI
    from .conversation import Conversation
    from .errors import RealtimeError

__all__: List[str] = []

logger = logging.getLogger("realtime_sync.client")

Event = Dict[str, Any]
Item = Dict[str, Any]

# Client-level events, in the order a GUI usually cares about them.
_CLIENT_EVENTS = (
    "conversation.updated",
    "conversation.item.appended",
    "conversation.item.completed",
    "conversation.interrupted",
    "error",
    "close",
)

# The server's error code for a response.create sent while one is active.
_ACTIVE_RESPONSE_CODE = "conversation_already_has_active_response"


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class _Waiter:
    """One blocked helper: woken with a value or failed with an error."""

    __slots__ = ("_event", "value", "error")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.value: Any = None
        self.error: Optional[BaseException] = None

    def resolve(self, value: Any) -> None:
        if not self._event.is_set():
            self.value = value
            self._event.set()

    def fail(self, error: BaseException) -> None:
        if not self._event.is_set():
            self.error = error
            self._event.set()

    def wait(self, timeout: Optional[float]) -> bool:
        return self._event.wait(timeout)


class _Ask(_Waiter):
    """An :meth:`RealtimeClient.ask` in flight: resolved with the final response dict."""

    __slots__ = ("event_ids",)

    def __init__(self) -> None:
        super().__init__()
        self.event_ids: Set[str] = set()


class _Ticket:
    """One ``response.create`` request: queued, in flight, or bound to a response."""

    __slots__ = ("event_id", "ask", "options")

    def __init__(self, ask: Optional[_Ask] = None, options: Optional[Dict[str, Any]] = None) -> None:
        self.event_id: Optional[str] = None
        self.ask = ask
        self.options = options


class _ToolBatch:
    """The registered tool calls of one response."""

    __slots__ = ("pending", "done", "status", "ask", "failure")

    def __init__(self) -> None:
        self.pending: Set[str] = set()
        self.done = False
        self.status: Optional[str] = None
        self.ask: Optional[_Ask] = None
        self.failure: Optional[BaseException] = None  # an output that could not be sent


class _EventQueue:
    """The bounded queue behind :meth:`RealtimeClient.events` (drops the oldest)."""

    def __init__(self, maxsize: int, names: Tuple[str, ...]) -> None:
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


class _ClientBase(EventHandler):
    """The state RealtimeClient's parts share (declared here for type checkers).

    RealtimeClient's constructor sets every attribute; the methods declared
    under ``TYPE_CHECKING`` are implemented in :mod:`realtime_sync.client`.
    """

    realtime: "RealtimeAPI"
    conversation: "Conversation"
    session_config: Dict[str, Any]
    tool_timeout: Optional[float]
    _lock: threading.Lock
    _tls: threading.local
    _live: bool
    _generation: int
    _session_created: bool
    _reserved: Optional[_Ticket]
    _in_flight: Deque[_Ticket]
    _active_response: Optional[str]
    _active_ticket: Optional[_Ticket]
    _queued: Deque[_Ticket]
    _tool_batches: Dict[Optional[str], _ToolBatch]
    _runner: "Optional[ToolRunner]"
    _tools: "Dict[str, Tuple[Dict[str, Any], ToolHandler]]"
    _asks: Set[_Ask]
    _sent: "collections.OrderedDict[str, Event]"
    _client_waiters: Dict[str, List[_Waiter]]
    _event_queue: Optional[_EventQueue]
    _audio_lock: threading.Lock

    if TYPE_CHECKING:  # pragma: no cover

        def _send(self, event_type: str, data: Optional[Dict[str, Any]] = None) -> Event: ...

        def _emit(self, name: str, payload: Any) -> None: ...

        def _report(
            self, error: "RealtimeError", event: Optional[Event], client_event: Optional[Event] = None
        ) -> None: ...

        def _process(self, event: Event, *args: Any, **kwargs: Any) -> Tuple[Optional[Item], Any]: ...

        def _require_connected(self) -> None: ...

        def _commit_pending_audio(self) -> None: ...

        def _send_user_message(self, parts: List[Dict[str, Any]], ask: Optional[_Ask]) -> None: ...

        def update_session(self, **config: Any) -> bool: ...

        def _request_response(self, ticket: _Ticket, *, front: bool = False) -> bool: ...

        def _drain_queue(self) -> None: ...

        def get_turn_detection_type(self) -> Optional[str]: ...
