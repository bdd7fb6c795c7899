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
``wait_for_next_completed_item``, ``wait_for_next`` and ``ask`` return
``None`` when their timeout (float seconds, ``None`` = for ever) runs out. If
the connection ends while they wait -- :meth:`~RealtimeClient.disconnect` from
another thread, or the server closing the socket -- they raise
:class:`~realtime_sync.errors.ConnectionClosedError` at once, so a timeout of
``None`` never hangs on a dead connection. Called while not connected they
raise :class:`~realtime_sync.errors.NotConnectedError` (``wait_for_next``
then waits like :class:`~realtime_sync.events.EventHandler`'s).

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
import logging
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from . import audio as _audio
from . import dialects
from . import history as _history
from ._client_audio import _InputAudioMixin
from ._client_responses import _ResponsesMixin
from ._client_support import (
    Event,
    Item,
    _Ask,
    _EventQueue,
    _now_iso,
    _Ticket,
    _ToolBatch,
    _Waiter,
)
from ._client_waits import _WaitsMixin
from ._tools import ToolHandler, ToolRunner
from .api import RealtimeAPI
from .conversation import Conversation
from .errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    ProtocolError,
    RealtimeConnectionError,
    RealtimeError,
)

__all__ = [
    "RealtimeClient",
    "DEFAULT_SESSION_CONFIG",
    "DEFAULT_SERVER_VAD_CONFIG",
    "ToolHandler",
]

logger = logging.getLogger(__name__)

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

def _audio_placeholder(audio: Any) -> str:
    return f"<{len(audio) if isinstance(audio, str) else 0} base64 chars>"


def _without_audio(event: Event) -> Event:
    """``event`` with its base64 audio replaced by a placeholder (a shallow copy when changed).

    Covers ``input_audio_buffer.append`` and the ``input_audio`` / ``audio``
    content parts of ``conversation.item.create``, so the record of recently
    sent events stays small however much audio they carried.
    """
    event_type = event.get("type")
    if event_type == "input_audio_buffer.append":
        kept = dict(event)
        kept["audio"] = _audio_placeholder(kept.get("audio"))
        return kept
    if event_type == "conversation.item.create":
        item = event.get("item")
        if not isinstance(item, dict):
            return event
        content = item.get("content")
        if isinstance(content, list) and any(
            isinstance(part, dict) and isinstance(part.get("audio"), str) for part in content
        ):
            parts = [
                dict(part, audio=_audio_placeholder(part["audio"]))
                if isinstance(part, dict) and isinstance(part.get("audio"), str)
                else part
                for part in content
            ]
            return dict(event, item=dict(item, content=parts))
    return event


