"""RealtimeClient: the application control flow over one Realtime session.

:class:`RealtimeClient` is the synchronous counterpart of the JavaScript
reference client (``lib/client.js`` in ``openai/openai-realtime-api-beta``).
It owns a :class:`~realtime_sync.api.RealtimeAPI` (the socket) and a
:class:`~realtime_sync.conversation.Conversation` (the cache of items), keeps
the session configuration, runs registered tools, and offers blocking helpers
for scripts and notebooks::

    from realtime_sync import RealtimeClient

    with RealtimeClient(api_key="sk-...") as client:
        client.update_session(instructions="Answer in one sentence.")
        reply = client.ask("What is the capital of France?", timeout=30)
        print(reply["formatted"]["transcript"] or reply["formatted"]["text"])

Threads
-------
* Server events are handled on the socket's receive thread. Every callback
  registered with :meth:`RealtimeClient.on` for ``conversation.updated``,
  ``conversation.item.appended``, ``conversation.item.completed``,
  ``conversation.interrupted``, ``error`` and server-side ``realtime.event``
  runs there: keep callbacks short, and hand slow work to another thread (or
  pull events from :meth:`RealtimeClient.events` on your own thread).
  ``realtime.event`` for a client event runs on the thread that sent it.
* A blocking helper (``wait_for_*``, :meth:`~RealtimeClient.ask`) called from
  the receive thread, i.e. from inside a callback, raises ``RuntimeError``: it
  would wait for an event that thread itself has to deliver.
* Sending methods are safe from any thread, including callbacks.
* Tool handlers run on a worker thread (``realtime-sync-tools``), never on the
  receive thread.

Blocking helpers and disconnects
--------------------------------
``wait_for_session_created``, ``wait_for_next_item``,
``wait_for_next_completed_item`` and ``ask`` return ``None`` when their timeout
(float seconds, ``None`` = for ever) runs out. If the connection ends while
they wait -- :meth:`~RealtimeClient.disconnect` from another thread, or the
server closing the socket -- they raise
:class:`~realtime_sync.errors.ConnectionClosedError` at once, so a timeout of
``None`` never hangs on a dead connection. Called while not connected they
raise :class:`~realtime_sync.errors.NotConnectedError`.

Tools and interruptions
-----------------------
Only tools registered with :meth:`~RealtimeClient.add_tool` run
automatically; a call to any other function is left to your callbacks (look
for a completed ``function_call`` item). The handler gets the parsed
arguments as a dict and its return value is JSON-encoded as the call's
output; invalid JSON arguments, a raising handler or one slower than
``tool_timeout`` produce ``{"error": "..."}`` instead. Each output is sent as
soon as its call is done, and once the response that held the calls has
finished (``response.done``) and every registered call in it has its output,
the client sends one ``response.create`` so the model can use the results.

The client tracks the active response (``response.created`` until
``response.done``). :meth:`~RealtimeClient.create_response` while one is
active does not block: the request is queued and sent when the active one
ends. To interrupt a spoken reply, call
``cancel_response(item_id, samples_played)``: it cancels the response if one
is still running and truncates the item's audio to what the listener heard,
so the model's memory matches what was actually played.
"""

from __future__ import annotations

import collections
import copy
import datetime
import logging
import queue
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

import numpy as np

from . import audio as _audio
from ._tools import ToolCall, ToolHandler, ToolRunner
from .api import RealtimeAPI
from .conversation import Conversation
from .errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    ProtocolError,
    RealtimeConnectionError,
    RealtimeError,
    ServerError,
    UnknownItemError,
)
from .events import EventHandler

__all__ = [
    "RealtimeClient",
    "DEFAULT_SESSION_CONFIG",
    "DEFAULT_SERVER_VAD_CONFIG",
    "ToolHandler",
]

logger = logging.getLogger(__name__)

Event = Dict[str, Any]
Item = Dict[str, Any]

#: The session configuration a new client starts with (the reference's defaults).
DEFAULT_SESSION_CONFIG: Dict[str, Any] = {
    "modalities": ["text", "audio"],
    "instructions": "",
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "turn_detection": None,
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": 4096,
}

#: A ready-made server VAD setting: ``client.update_session(turn_detection=DEFAULT_SERVER_VAD_CONFIG)``.
DEFAULT_SERVER_VAD_CONFIG: Dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
}

# Client-level events, in the order a GUI usually cares about them.
_CLIENT_EVENTS = (
    "conversation.updated",
    "conversation.item.appended",
    "conversation.item.completed",
    "conversation.interrupted",
    "error",
    "close",
)

# Server events folded into the conversation that need nothing more than a
# ``conversation.updated`` dispatch when they change an item.
_PLAIN_CONVERSATION_EVENTS = (
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.failed",
    "response.output_item.added",
    "response.content_part.added",
    "response.content_part.done",
    "response.text.delta",
    "response.text.done",
    "response.audio_transcript.delta",
    "response.audio_transcript.done",
    "response.audio.delta",
    "response.audio.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
)

# How many recently sent client events are kept to name the cause of a server error.
_SENT_EVENTS_KEPT = 256

# The server's error code for a response.create sent while one is active.
_ACTIVE_RESPONSE_CODE = "conversation_already_has_active_response"

_MISSING = object()


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

    __slots__ = ("pending", "done", "status", "ask")

    def __init__(self) -> None:
        self.pending: Set[str] = set()
        self.done = False
        self.status: Optional[str] = None
        self.ask: Optional[_Ask] = None


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