class RealtimeClient(_ResponsesMixin, _WaitsMixin, _InputAudioMixin):
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
            raise ConfigurationError(
                f"tool_timeout must be a positive number of seconds or None, got {tool_timeout!r}"
            )
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
        """Register the client's handlers on the socket layer (before any user's).

        Every server event goes through one ``server.*`` callback that
        translates it from the wire dialect to the beta model
        (:func:`realtime_sync.dialects.server_from_wire`) and routes it by its
        translated type.
        """
        realtime = self.realtime
        realtime.on("client.*", self._on_client_event)
        realtime.on("server.*", self._on_server_event)
        realtime.on("error", self._on_realtime_error)
        realtime.on("close", self._on_realtime_close)
        routes: Dict[str, Callable[[Event], None]] = {
            event_type: self._on_plain_event for event_type in _PLAIN_CONVERSATION_EVENTS
        }
        routes.update(
            {
                "error": self._on_server_error,
                "session.created": self._on_session,
                "session.updated": self._on_session,
                "conversation.item.created": self._on_item_created,
                "input_audio_buffer.speech_started": self._on_speech_started,
                "input_audio_buffer.speech_stopped": self._on_speech_stopped,
                "response.created": self._on_response_created,
                "response.output_item.done": self._on_output_item_done,
                "response.done": self._on_response_done,
            }
        )
        self._routes = routes

    def _is_dispatching_thread(self) -> bool:
        """True on a thread that delivers this client's events (so it must not block)."""
        if super()._is_dispatching_thread():
            return True
        checker = getattr(self.realtime, "_is_dispatching_thread", None)
        return bool(checker()) if checker is not None else False

    def dispatch(self, name: str, event: Any) -> None:
        """Run the callbacks for ``name``, then wake the blocking helpers waiting for it.

        As :meth:`EventHandler.dispatch <realtime_sync.events.EventHandler.dispatch>`;
        runs on the calling thread.
        """
        super().dispatch(name, event)
        if self._client_waiters and name in self._client_waiters:
            with self._lock:
                waiters = self._client_waiters.pop(name, None)
            for waiter in waiters or ():
                waiter.resolve(event)

    def _emit(self, name: str, payload: Any) -> None:
        """Dispatch a client-level event to callbacks, waiters and the events() queue."""
        self.dispatch(name, payload)
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
        except Exception as exc:
            self._process_failed(exc, event)
        return None, None

    def _process_failed(self, exc: Exception, event: Event) -> None:
        if isinstance(exc, RealtimeError):
            logger.warning("%s (event %s)", exc, event.get("event_id"))
            self._report(exc, event)
        else:  # a bug: report it, keep the socket thread alive
            logger.error("processing %s failed", event.get("type"), exc_info=exc)
            error = ProtocolError(f"{event.get('type')}: could not be processed: {exc}", event=event)
            self._report(error, event)

    # -- socket-layer handlers (receive thread unless noted) --------------------

    def _on_client_event(self, event: Event) -> None:
        """Every client event, on the sending thread before the frame is written."""
        event_id = event.get("event_id")
        event_type = event.get("type")
        ask: Optional[_Ask] = getattr(self._tls, "ask", None)
        if isinstance(event_id, str):
            # Keep the record small: the audio itself is not needed to explain an error.
            kept = _without_audio(event)
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
        if self._wants("realtime.event"):
            if self.realtime.protocol != "beta":  # show it in the beta model, like server events
                try:
                    event = dialects.client_from_wire(event, self.realtime.protocol)
                except Exception:
                    logger.debug("could not translate %s back to the beta model", event_type, exc_info=True)
            self._emit("realtime.event", {"time": _now_iso(), "source": "client", "event": event})

    def _on_server_event(self, wire_event: Event) -> None:
        """Every server event: translate, route, then ``realtime.event`` (receive thread)."""
        protocol = self.realtime.protocol
        if protocol == "beta":
            event = wire_event
        else:
            try:
                event = dialects.server_from_wire(wire_event, protocol)
            except Exception as exc:  # never let one odd event stop the loop
                self._process_failed(exc, wire_event)
                return
        handler = self._routes.get(event.get("type"))  # type: ignore[arg-type]
        if handler is not None:
            handler(event)
        if self._wants("realtime.event"):
            self._emit("realtime.event", {"time": _now_iso(), "source": "server", "event": event})

    def _wants(self, name: str) -> bool:
        """Whether anything would receive a dispatch of ``name`` right now.

        Callbacks, ``on_next`` callbacks, blocked ``wait_for_next`` callers
        (the handler's and the client's) and the :meth:`events` queue. Payloads
        sent for every audio delta (``realtime.event``, ``conversation.updated``)
        are built only then. Read without the lock: a listener added while an
        event is being handled may or may not see that event, as with any
        dispatch.
        """
        if (
            name in self._handlers
            or name in self._next_handlers
            or name in self._waiters
            or name in self._client_waiters
        ):
            return True
        event_queue = self._event_queue
        return event_queue is not None and name in event_queue.names


    def _on_realtime_error(self, payload: Dict[str, Any]) -> None:
        """A malformed frame reported by the socket layer: pass it on."""
        self._emit("error", payload)

    def _on_realtime_close(self, payload: Dict[str, Any]) -> None:
        self._end_connection(payload)

    def _on_session(self, event: Event) -> None:
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
        # The hot path (every delta): no wrappers, and no payload nobody receives.
        try:
            item, delta = self.conversation.process_event(event)
        except Exception as exc:
            self._process_failed(exc, event)
            return
        if item is not None and self._wants("conversation.updated"):
            self._emit("conversation.updated", {"item": item, "delta": delta})

    def _on_item_created(self, event: Event) -> None:
        # A repeated conversation.item.created (a relay's retry, or a GA server's
        # conversation.item.added followed by .created) updates the stored item
        # but appends nothing: appended/completed are dispatched once per item.
        raw = event.get("item")
        item_id = raw.get("id") if isinstance(raw, dict) else None
        known = isinstance(item_id, str) and self.conversation.get_item(item_id) is not None
        item, delta = self._process(event)
        if item is None:
            return
        self._emit("conversation.updated", {"item": item, "delta": delta})
        if known:
            return
        self._emit("conversation.item.appended", {"item": item})
        if item.get("status") == "completed":
            self._emit("conversation.item.completed", {"item": item})

    def _on_output_item_done(self, event: Event) -> None:
        item, delta = self._process(event)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})
            if item.get("status") == "completed":
                self._emit("conversation.item.completed", {"item": item})
        final = event.get("item")
        if isinstance(final, dict) and final.get("type") == "function_call":
            self._start_tool_call(event, final)

    def _end_connection(self, payload: Dict[str, Any]) -> None:
        """The connection is over: fail waiters, drop queued work, dispatch ``close`` once."""
        with self._lock:
            if not self._live:
                return
            self._live = False
            self._session_created = False
            # Waiters for "close" itself are woken by the close dispatch below.
            waiters = [w for key, group in self._client_waiters.items() if key != "close" for w in group]
            self._client_waiters = {key: group for key, group in self._client_waiters.items() if key == "close"}
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

        The conversation is cleared first: a new connection is a new session
        (after the server closed the old one, its items stay readable until here).

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
        with self._lock:
            unfinished = self._live
        if unfinished:
            # The server closed the socket and the receive thread has not handled
            # "close" yet: let it finish first, or that late close would end the
            # new connection (this joins the old receive thread).
            self.realtime.disconnect()
            self._end_connection({"error": True, "code": None, "reason": None})
        self._join_old_runner()
        # A new session starts with an empty server-side conversation. disconnect()
        # clears ours, but a close by the server keeps it readable until now.
        self.conversation.clear()
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

    def _session_payload(self) -> Dict[str, Any]:
        """The ``session`` object of a ``session.update``: config plus registered tools."""
        session = copy.deepcopy(self.session_config)
        tools = [dict({"type": "function"}, **tool) for tool in session.get("tools") or []]
        tools.extend(dict({"type": "function"}, **definition) for definition, _ in self._tools.values())
        session["tools"] = tools
        return session

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

    def export_history(self) -> List[Dict[str, Any]]:
        """The conversation so far as a JSON-serialisable history.

        :func:`realtime_sync.history.export_items` of
        ``self.conversation.get_items()``: text, transcripts and function
        calls; no ids, audio, or unfinished items. Keep it (or write it with
        :func:`~realtime_sync.history.save_history`) and give it to
        :meth:`restore_history` in a later session.
        """
        return _history.export_items(self.conversation.get_items())

    def restore_history(
        self, history: Sequence[Dict[str, Any]], *, timeout: Optional[float] = 10.0
    ) -> List[Item]:
        """Create the items of an exported history in this session and wait until the server has them.

        Sends one ``conversation.item.create`` per entry, in order, and
        requests no response (call :meth:`ask` or :meth:`create_response`
        next). See :func:`realtime_sync.history.restore_history`.

        Args:
            history: from :meth:`export_history`,
                :func:`~realtime_sync.history.load_history`, or items of the same shape.
            timeout: seconds to wait for the server's confirmations; ``None`` for ever.

        Returns:
            The created conversation items, in order.

        Raises:
            ConfigurationError: an invalid entry (nothing is sent).
            NotConnectedError: not connected.
            ServerError: the server rejected an item.
            RealtimeTimeoutError: not every item was confirmed in time.
            ConnectionClosedError: the connection ended while waiting.
            RuntimeError: called from inside a callback (the receive thread).
        """
        return _history.restore_history(self, history, timeout=timeout)

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