class RealtimeClient(EventHandler):
    """A Realtime API session with conversation state, tools and blocking helpers.

    Args:
        url: the WebSocket URL (default: OpenAI's endpoint). For a local
            simulator: ``RealtimeSimulator().url``.
        api_key: the API key; on OpenAI's endpoint it defaults to the
            ``OPENAI_API_KEY`` environment variable.
        model: the model to request at :meth:`connect`; ``None`` uses the
            socket layer's default.
        debug: log every event sent and received (at DEBUG level, audio
            redacted) for this client only.
        headers: extra HTTP headers for the WebSocket handshake.
        query: extra URL query parameters.
        tool_timeout: seconds a tool handler may run before its output becomes
            an error; ``None`` for no limit.
        input_audio_window: seconds of recent input audio kept in server-VAD
            mode so speech can be cut out of it at ``speech_stopped``; older
            audio is dropped, so memory stays flat over a long session.
        **api_options: passed to :class:`~realtime_sync.api.RealtimeAPI`
            (``ping_interval``, ``ping_timeout``, ``max_frame_size``, ...).

    Attributes:
        realtime: the :class:`~realtime_sync.api.RealtimeAPI` socket layer.
        conversation: the :class:`~realtime_sync.conversation.Conversation`.
        session_config: the session settings sent with ``session.update``
            (the tools given to :meth:`update_session` only; tools added with
            :meth:`add_tool` are merged in when sending).
        session: the last session object the server sent
            (``session.created`` / ``session.updated``), or ``None``.

    The constructor starts no thread; :meth:`connect` does.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        model: Optional[str] = None,
        debug: bool = False,
        headers: Optional[Dict[str, str]] = None,
        query: Optional[Dict[str, str]] = None,
        tool_timeout: Optional[float] = 30.0,
        input_audio_window: float = 60.0,
        **api_options: Any,
    ) -> None:
        super().__init__()
        if tool_timeout is not None and not tool_timeout > 0:
            raise ConfigurationError(f"tool_timeout must be a positive number of seconds or None, got {tool_timeout!r}")
        if not input_audio_window > 0:
            raise ConfigurationError(
                f"input_audio_window must be a positive number of seconds, got {input_audio_window!r}"
            )
        self.model = model
        self.tool_timeout = tool_timeout
        self.input_audio_window = float(input_audio_window)
        self.realtime = RealtimeAPI(
            url, api_key, debug=debug, headers=headers, query=query, **api_options
        )
        self.conversation = Conversation()
        self._lock = threading.Lock()
        self._audio_lock = threading.Lock()  # orders input-audio bookkeeping with its frames
        self._tls = threading.local()
        self._event_queue: Optional[_EventQueue] = None
        self._generation = 0
        self._client_waiters: Dict[str, List[_Waiter]] = {}
        self._reset_config()
        self._reset_connection_state()
        self._add_api_event_handlers()

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        return f"<RealtimeClient {self.realtime.url!r} {state}>"

    # -- state ------------------------------------------------------------------

    def _reset_config(self) -> None:
        """Back to the default session config, no tools (lock not needed: no thread yet)."""
        self.session_config: Dict[str, Any] = copy.deepcopy(DEFAULT_SESSION_CONFIG)
        self._tools: Dict[str, Tuple[Dict[str, Any], ToolHandler]] = {}
        self._sync_formats(self.session_config)

    def _reset_connection_state(self) -> None:
        """Forget everything tied to one connection. Caller holds the lock or owns the object."""
        self._live = False
        self._session_created = False
        self.session: Optional[Dict[str, Any]] = None
        self._recv_thread: Optional[threading.Thread] = None
        # Response tracking.
        self._reserved: Optional[_Ticket] = None
        self._in_flight: Deque[_Ticket] = collections.deque()
        self._active_response: Optional[str] = None
        self._active_ticket: Optional[_Ticket] = None
        self._queued: Deque[_Ticket] = collections.deque()
        # Tools.
        self._tool_batches: Dict[Optional[str], _ToolBatch] = {}
        self._runner: Optional[ToolRunner] = None
        # Blocking helpers.
        self._asks: Set[_Ask] = set()
        # Recently sent client events, by event_id.
        self._sent: "collections.OrderedDict[str, Event]" = collections.OrderedDict()
        # Input audio: pending manual-turn audio, and the VAD window.
        self._pending_audio: List[np.ndarray] = []
        self._window: Deque[np.ndarray] = collections.deque()
        self._window_samples = 0
        self._input_samples = 0  # every sample appended this session
        self._speech_starts: Dict[str, float] = {}

    def _sync_formats(self, session: Dict[str, Any]) -> None:
        """Point the conversation at the audio formats named in ``session``."""
        for key in ("input_audio_format", "output_audio_format"):
            value = session.get(key)
            if value in _audio.AUDIO_FORMATS and getattr(self.conversation, key) != value:
                setattr(self.conversation, key, value)
                if key == "input_audio_format":
                    with self._lock:
                        # Offsets are counted in samples of the old rate: start over.
                        self._window.clear()
                        self._window_samples = 0
                        self._input_samples = 0
                        self._pending_audio = []

    # -- wiring ----------------------------------------------------------------

    def _add_api_event_handlers(self) -> None:
        """Register the client's handlers on the socket layer (before any user's)."""
        realtime = self.realtime
        realtime.on("client.*", self._on_client_event)
        realtime.on("server.*", self._on_server_event)
        realtime.on("error", self._on_realtime_error)
        realtime.on("close", self._on_realtime_close)
        realtime.on("server.error", self._on_server_error)
        realtime.on("server.session.created", self._on_session)
        realtime.on("server.session.updated", self._on_session)
        realtime.on("server.conversation.item.created", self._on_item_created)
        realtime.on("server.input_audio_buffer.speech_started", self._on_speech_started)
        realtime.on("server.input_audio_buffer.speech_stopped", self._on_speech_stopped)
        realtime.on("server.response.created", self._on_response_created)
        realtime.on("server.response.output_item.done", self._on_output_item_done)
        realtime.on("server.response.done", self._on_response_done)
        for event_type in _PLAIN_CONVERSATION_EVENTS:
            realtime.on("server." + event_type, self._on_plain_event)

    def _is_dispatching_thread(self) -> bool:
        """True on a thread that delivers this client's events (so it must not block)."""
        if super()._is_dispatching_thread():
            return True
        if self._recv_thread is not None and self._recv_thread is threading.current_thread():
            return True
        checker = getattr(self.realtime, "_is_dispatching_thread", None)
        return bool(checker()) if checker is not None else False

    def _emit(self, name: str, payload: Any) -> None:
        """Dispatch a client-level event to callbacks, internal waiters and the events() queue."""
        self.dispatch(name, payload)
        if self._client_waiters and name in self._client_waiters:
            with self._lock:
                waiters = self._client_waiters.pop(name, None)
            for waiter in waiters or ():
                waiter.resolve(payload)
        event_queue = self._event_queue
        if event_queue is not None:
            event_queue.offer(name, payload)

    def _report(self, error: RealtimeError, event: Optional[Event], client_event: Optional[Event] = None) -> None:
        """Dispatch ``error`` with the standard payload."""
        self._emit(
            "error",
            {"error": error, "event": event, "client_event": client_event, "raw": None},
        )

    def _process(self, event: Event, *args: Any, **kwargs: Any) -> Tuple[Optional[Item], Any]:
        """Fold ``event`` into the conversation; failures become ``error`` dispatches."""
        try:
            return self.conversation.process_event(event, *args, **kwargs)
        except RealtimeError as exc:
            logger.warning("%s (event %s)", exc, event.get("event_id"))
            self._report(exc, event)
        except Exception as exc:  # a bug: report it, keep the socket thread alive
            logger.exception("processing %s failed", event.get("type"))
            error = ProtocolError(f"{event.get('type')}: could not be processed: {exc}", event=event)
            self._report(error, event)
        return None, None

    # -- socket-layer handlers (receive thread unless noted) --------------------

    def _on_client_event(self, event: Event) -> None:
        """Every client event, on the sending thread before the frame is written."""
        event_id = event.get("event_id")
        event_type = event.get("type")
        ask: Optional[_Ask] = getattr(self._tls, "ask", None)
        if isinstance(event_id, str):
            kept = event
            if event_type == "input_audio_buffer.append":
                # Keep the record small: the audio itself is not needed to explain an error.
                kept = dict(event)
                audio = kept.get("audio")
                kept["audio"] = f"<{len(audio) if isinstance(audio, str) else 0} base64 chars>"
            with self._lock:
                sent = self._sent
                sent[event_id] = kept
                if len(sent) > _SENT_EVENTS_KEPT:
                    sent.popitem(last=False)
                if ask is not None:
                    ask.event_ids.add(event_id)
                if event_type == "response.create":
                    ticket = self._reserved
                    if ticket is None:  # sent straight through client.realtime
                        ticket = _Ticket()
                    else:
                        self._reserved = None
                    ticket.event_id = event_id
                    self._in_flight.append(ticket)
        elif event_type == "response.create":
            with self._lock:
                ticket = self._reserved or _Ticket()
                self._reserved = None
                self._in_flight.append(ticket)
        self._emit("realtime.event", {"time": _now_iso(), "source": "client", "event": event})

    def _on_server_event(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        self._emit("realtime.event", {"time": _now_iso(), "source": "server", "event": event})

    def _on_realtime_error(self, payload: Dict[str, Any]) -> None:
        """A malformed frame reported by the socket layer: pass it on."""
        self._emit("error", payload)

    def _on_realtime_close(self, payload: Dict[str, Any]) -> None:
        self._end_connection(payload)

    def _on_server_error(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        details = event.get("error")
        error = ServerError(details if isinstance(details, dict) else {"message": str(details)})
        client_event: Optional[Event] = None
        failed: List[_Ask] = []
        retry: Optional[_Ticket] = None
        with self._lock:
            if error.event_id:
                client_event = self._sent.get(error.event_id)
                ticket = self._take_ticket(error.event_id)
                if ticket is not None:
                    if error.code == _ACTIVE_RESPONSE_CODE:
                        retry = ticket  # send it again when the active response ends
                    elif ticket.ask is not None:
                        failed.append(ticket.ask)
                for ask in self._asks:
                    if error.event_id in ask.event_ids and ask not in failed and retry is None:
                        failed.append(ask)
        logger.warning("server error: %s", error)
        if retry is not None:
            logger.info("response.create %s came too early; queued until the active response ends", error.event_id)
            self._send_follow_up(retry)
        for ask in failed:
            ask.fail(error)
        self._report(error, event, client_event)
        self._drain_queue()

    def _take_ticket(self, event_id: str) -> Optional[_Ticket]:
        """Remove the response.create ticket with this event id (lock held)."""
        for ticket in self._in_flight:
            if ticket.event_id == event_id:
                self._in_flight.remove(ticket)
                return ticket
        if self._active_ticket is not None and self._active_ticket.event_id == event_id:
            ticket = self._active_ticket
            self._active_ticket = None
            return ticket
        return None

    def _on_session(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        session = event.get("session")
        if isinstance(session, dict):
            self.session = session
            try:
                self._sync_formats(session)
            except RealtimeError as exc:
                self._report(exc, event)
        if event.get("type") == "session.created":
            with self._lock:
                self._session_created = True
                waiters = self._client_waiters.pop("_session.created", None)
            for waiter in waiters or ():
                waiter.resolve(True)

    def _on_plain_event(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        item, delta = self._process(event)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})

    def _on_item_created(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        item, delta = self._process(event)
        if item is None:
            return
        self._emit("conversation.updated", {"item": item, "delta": delta})
        self._emit("conversation.item.appended", {"item": item})
        if item.get("status") == "completed":
            self._emit("conversation.item.completed", {"item": item})

    def _on_speech_started(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        start = event.get("audio_start_ms")
        item_id = event.get("item_id")
        if isinstance(item_id, str) and isinstance(start, (int, float)):
            with self._lock:
                self._speech_starts[item_id] = start
                while len(self._speech_starts) > 64:
                    self._speech_starts.pop(next(iter(self._speech_starts)))
        self._process(event)
        self._emit("conversation.interrupted", {})

    def _on_speech_stopped(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        item_id = event.get("item_id")
        with self._lock:
            start_ms = self._speech_starts.pop(item_id, None) if isinstance(item_id, str) else None
            buffer, offset = self._window_slice(start_ms)
        item, delta = self._process(event, buffer, input_audio_offset=offset)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})

    def _window_slice(self, start_ms: Optional[float]) -> Tuple[np.ndarray, int]:
        """The kept input audio from the chunk holding ``start_ms`` on, and its offset (lock held)."""
        offset = self._input_samples - self._window_samples
        chunks = list(self._window)
        if start_ms is not None and chunks:
            rate = _audio.sample_rate(self.conversation.input_audio_format)
            start = int(start_ms * rate // 1000)
            while len(chunks) > 1 and offset + chunks[0].shape[0] <= start:
                offset += chunks[0].shape[0]
                chunks.pop(0)
        if not chunks:
            return np.zeros(0, dtype=np.int16), offset
        return (chunks[0] if len(chunks) == 1 else np.concatenate(chunks)), offset

    def _on_response_created(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        self._process(event)
        response = event.get("response")
        response_id = response.get("id") if isinstance(response, dict) else None
        with self._lock:
            ticket = self._in_flight.popleft() if self._in_flight else None
            self._active_response = response_id if isinstance(response_id, str) else ""
            self._active_ticket = ticket

    def _on_output_item_done(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        item, delta = self._process(event)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})
            if item.get("status") == "completed":
                self._emit("conversation.item.completed", {"item": item})
        final = event.get("item")
        if isinstance(final, dict) and final.get("type") == "function_call":
            self._start_tool_call(event, final)

    def _on_response_done(self, event: Event) -> None:
        self._recv_thread = threading.current_thread()
        self._process(event)
        response = event.get("response")
        if not isinstance(response, dict):
            response = {}
        response_id = response.get("id")
        status = response.get("status")
        follow_up: Optional[_Ticket] = None
        finished: Optional[_Ask] = None
        with self._lock:
            ticket: Optional[_Ticket] = None
            if self._active_response is not None and self._active_response in (response_id, ""):
                ticket = self._active_ticket
                self._active_response = None
                self._active_ticket = None
            ask = ticket.ask if ticket is not None else None
            batch = self._tool_batches.get(response_id)
            if batch is not None and not batch.done:
                batch.done = True
                batch.status = status
                batch.ask = ask
                if not batch.pending:
                    del self._tool_batches[response_id]
                    if status == "completed":
                        follow_up = _Ticket(ask=ask)
                elif status != "completed":
                    batch.ask = None
            if ask is not None and (batch is None or status != "completed"):
                finished = ask
        if finished is not None:
            finished.resolve(response)
        if follow_up is not None:
            self._send_follow_up(follow_up)
        self._drain_queue()

    def _end_connection(self, payload: Dict[str, Any]) -> None:
        """The connection is over: fail waiters, drop queued work, dispatch ``close`` once."""
        with self._lock:
            if not self._live:
                return
            self._live = False
            self._session_created = False
            waiters = [w for group in self._client_waiters.values() for w in group]
            self._client_waiters = {}
            asks = list(self._asks)
            self._asks = set()
            runner = self._runner
            self._runner = None
            self._reserved = None
            self._in_flight.clear()
            self._queued.clear()
            self._active_response = None
            self._active_ticket = None
            self._tool_batches = {}
            self._pending_audio = []
            self._window.clear()
            self._window_samples = 0
            self._speech_starts = {}
            self._stopping_runner = runner
        code = payload.get("code") if isinstance(payload, dict) else None
        reason = payload.get("reason") if isinstance(payload, dict) else None
        detail = f" (code {code}{': ' + reason if reason else ''})" if code is not None else ""
        error = ConnectionClosedError(
            f"the connection to the Realtime server closed{detail}", code=code, reason=reason
        )
        for waiter in waiters:
            waiter.fail(error)
        for ask in asks:
            ask.fail(error)
        if runner is not None:
            runner.stop()
        self._emit("close", payload)

    # -- connection -------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open."""
        return bool(self.realtime.is_connected())

    def connect(self, timeout: Optional[float] = 10.0) -> bool:
        """Open the socket and send ``session.update`` with :attr:`session_config`.

        Args:
            timeout: seconds to wait for the WebSocket handshake.

        Returns:
            ``True``.

        Raises:
            RealtimeConnectionError: already connected, or the socket layer's
                error (refused, handshake status, timeout...).
        """
        if self.is_connected():
            raise RealtimeConnectionError("already connected; call disconnect() first")
        self._join_old_runner()
        with self._lock:
            self._reset_connection_state()
            self._generation += 1
            self._live = True
        try:
            if self.model is None:
                self.realtime.connect(timeout=timeout)
            else:
                self.realtime.connect(model=self.model, timeout=timeout)
        except BaseException:
            with self._lock:
                self._live = False
            raise
        self.update_session()
        return True

    def disconnect(self) -> None:
        """Close the socket, wake every blocked helper and clear the conversation.

        Idempotent and safe from any thread, including callbacks. From another
        thread it also waits (briefly) for the tool worker to finish.
        """
        if self.realtime.is_connected():
            self.realtime.disconnect()
        self._end_connection({"error": False, "code": None, "reason": None})
        self.conversation.clear()
        self._join_old_runner()

    def _join_old_runner(self) -> None:
        runner = getattr(self, "_stopping_runner", None)
        if runner is not None and not runner.is_worker_thread() and not self._is_dispatching_thread():
            if runner.join(timeout=1.0):
                self._stopping_runner = None

    def reset(self) -> None:
        """Disconnect, remove every callback (here and on :attr:`realtime`) and restore the default config."""
        self.disconnect()
        self.clear_event_handlers()
        self.realtime.clear_event_handlers()
        with self._lock:
            self._event_queue = None
        self._reset_config()
        self._add_api_event_handlers()

    def __enter__(self) -> "RealtimeClient":
        if not self.is_connected():
            self.connect()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.disconnect()

    def _require_connected(self) -> None:
        if not self.realtime.is_connected():
            raise NotConnectedError("not connected; call connect() first")

    def _send(self, event_type: str, data: Optional[Dict[str, Any]] = None) -> Event:
        event: Event = self.realtime.send(event_type, data)
        return event

    # -- session and tools ---------------------------------------------------------

    def get_turn_detection_type(self) -> Optional[str]:
        """``"server_vad"`` (or another server mode) when turn detection is on, else ``None``."""
        turn_detection = self.session_config.get("turn_detection")
        if isinstance(turn_detection, dict):
            kind = turn_detection.get("type")
            return kind if isinstance(kind, str) else None
        return None

    def update_session(self, **config: Any) -> bool:
        """Store session settings and, when connected, send ``session.update``.

        Any session field is accepted (``instructions``, ``voice``,
        ``modalities``, ``input_audio_format``, ``output_audio_format``,
        ``input_audio_transcription``, ``turn_detection``, ``tools``,
        ``tool_choice``, ``temperature``, ``max_response_output_tokens``...);
        fields not given keep their value. Without arguments it re-sends the
        whole configuration. Tools given here are plain definitions (nothing
        runs them); tools added with :meth:`add_tool` are merged in.

        Raises:
            ConfigurationError: an unknown audio format, a ``turn_detection``
                that is not a dict or ``None``, a tool without a name, or a
                tool name given twice or already added with :meth:`add_tool`.
                Nothing is stored or sent then.
        """
        for key in ("input_audio_format", "output_audio_format"):
            if key in config and config[key] not in _audio.AUDIO_FORMATS:
                raise ConfigurationError(
                    f"{key} must be one of {', '.join(_audio.AUDIO_FORMATS)}, got {config[key]!r}"
                )
        if "turn_detection" in config and not (
            config["turn_detection"] is None or isinstance(config["turn_detection"], dict)
        ):
            raise ConfigurationError(
                "turn_detection must be None or a dict such as DEFAULT_SERVER_VAD_CONFIG"
            )
        if "tools" in config:
            tools = config["tools"]
            if tools is None:
                config["tools"] = tools = []
            self._check_session_tools(tools)
        was_vad = self.get_turn_detection_type() is not None
        self.session_config.update(copy.deepcopy(config))
        self._sync_formats(self.session_config)
        if was_vad != (self.get_turn_detection_type() is not None):
            with self._lock:  # the other mode's audio bookkeeping no longer applies
                self._pending_audio = []
                self._window.clear()
                self._window_samples = 0
        if self.realtime.is_connected():
            self._send("session.update", {"session": self._session_payload()})
        return True

    def _check_session_tools(self, tools: Any) -> None:
        if not isinstance(tools, (list, tuple)):
            raise ConfigurationError("tools must be a list of tool definitions (dicts)")
        seen: Set[str] = set()
        for tool in tools:
            name = tool.get("name") if isinstance(tool, dict) else None
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"tool definition without a name: {tool!r}")
            if name in self._tools:
                raise ConfigurationError(
                    f'tool "{name}" is already added with add_tool(); remove_tool("{name}") first'
                )
            if name in seen:
                raise ConfigurationError(f'tool "{name}" is defined twice')
            seen.add(name)

    def _session_payload(self) -> Dict[str, Any]:
        """The ``session`` object of a ``session.update``: config plus registered tools."""
        session = copy.deepcopy(self.session_config)
        tools = [dict({"type": "function"}, **tool) for tool in session.get("tools") or []]
        tools.extend(dict({"type": "function"}, **definition) for definition, _ in self._tools.values())
        session["tools"] = tools
        return session

    def add_tool(self, definition: Dict[str, Any], handler: ToolHandler) -> Dict[str, Any]:
        """Register a tool the model may call, and run ``handler`` when it does.

        Args:
            definition: ``{"name", "description", "parameters"}`` (``type``
                defaults to ``"function"``).
            handler: called as ``handler(arguments)`` with the parsed
                arguments dict, on the tool worker thread; its return value is
                JSON-encoded as the call's output.

        Returns:
            ``{"definition": ..., "handler": ...}``.

        Raises:
            ConfigurationError: no name, handler not callable, or the name is
                already registered (here or in ``session_config["tools"]``).
        """
        name = definition.get("name") if isinstance(definition, dict) else None
        if not isinstance(name, str) or not name:
            raise ConfigurationError("the tool definition needs a non-empty \"name\"")
        if name in self._tools:
            raise ConfigurationError(f'tool "{name}" already added; remove_tool("{name}") first')
        if any(isinstance(t, dict) and t.get("name") == name for t in self.session_config.get("tools") or []):
            raise ConfigurationError(f'tool "{name}" is already defined in session_config["tools"]')
        if not callable(handler):
            raise ConfigurationError(f'the handler of tool "{name}" must be callable')
        stored = copy.deepcopy(definition)
        tools = dict(self._tools)
        tools[name] = (stored, handler)
        self._tools = tools  # replaced, never mutated: readers on other threads need no lock
        if self.realtime.is_connected():
            self.update_session()
        return {"definition": stored, "handler": handler}

    def remove_tool(self, name: str) -> bool:
        """Unregister a tool (and update the session when connected).

        Raises:
            ConfigurationError: no tool of that name was added.
        """
        if name not in self._tools:
            raise ConfigurationError(f'tool "{name}" does not exist, so it cannot be removed')
        tools = dict(self._tools)
        del tools[name]
        self._tools = tools
        if self.realtime.is_connected():
            self.update_session()
        return True

    @property
    def tools(self) -> Dict[str, Dict[str, Any]]:
        """The registered tools: ``{name: {"definition", "handler"}}`` (a new dict)."""
        return {name: {"definition": d, "handler": h} for name, (d, h) in self._tools.items()}

    def _start_tool_call(self, event: Event, final: Event) -> None:
        """A function call is done: run it when it is one of ours (receive thread)."""
        if final.get("status", "completed") != "completed":
            return
        name = final.get("name")
        call_id = final.get("call_id")
        entry = self._tools.get(name) if isinstance(name, str) else None
        if entry is None:
            logger.debug("function call %r is not a registered tool; left to callbacks", name)
            return
        if not isinstance(call_id, str):
            self._report(ProtocolError("function_call item without call_id", event=event), event)
            return
        response_id = event.get("response_id")
        with self._lock:
            if not self._live:
                return
            batch = self._tool_batches.get(response_id)
            if batch is None or batch.done:
                batch = self._tool_batches[response_id] = _ToolBatch()
            batch.pending.add(call_id)
            runner = self._runner
            if runner is None:
                runner = self._runner = ToolRunner(self._on_tool_output, self.tool_timeout)
            generation = self._generation
        arguments = final.get("arguments")
        runner.submit(
            ToolCall(
                generation=generation,
                call_id=call_id,
                name=name,
                arguments=arguments if isinstance(arguments, str) else "",
                response_id=response_id,
                handler=entry[1],
            )
        )

    def _on_tool_output(self, call: ToolCall, output: str) -> None:
        """Send a tool's output, then the follow-up response when it was the last (tool worker)."""
        with self._lock:
            current = self._live and call.generation == self._generation
        if not current:
            logger.debug("dropping the output of %r: its connection is gone", call)
            return
        try:
            self._send(
                "conversation.item.create",
                {"item": {"type": "function_call_output", "call_id": call.call_id, "output": output}},
            )
        except RealtimeConnectionError as exc:
            logger.warning("could not send the output of %r: %s", call, exc)
            return
        follow_up: Optional[_Ticket] = None
        with self._lock:
            batch = self._tool_batches.get(call.response_id)
            if batch is not None:
                batch.pending.discard(call.call_id)
                if batch.done and not batch.pending:
                    del self._tool_batches[call.response_id]
                    if batch.status == "completed":
                        follow_up = _Ticket(ask=batch.ask)
        if follow_up is not None:
            self._send_follow_up(follow_up)

    def _send_follow_up(self, ticket: _Ticket) -> None:
        try:
            self._request_response(ticket, front=True)
        except RealtimeConnectionError as exc:
            logger.warning("could not request the response after the tool calls: %s", exc)

    # -- conversation -------------------------------------------------------------

    def delete_item(self, id: str) -> bool:  # noqa: A002 - the reference's name
        """Ask the server to delete an item (``conversation.item.delete``).

        The conversation drops it when ``conversation.item.deleted`` arrives.

        Raises:
            ConfigurationError: ``id`` is not a non-empty string.
            NotConnectedError: not connected.
        """
        if not isinstance(id, str) or not id:
            raise ConfigurationError(f"item id must be a non-empty string, got {id!r}")
        self._send("conversation.item.delete", {"item_id": id})
        return True

    def send_user_message_content(self, content: Any = None) -> bool:
        """Send a user message made of content parts, then request a response.

        Args:
            content: a list of parts such as ``{"type": "input_text", "text":
                "hi"}`` or ``{"type": "input_audio", "audio": samples}``, where
                audio may be base64 text or samples (int16/float numpy array
                or pcm16 bytes) at the input format's rate, which are encoded
                for the input format. The caller's list and dicts are not
                modified. An empty list only requests a response.

        Raises:
            ConfigurationError: ``content`` is not a list of dicts with a ``type``.
            TypeError, ValueError: audio that cannot be converted.
            NotConnectedError: not connected.
        """
        parts = self._prepare_content(content)
        self._require_connected()
        self._send_user_message(parts, None)
        return True

    def send_text(self, text: str) -> bool:
        """Send ``text`` as a user message and request a response."""
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        return self.send_user_message_content([{"type": "input_text", "text": text}])

    def _prepare_content(self, content: Any) -> List[Dict[str, Any]]:
        if content is None:
            return []
        if not isinstance(content, (list, tuple)):
            raise ConfigurationError("content must be a list of content parts (dicts)")
        parts: List[Dict[str, Any]] = []
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise ConfigurationError(f'each content part must be a dict with a "type": {part!r}')
            part = dict(part)
            if part["type"] == "input_audio":
                audio = part.get("audio")
                if audio is not None and not isinstance(audio, str):
                    part["audio"] = _audio.encode_audio(
                        _audio.to_pcm16(audio), self.conversation.input_audio_format
                    )
            parts.append(part)
        return parts

    def _send_user_message(self, parts: List[Dict[str, Any]], ask: Optional[_Ask]) -> None:
        self._tls.ask = ask
        try:
            if parts:
                self._send(
                    "conversation.item.create",
                    {"item": {"type": "message", "role": "user", "content": parts}},
                )
            self._commit_pending_audio()
            self._request_response(_Ticket(ask=ask))
        finally:
            self._tls.ask = None

    # -- input audio --------------------------------------------------------------

    def append_input_audio(self, samples: Any) -> bool:
        """Send input audio (``input_audio_buffer.append``).

        Args:
            samples: int16 numpy array, float array in [-1, 1], or pcm16
                little-endian bytes, mono at the input format's rate (24 kHz
                for pcm16, 8 kHz for G.711); encoded for the input format.
                Empty input sends nothing.

        With turn detection off the audio is also kept until
        :meth:`create_response` commits it; in server-VAD mode only the last
        ``input_audio_window`` seconds are kept, for cutting out speech.

        Raises:
            TypeError, ValueError: audio that cannot be converted.
            NotConnectedError: not connected.
        """
        pcm = _audio.to_pcm16(samples)  # always a new array: later changes by the caller are harmless
        count = int(pcm.shape[0])
        if count == 0:
            return True
        input_format = self.conversation.input_audio_format
        payload = {"audio": _audio.encode_audio(pcm, input_format)}
        manual = self.get_turn_detection_type() is None
        # Book-keep before sending (a speech event may follow the frame at once), and
        # keep the bookkeeping in wire order when several threads append.
        with self._audio_lock:
            self._require_connected()
            with self._lock:
                self._input_samples += count
                if manual:
                    self._pending_audio.append(pcm)
                else:
                    self._window.append(pcm)
                    self._window_samples += count
                    limit = int(self.input_audio_window * _audio.sample_rate(input_format))
                    while self._window and self._window_samples - self._window[0].shape[0] >= limit:
                        self._window_samples -= self._window.popleft().shape[0]
            self._send("input_audio_buffer.append", payload)
        return True

    def clear_input_audio(self) -> bool:
        """Drop uncommitted input audio here and on the server (``input_audio_buffer.clear``)."""
        self._send("input_audio_buffer.clear")
        with self._lock:
            self._pending_audio = []
        return True

    def _commit_pending_audio(self) -> None:
        """Manual turns: commit the audio appended so far and queue it for the user item."""
        if self.get_turn_detection_type() is not None:
            return
        with self._lock:
            chunks = self._pending_audio
            self._pending_audio = []
        if not chunks:
            return
        # Queue first: the user item may be created as soon as the commit lands.
        self.conversation.queue_input_audio(chunks[0] if len(chunks) == 1 else np.concatenate(chunks))
        self._send("input_audio_buffer.commit")

    # -- responses ----------------------------------------------------------------

    def create_response(self, response: Optional[Dict[str, Any]] = None) -> bool:
        """Request a model response (``response.create``); never blocks.

        With turn detection off, input audio appended since the last commit is
        committed first (and becomes the user item's ``formatted["audio"]``).
        While a response is active (or one was requested and not started), the
        request is queued and sent when that response is done.

        Args:
            response: optional per-response settings (``instructions``,
                ``modalities``, ...), sent as the event's ``response`` object.

        Returns:
            ``True`` if ``response.create`` was sent now, ``False`` if queued.

        Raises:
            NotConnectedError: not connected.
        """
        if response is not None and not isinstance(response, dict):
            raise ConfigurationError("response must be a dict of response settings")
        self._require_connected()
        self._commit_pending_audio()
        return self._request_response(_Ticket(options=copy.deepcopy(response)))

    def _busy(self) -> bool:
        return bool(self._reserved or self._in_flight or self._active_response is not None)

    def _request_response(self, ticket: _Ticket, *, front: bool = False) -> bool:
        """Send ``response.create`` for ``ticket`` now, or queue it behind the active response."""
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            if self._busy():
                if front:
                    self._queued.appendleft(ticket)
                else:
                    self._queued.append(ticket)
                return False
            self._reserved = ticket
        self._send_ticket(ticket)
        return True

    def _send_ticket(self, ticket: _Ticket) -> None:
        """Send the ``response.create`` reserved for ``ticket`` (lock not held)."""
        previous = getattr(self._tls, "ask", None)
        self._tls.ask = ticket.ask
        try:
            self._send("response.create", {"response": ticket.options} if ticket.options else None)
        except BaseException:
            with self._lock:
                if self._reserved is ticket:
                    self._reserved = None
            raise
        finally:
            self._tls.ask = previous

    def _drain_queue(self) -> None:
        """Send the next queued ``response.create`` if nothing is active (receive thread)."""
        with self._lock:
            if not self._live or not self._queued or self._busy():
                return
            ticket = self._queued.popleft()
            self._reserved = ticket
        try:
            self._send_ticket(ticket)
        except RealtimeConnectionError as exc:
            logger.warning("could not send the queued response.create: %s", exc)
            if ticket.ask is not None:
                ticket.ask.fail(exc)

    def active_response_id(self) -> Optional[str]:
        """The id of the response being generated, or ``None``."""
        return self._active_response or None

    def cancel_response(self, id: Optional[str] = None, sample_count: int = 0) -> Optional[Item]:  # noqa: A002
        """Stop the response in progress and, for audio, cut the item to what was heard.

        Without ``id``: send ``response.cancel`` when a response is active (or
        requested); otherwise send nothing.

        With ``id`` (an assistant message item) and ``sample_count`` (samples
        of its audio that were played): everything is checked first; then
        ``response.cancel`` is sent if a response is still active, and
        ``conversation.item.truncate`` with ``audio_end_ms`` computed from the
        output format's sample rate and capped at the audio received for that
        item. When nothing was heard (0 ms) or the item has no audio part, no
        truncate is sent.

        Returns:
            The item, or ``None`` without ``id``.

        Raises:
            UnknownItemError: no item with that id.
            ConfigurationError: the item is not an assistant message, or
                ``sample_count`` is not a non-negative integer.
            NotConnectedError: not connected.
        """
        self._require_connected()
        if id is None:
            self._cancel_active()
            return None
        if isinstance(sample_count, bool) or not isinstance(sample_count, (int, np.integer)) or sample_count < 0:
            raise ConfigurationError(f"sample_count must be a non-negative integer, got {sample_count!r}")
        item = self.conversation.get_item(id)
        if item is None:
            raise UnknownItemError(f'could not find item "{id}"')
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise ConfigurationError(
                f'cancel_response() needs an assistant message, item "{id}" is a '
                f"{item.get('role') or ''} {item.get('type')}".replace("  ", " ")
            )
        content = item.get("content") or []
        audio_index = next(
            (i for i, part in enumerate(content) if isinstance(part, dict) and part.get("type") == "audio"),
            None,
        )
        received = len(item.get("formatted", {}).get("audio", ()))
        rate = _audio.sample_rate(self.conversation.output_audio_format)
        audio_end_ms = int(min(int(sample_count), received) * 1000 // rate)
        self._cancel_active()
        if audio_index is not None and audio_end_ms > 0:
            self._send(
                "conversation.item.truncate",
                {"item_id": id, "content_index": audio_index, "audio_end_ms": audio_end_ms},
            )
        return item

    def _cancel_active(self) -> bool:
        with self._lock:
            active = bool(self._reserved or self._in_flight or self._active_response is not None)
        if active:
            self._send("response.cancel")
        return active

    # -- blocking helpers -----------------------------------------------------------

    def _check_can_block(self, what: str) -> None:
        if self._is_dispatching_thread():
            raise RuntimeError(
                f"{what}() was called on the thread that delivers this client's events "
                "(from inside a callback); it would wait for ever. Call it from another "
                "thread, or react to the event in a callback instead."
            )

    def _wait(self, key: str, timeout: Optional[float], what: str) -> Any:
        self._check_can_block(what)
        waiter = _Waiter()
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            if key == "_session.created" and self._session_created:
                return True
            self._client_waiters.setdefault(key, []).append(waiter)
        if not waiter.wait(timeout):
            with self._lock:
                group = self._client_waiters.get(key)
                if group is not None and waiter in group:
                    group.remove(waiter)
                    if not group:
                        del self._client_waiters[key]
        if waiter.error is not None:
            raise waiter.error
        return waiter.value

    def wait_for_session_created(self, timeout: Optional[float] = None) -> Optional[bool]:
        """Block until the server's ``session.created`` (at once if already there).

        Returns:
            ``True``, or ``None`` when ``timeout`` seconds ran out.

        Raises:
            NotConnectedError: not connected.
            ConnectionClosedError: the connection ended while waiting.
            RuntimeError: called from inside a callback (the receive thread).
        """
        result: Optional[bool] = self._wait("_session.created", timeout, "wait_for_session_created")
        return result

    def wait_for_next_item(self, timeout: Optional[float] = None) -> Optional[Item]:
        """Block until the next item is appended to the conversation and return it.

        Returns ``None`` on timeout; raises like :meth:`wait_for_session_created`.
        """
        payload = self._wait("conversation.item.appended", timeout, "wait_for_next_item")
        return payload["item"] if payload is not None else None

    def wait_for_next_completed_item(self, timeout: Optional[float] = None) -> Optional[Item]:
        """Block until the next item is completed and return it.

        Returns ``None`` on timeout; raises like :meth:`wait_for_session_created`.
        """
        payload = self._wait("conversation.item.completed", timeout, "wait_for_next_completed_item")
        return payload["item"] if payload is not None else None

    def ask(self, text: str, timeout: Optional[float] = 60.0) -> Optional[Item]:
        """Send ``text`` as a user message and return the finished assistant item.

        The notebook helper: it sends the message, requests a response (queued
        behind an active one), follows automatic tool calls to the response
        that comes after them, and returns the last assistant message of the
        final response, with ``formatted`` ``text``, ``transcript`` and
        ``audio`` complete (or the response's last item when it holds no
        assistant message). A cancelled response still returns its partial item.

        Args:
            text: the user's message.
            timeout: seconds to wait for the whole exchange; ``None`` for ever.

        Returns:
            The item, or ``None`` if ``timeout`` ran out or the response
            produced no item.

        Raises:
            ServerError: the server rejected the message or the response, or
                the response failed.
            ConnectionClosedError: the connection ended while waiting.
            NotConnectedError: not connected.
            RuntimeError: called from inside a callback (the receive thread).
        """
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        self._check_can_block("ask")
        ask = _Ask()
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            self._asks.add(ask)
        try:
            self._send_user_message([{"type": "input_text", "text": text}], ask)
            finished = ask.wait(timeout)
        finally:
            with self._lock:
                self._asks.discard(ask)
        if not finished:
            return None
        if ask.error is not None:
            raise ask.error
        response: Dict[str, Any] = ask.value or {}
        if response.get("status") == "failed":
            details = response.get("status_details") or {}
            error = details.get("error") if isinstance(details, dict) else None
            raise ServerError(
                dict(error) if isinstance(error, dict) else {"type": "response_failed", "message": "the response failed"}
            )
        return self._pick_reply(response)

    def _pick_reply(self, response: Dict[str, Any]) -> Optional[Item]:
        output = response.get("output") or []
        items: List[Item] = []
        for entry in output:
            entry_id = entry.get("id") if isinstance(entry, dict) else entry
            live = self.conversation.get_item(entry_id) if isinstance(entry_id, str) else None
            if live is not None:
                items.append(live)
            elif isinstance(entry, dict):
                items.append(entry)
        for item in reversed(items):
            if item.get("type") == "message" and item.get("role") == "assistant":
                return item
        return items[-1] if items else None

    # -- events queue -------------------------------------------------------------

    def events(
        self, maxsize: int = 1000, *, include_realtime_events: bool = False
    ) -> "queue.Queue[Tuple[str, Any]]":
        """A thread-safe queue of ``(name, payload)`` for a GUI or other thread to pull.

        The client puts every client-level event in it (``conversation.updated``,
        ``conversation.item.appended``, ``conversation.item.completed``,
        ``conversation.interrupted``, ``error``, ``close``, and with
        ``include_realtime_events`` also ``realtime.event``). The queue is
        bounded by ``maxsize``: when the reader falls behind, the oldest
        entries are dropped (counted in :attr:`events_dropped`, with a
        warning) so the receive thread never blocks. Payloads hold the live
        item dicts: read ``item["formatted"]`` for the current state.

        The first call creates the queue; later calls return the same queue.
        """
        with self._lock:
            if self._event_queue is None:
                names = _CLIENT_EVENTS + (("realtime.event",) if include_realtime_events else ())
                self._event_queue = _EventQueue(maxsize, names)
            return self._event_queue.queue

    @property
    def events_dropped(self) -> int:
        """How many events the :meth:`events` queue dropped because it was full."""
        event_queue = self._event_queue
        return event_queue.dropped if event_queue is not None else 0
