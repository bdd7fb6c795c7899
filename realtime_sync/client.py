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

The client holds small parts from ``realtime_sync._session`` and delegates:
the response queue, the input audio, the tools, the record of sent events,
and the two routes -- :class:`~realtime_sync._session.outbound.Outbound` for
every event it sends, :class:`~realtime_sync._session.inbound.Inbound` for
every server event (given to :class:`~realtime_sync.api.RealtimeAPI` as its
``on_server_event`` hook, so the conversation is updated before the socket
layer's ``server.*`` listeners run).

Threads: server events and the client-level events they cause
(``conversation.updated``, ``conversation.item.appended``,
``conversation.item.completed``, ``conversation.interrupted``, ``error``,
server-side ``realtime.event``) are dispatched on the receive thread: keep
callbacks short, or pull from :meth:`RealtimeClient.events` on your own
thread. ``realtime.event`` for a client event runs on the sending thread.
Sending methods are safe from any thread; tool handlers run on a worker
thread (``realtime-sync-tools``).

Blocking helpers
----------------
One rule for every blocking helper: ``timeout`` is in float seconds, ``None``
waits for ever. When it runs out, the ``wait_for_*`` helpers return ``None``
(as the reference client does), while helpers that *do* something and wait
for its result -- :meth:`~RealtimeClient.ask`,
:meth:`~RealtimeClient.restore_history` -- raise
:class:`~realtime_sync.errors.RealtimeTimeoutError` saying what they waited
for and how long. If the connection ends while any of them waits, it raises
:class:`~realtime_sync.errors.ConnectionClosedError` at once (with the close
code or reason), so ``timeout=None`` never hangs on a dead connection. Called
while not connected they raise :class:`~realtime_sync.errors.NotConnectedError`;
called from inside a callback (the receive thread), ``RuntimeError``: they
would wait for an event that thread itself has to deliver.
"""

from __future__ import annotations

import contextlib
import copy
import queue
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from . import audio as _audio
from . import history as _history
from ._session.event_queue import CLIENT_EVENTS, EventQueue
from ._session.inbound import Inbound
from ._session.input_audio import InputAudio
from ._session.outbound import Outbound, prepare_content, truncate_point
from ._session.requests import Ask, ResponseQueue, Ticket, pick_reply
from ._session.sent import SentEvents
from ._session.settings import DEFAULT_SERVER_VAD_CONFIG, DEFAULT_SESSION_CONFIG, SessionSettings
from ._session.tools import ToolBox
from .api import RealtimeAPI, generate_id
from .conversation import Conversation
from .errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
    ServerError,
)
from .events import EventHandler
from .types import CloseEvent, Item, ServerEvent, ToolHandler

__all__ = [
    "RealtimeClient",
    "DEFAULT_SESSION_CONFIG",
    "DEFAULT_SERVER_VAD_CONFIG",
    "ToolHandler",
]

# The name under which wait_for_session_created() waits (never dispatched to callbacks).
_SESSION_CREATED = "_session.created"


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
            mode so speech can be cut out of it at ``speech_stopped``.
        response_start_timeout: seconds a ``response.create`` may go
            unanswered (no ``response.created``, no ``error``) before the
            client stops waiting for it, fails the :meth:`ask` waiting on it
            and sends the next queued request; ``None`` waits for ever.
        **api_options: passed to :class:`~realtime_sync.api.RealtimeAPI`
            (``ping_interval``, ``ping_timeout``, ``max_frame_size``, ``protocol``...).

    Attributes:
        realtime: the :class:`~realtime_sync.api.RealtimeAPI` socket layer.
        conversation: the :class:`~realtime_sync.conversation.Conversation`.
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
        response_start_timeout: Optional[float] = 30.0,
        **api_options: Any,
    ) -> None:
        super().__init__()
        for name, value in (("tool_timeout", tool_timeout), ("response_start_timeout", response_start_timeout)):
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds or None, got {value!r}")
        if not input_audio_window > 0:
            raise ConfigurationError(
                f"input_audio_window must be a positive number of seconds, got {input_audio_window!r}"
            )
        self.model = model
        self.conversation = Conversation()
        self.session: Optional[Dict[str, Any]] = None
        self._state_lock = threading.Lock()
        self._live = False
        self._tag: object = None  # this connection's tag on every waiter and handle
        self._session_created = False
        self._event_queue: Optional[EventQueue] = None
        self._settings = SessionSettings()
        self._sent = SentEvents()
        self.realtime = RealtimeAPI(
            url, api_key, debug=debug, headers=headers, query=query, on_server_event=self._on_server_event, **api_options
        )
        self._outbound = Outbound(self.realtime, self._sent, self._emit, self._wants)
        self._send = self._outbound.send
        self._responses = ResponseQueue(self._send, answer_timeout=response_start_timeout)
        self._input_audio = InputAudio(input_audio_window)
        self._tools = ToolBox(tool_timeout, self._send, self._responses)
        self._inbound = Inbound(
            conversation=self.conversation,
            responses=self._responses,
            input_audio=self._input_audio,
            tools=self._tools,
            sent=self._sent,
            protocol=lambda: self.realtime.protocol,
            emit=self._emit,
            wants=self._wants,
            on_session=self._on_session,
        )
        self._add_api_event_handlers()

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        return f"<RealtimeClient {self.realtime.url!r} {state}>"

    @property
    def session_config(self) -> Dict[str, Any]:
        """The session settings sent with ``session.update`` (tools added with
        :meth:`add_tool` are merged in when sending)."""
        return self._settings.config

    @property
    def tool_timeout(self) -> Optional[float]:
        """Seconds a tool handler may run (``None``: no limit)."""
        return self._tools.timeout

    @property
    def input_audio_window(self) -> float:
        """Seconds of input audio kept in server-VAD mode."""
        return self._input_audio.window_seconds

    # -- wiring --------------------------------------------------------------------

    def _add_api_event_handlers(self) -> None:
        """Register the client's listeners on the socket layer (before any user's)."""
        self.realtime.on("client.*", self._outbound.on_wire_client_event)
        self.realtime.on("error", self._on_realtime_error)
        self.realtime.on("close", self._on_realtime_close)

    def _is_dispatching_thread(self) -> bool:
        return super()._is_dispatching_thread() or self.realtime.is_receive_thread()

    def is_callback_thread(self) -> bool:
        """Whether the calling thread delivers this client's events (is inside a callback).

        Blocking helpers refuse to wait there; helpers built on the client
        (such as :func:`realtime_sync.history.restore_history`) check it too.
        """
        return self._is_dispatching_thread()

    def _wants(self, name: str) -> bool:
        """Whether anything would receive a dispatch of ``name`` now (listeners or the events() queue)."""
        if self.has_listeners(name):
            return True
        event_queue = self._event_queue
        return event_queue is not None and name in event_queue.names

    def _emit(self, name: str, payload: Any) -> None:
        """Dispatch a client-level event to callbacks, waiters and the events() queue."""
        self.dispatch(name, payload)
        event_queue = self._event_queue
        if event_queue is not None:
            event_queue.offer(name, payload)

    def _on_server_event(self, wire_event: ServerEvent) -> None:
        """RealtimeAPI's ``on_server_event`` hook (receive thread): the inbound route."""
        if wire_event.get("type") == "error" and isinstance(wire_event.get("error"), dict):
            with self._turn_mode():  # a refused session.update no longer decides the turn mode
                self._settings.effective.rejected(wire_event["error"].get("event_id"))
        self._inbound.handle(wire_event)

    def _on_realtime_error(self, payload: Dict[str, Any]) -> None:
        """A malformed frame reported by the socket layer: pass it on."""
        self._emit("error", payload)

    def _on_realtime_close(self, payload: CloseEvent) -> None:
        self._end_connection(payload)

    def _on_session(self, event: ServerEvent) -> None:
        """``session.created`` / ``session.updated`` (receive thread)."""
        session = event.get("session")
        with self._turn_mode():
            self._settings.effective.answered(event.get("type"), session)
        if isinstance(session, dict):
            self.session = session
            try:
                self._apply_formats(session)
            except RealtimeError as exc:
                self._inbound.report(exc, event)
        if event.get("type") == "session.created":
            with self._state_lock:
                self._session_created = True
            self._wake_waiters(_SESSION_CREATED, True)

    def _apply_formats(self, session: Dict[str, Any]) -> None:
        """Point the conversation at the audio formats named in ``session``."""
        for key in ("input_audio_format", "output_audio_format"):
            value = session.get(key)
            if value in _audio.AUDIO_FORMATS and getattr(self.conversation, key) != value:
                setattr(self.conversation, key, value)
                if key == "input_audio_format":
                    self._input_audio.restart()  # offsets counted at the old rate

    def _end_connection(self, payload: CloseEvent) -> None:
        """The connection is over: fail waiters and requests, stop the tools, dispatch ``close`` once."""
        with self._state_lock:
            if not self._live:
                return
            self._live = False
            self._session_created = False
            tag = self._tag
        self._responses.close()
        self._tools.close()
        self._input_audio.restart()
        code = payload.get("code") if isinstance(payload, dict) else None
        reason = payload.get("reason") if isinstance(payload, dict) else None
        detail = f" (code {code}{': ' + reason if reason else ''})" if code is not None else ""
        if code is None and reason:
            detail = f" ({reason})"
        error = ConnectionClosedError(f"the connection to the Realtime server closed{detail}", code=code, reason=reason)
        # Waiters for "close" itself are untagged: the close dispatch below wakes them.
        self._fail_waiters(tag, error)
        self._emit("close", payload)

    # -- connection ------------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open."""
        return bool(self.realtime.is_connected())

    def connect(self, timeout: Optional[float] = 10.0) -> bool:
        """Open the socket and send ``session.update`` with :attr:`session_config`.

        The conversation is cleared first: a new connection is a new session
        (after the server closed the old one, its items stay readable until here).

        Args:
            timeout: seconds to wait for the WebSocket handshake.

        Raises:
            RealtimeConnectionError: already connected, or the socket layer's
                error (refused, handshake status, timeout...).
        """
        if self.is_connected():
            raise RealtimeConnectionError("already connected; call disconnect() first")
        with self._state_lock:
            unfinished = self._live
        if unfinished:
            # The server closed the socket and the receive thread has not handled
            # "close" yet: let it finish first, or that late close would end the
            # new connection (this joins the old receive thread).
            self.realtime.disconnect()
            self._end_connection({"error": True, "code": None, "reason": None})
        self._tools.join_stopped()
        self.conversation.clear()
        self._sent.clear()
        self._input_audio.restart()
        self._responses.open()
        self._tools.open()
        with self._state_lock:
            self._live = True
            self._tag = object()
            self._session_created = False
            self.session = None
        self._settings.effective.restart()
        try:
            if self.model is None:
                self.realtime.connect(timeout=timeout)
            else:
                self.realtime.connect(model=self.model, timeout=timeout)
        except BaseException:
            with self._state_lock:
                self._live = False
            self._responses.close()
            self._tools.close()
            raise
        self._send_session(self._settings.connect_payload(self.realtime.protocol, self._tools.definitions()))
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
        if not self._is_dispatching_thread():
            self._tools.join_stopped()

    def reset(self) -> None:
        """Disconnect, remove every callback (here and on :attr:`realtime`) and restore the default config."""
        self.disconnect()
        self.clear_event_handlers()
        self.realtime.clear_event_handlers()
        self._event_queue = None
        self._settings.restore_defaults()
        self._tools.clear()
        self._apply_formats(self._settings.config)
        self._add_api_event_handlers()

    def __enter__(self) -> "RealtimeClient":
        if not self.is_connected():
            self.connect()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.disconnect()

    # -- session and tools -------------------------------------------------------------

    def get_turn_detection_type(self) -> Optional[str]:
        """The turn detection in force: ``"server_vad"``, ``"semantic_vad"``, or ``None`` for manual turns.

        While connected it follows the server's session (``session.created`` /
        ``session.updated``), or a change sent and not yet answered; a
        ``turn_detection`` dict without ``type`` is server VAD. Before the
        server said, the stored setting (on GA, unset means the server's
        default: server VAD).
        """
        return self._settings.turn_detection_type(self.realtime.protocol, self.realtime.is_connected())

    def update_session(self, **config: Any) -> bool:
        """Store session settings and, when connected, send those in ``session.update``.

        Both spellings are accepted, on either wire dialect: the reference's
        flat keys (``instructions``, ``voice``, ``modalities``,
        ``input_audio_format``, ``output_audio_format``,
        ``input_audio_transcription``, ``turn_detection``, ``tools``,
        ``tool_choice``, ``temperature``, ``max_response_output_tokens``...)
        and GA's (``type="realtime"``, ``output_modalities``,
        ``audio={"input": {"format", "noise_reduction", "transcription",
        "turn_detection"}, "output": {"format", "voice", "speed"}}``,
        ``max_output_tokens``, ``tool_choice`` objects, ``prompt``,
        ``tracing``, ``truncation``, ``include``...). They are stored in the
        flat spelling (:attr:`session_config`); only the settings given are
        sent (with the registered tools when ``tools`` is given). Without
        arguments every setting is sent again (on GA: every setting the
        caller set). Tools given here are plain definitions (nothing runs
        them); tools added with :meth:`add_tool` are merged in.

        Raises:
            ConfigurationError: an unknown setting, one given in both
                spellings, an unknown audio format, a ``turn_detection`` that
                is not a dict or ``None``, a tool without a name, or a tool
                name given twice or already added with :meth:`add_tool`.
                Nothing is stored or sent then.
        """
        checked = self._settings.check(config, self._tools.table())
        with self._turn_mode():
            self._settings.update(checked)
        self._apply_formats(checked)
        if self.realtime.is_connected():
            registered = self._tools.definitions()
            if config:
                session = self._settings.payload(registered, checked)
            else:
                session = self._settings.connect_payload(self.realtime.protocol, registered, resend=True)
            self._send_session(session)
        return True

    def _send_session(self, session: Dict[str, Any]) -> None:
        """Send ``session.update``, noted first as unanswered (its answer may beat the return)."""
        event_id = generate_id("evt_")
        with self._turn_mode():
            self._settings.effective.sending(event_id, session)
        try:
            self._send("session.update", {"event_id": event_id, "session": session})
        except BaseException:
            with self._turn_mode():
                self._settings.effective.rejected(event_id)
            raise

    @contextlib.contextmanager
    def _turn_mode(self) -> Iterator[None]:
        """Around a change that may switch turn detection on or off: drop the other mode's audio."""
        was_vad = self.get_turn_detection_type() is not None
        yield
        if was_vad != (self.get_turn_detection_type() is not None):
            self._input_audio.mode_changed()

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
        if isinstance(name, str) and self._settings.defines_tool(name):
            raise ConfigurationError(f'tool "{name}" is already defined in session_config["tools"]')
        stored = self._tools.add(definition, handler)
        if self.realtime.is_connected():
            self.update_session()
        return {"definition": stored, "handler": handler}

    def remove_tool(self, name: str) -> bool:
        """Unregister a tool (and update the session when connected).

        Raises:
            ConfigurationError: no tool of that name was added.
        """
        self._tools.remove(name)
        if self.realtime.is_connected():
            self.update_session()
        return True

    @property
    def tools(self) -> Dict[str, Dict[str, Any]]:
        """The registered tools: ``{name: {"definition", "handler"}}`` (a new dict)."""
        return self._tools.table()

    # -- conversation --------------------------------------------------------------------

    def create_item(self, item: Dict[str, Any], *, event_id: Optional[str] = None) -> str:
        """Add ``item`` to the server's conversation (``conversation.item.create``); request no response.

        The server confirms with ``conversation.item.created`` (dispatched here
        as ``conversation.item.appended``) or rejects it with an ``error``
        naming the event id. Safe from any thread.

        Args:
            item: the item, in the beta model (``{"type": "message", "role":
                "user", "content": [...]}``, a ``function_call_output``...).
            event_id: the client event id to send it with (default: a new
                one); give one to match the server's answer to it.

        Returns:
            The event id it was sent with.

        Raises:
            ConfigurationError: ``item`` is not a dict with a ``type``.
            NotConnectedError: not connected.
        """
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ConfigurationError(f'item must be a dict with a "type", got {item!r}')
        data: Dict[str, Any] = {"item": item}
        if event_id is not None:
            data["event_id"] = event_id
        return str(self._send("conversation.item.create", data)["event_id"])

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

        :func:`realtime_sync.history.export_items` of the conversation's items:
        text, transcripts and function calls; no ids, audio, or unfinished
        items. Give it to :meth:`restore_history` in a later session.
        """
        return _history.export_items(self.conversation.get_items())

    def restore_history(self, history: Sequence[Dict[str, Any]], *, timeout: Optional[float] = 10.0) -> List[Item]:
        """Create the items of an exported history in this session and wait until the server has them.

        See :func:`realtime_sync.history.restore_history` (arguments, return
        value and errors); requests no response.
        """
        return _history.restore_history(self, history, timeout=timeout)

    def send_user_message_content(self, content: Any = None) -> bool:
        """Send a user message made of content parts, then request a response.

        Args:
            content: a list of parts such as ``{"type": "input_text", "text":
                "hi"}`` or ``{"type": "input_audio", "audio": samples}``, where
                audio may be base64 text or samples (int16/float numpy array
                or pcm16 bytes) at the input format's rate, which are encoded
                for the input format, or ``{"type": "input_image", "image":
                ...}`` with PNG/JPEG/GIF/WebP bytes, a path or a data URL (sent
                as ``image_url``, a data URL; GA only). The caller's list and
                dicts are not modified. An empty list only requests a response.

        Raises:
            ConfigurationError: ``content`` is not a list of dicts with a
                ``type``, or an image that cannot be read or recognised.
            TypeError, ValueError: audio that cannot be converted.
            NotConnectedError: not connected.
        """
        parts = prepare_content(content, self.conversation.input_audio_format)
        if not self.realtime.is_connected():
            raise NotConnectedError("not connected; call connect() first")
        self._send_user_message(parts, None)
        return True

    def send_text(self, text: str) -> bool:
        """Send ``text`` as a user message and request a response."""
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        return self.send_user_message_content([{"type": "input_text", "text": text}])

    def _send_user_message(self, parts: List[Dict[str, Any]], ask: Optional[Ask]) -> None:
        # Manual turns: audio appended before this message is committed first, so it
        # becomes its own user item (which takes the samples), ahead of this one.
        self._commit_pending_audio(ask)
        if parts:
            self._send(
                "conversation.item.create",
                {"item": {"type": "message", "role": "user", "content": parts}},
                ask,
            )
        self._responses.request(Ticket(ask=ask))

    # -- input audio -----------------------------------------------------------------------

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
        if pcm.shape[0] == 0:
            return True
        input_format = self.conversation.input_audio_format
        payload = {"audio": _audio.encode_audio(pcm, input_format)}
        manual = self.get_turn_detection_type() is None
        # Record before sending (a speech event may follow the frame at once), in wire order.
        with self._input_audio.order:
            if not self.realtime.is_connected():
                raise NotConnectedError("not connected; call connect() first")
            self._input_audio.record(pcm, manual=manual, rate=_audio.sample_rate(input_format))
            self._send("input_audio_buffer.append", payload)
        return True

    def clear_input_audio(self) -> bool:
        """Drop uncommitted input audio here and on the server (``input_audio_buffer.clear``)."""
        self._send("input_audio_buffer.clear")
        self._input_audio.clear_pending()
        return True

    def _commit_pending_audio(self, ask: Optional[Ask] = None) -> None:
        """Manual turns: commit the audio appended so far and queue it for the user item."""
        if self.get_turn_detection_type() is not None:
            return
        pending = self._input_audio.take_pending()
        if pending is None:
            return
        # Queue first: the user item may be created as soon as the commit lands.
        self.conversation.queue_input_audio(pending)
        self._send("input_audio_buffer.commit", None, ask)

    # -- responses ---------------------------------------------------------------------------

    def create_response(self, response: Optional[Dict[str, Any]] = None) -> bool:
        """Request a model response (``response.create``); never blocks. Safe from any thread.

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
        if not self.realtime.is_connected():
            raise NotConnectedError("not connected; call connect() first")
        self._commit_pending_audio()
        return self._responses.request(Ticket(options=_deep_copy(response)))

    def cancel_response(self, id: Optional[str] = None, sample_count: int = 0) -> Optional[Item]:  # noqa: A002
        """Stop the response in progress and, for audio, cut the item to what was heard.

        Safe from any thread, including callbacks. Requests queued behind the
        active response are dropped too (an :meth:`ask` waiting on one returns
        ``None``).

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
        if not self.realtime.is_connected():
            raise NotConnectedError("not connected; call connect() first")
        if id is None:
            self._cancel_active()
            return None
        item = self.conversation.get_item(id) if isinstance(id, str) else None
        rate = _audio.sample_rate(self.conversation.output_audio_format)
        audio_index, audio_end_ms = truncate_point(item, id, sample_count, rate)
        self._cancel_active()
        if audio_index is not None and audio_end_ms > 0:
            self._send(
                "conversation.item.truncate",
                {"item_id": id, "content_index": audio_index, "audio_end_ms": audio_end_ms},
            )
        return item

    def _cancel_active(self) -> None:
        for ticket in self._responses.drop_queued():
            if ticket.ask is not None:
                ticket.ask.resolve({"status": "cancelled", "output": []})
        if self._responses.busy():
            self._send("response.cancel")

    def active_response_id(self) -> Optional[str]:
        """The id of the response being generated, or ``None``."""
        return self._responses.active_response_id()

    def reset_responses(self) -> int:
        """Forget every response requested, active or queued, and fail the :meth:`ask` calls waiting on them.

        For a server that never sends ``response.done``: the next
        :meth:`create_response` is sent at once instead of queueing behind a
        response that will never end. Sends nothing (call
        :meth:`cancel_response` first to stop a response the server may still
        be generating). Returns how many requests were forgotten.
        """
        tickets = self._responses.reset()
        error = RealtimeError("the response was abandoned by reset_responses()")
        for ticket in tickets:
            if ticket.ask is not None:
                ticket.ask.fail(error)
        return len(tickets)

    # -- blocking helpers ------------------------------------------------------------------

    def wait_for_session_created(self, timeout: Optional[float] = None) -> Optional[bool]:
        """Block until the server's ``session.created`` (at once if already there).

        Returns:
            ``True``, or ``None`` when ``timeout`` seconds ran out.

        Raises:
            NotConnectedError: not connected.
            ConnectionClosedError: the connection ended while waiting.
            RuntimeError: called from inside a callback (the receive thread).
        """
        result: Optional[bool] = self._wait(_SESSION_CREATED, timeout, "wait_for_session_created")
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

    def wait_for_next(self, name: str, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """Block until the next event ``name`` this client dispatches, and return its payload.

        As :meth:`EventHandler.wait_for_next <realtime_sync.events.EventHandler.wait_for_next>`
        (``None`` on timeout, ``RuntimeError`` from inside a callback), and
        while connected it also raises
        :class:`~realtime_sync.errors.ConnectionClosedError` when the connection
        ends (except when waiting for ``"close"`` itself, which returns the
        close payload). Wire events are waited for on :attr:`realtime`
        (``client.realtime.wait_for_next("server.response.done")``).
        """
        if not isinstance(name, str):
            raise TypeError(f"event name must be a str, not {type(name).__name__}")
        with self._state_lock:
            live = self._live
        if not live or name == "close":
            return super().wait_for_next(name, timeout)
        payload: Optional[Dict[str, Any]] = self._wait(name, timeout, "wait_for_next")
        return payload

    def _refuse_to_block(self, name: str) -> None:
        if self._is_dispatching_thread():
            raise RuntimeError(
                f"{name}() was called on the thread that delivers this client's events "
                "(from inside a callback); it would wait for ever. Call it from another "
                "thread, or react to the event in a callback instead."
            )

    def _wait(self, name: str, timeout: Optional[float], what: str) -> Any:
        """Wait for the next ``name`` with a waiter tagged with this connection."""
        self._refuse_to_block(what)
        with self._state_lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            if name == _SESSION_CREATED and self._session_created:
                return True
            waiter = self._add_waiter(name, tag=self._tag)
        return self._await_waiter(name, waiter, timeout)

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
            The item, or ``None`` if the response produced no item.

        Raises:
            RealtimeTimeoutError: ``timeout`` ran out (the response goes on:
                :meth:`cancel_response` stops it).
            ServerError: the server rejected the message or the response, or
                the response failed.
            ConnectionClosedError: the connection ended while waiting.
            NotConnectedError: not connected.
            RuntimeError: called from inside a callback (the receive thread).
        """
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        self._refuse_to_block("ask")
        with self._state_lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            ask = Ask(self._tag)
            self._track(ask)
        try:
            self._send_user_message([{"type": "input_text", "text": text}], ask)
            finished = ask.wait(timeout)
        finally:
            self._untrack(ask)
            self._sent.forget_handle(ask)
        if not finished:
            raise RealtimeTimeoutError(
                f"ask() waited {timeout:g} s for the reply to {_preview(text)} and it did not finish "
                "(the response goes on; cancel_response() stops it, or pass a longer timeout)"
            )
        if ask.error is not None:
            raise ask.error
        response: Dict[str, Any] = ask.payload or {}
        if response.get("status") == "failed":
            details = response.get("status_details") or {}
            error = details.get("error") if isinstance(details, dict) else None
            if not isinstance(error, dict):
                error = {"type": "response_failed", "message": "the response failed"}
            raise ServerError(dict(error))
        return pick_reply(response, self.conversation.get_item)

    def events(self, maxsize: int = 1000, *, include_realtime_events: bool = False) -> "queue.Queue[Tuple[str, Any]]":
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
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigurationError(f"maxsize must be a positive int, got {maxsize!r}")
        with self._state_lock:
            if self._event_queue is None:
                names = CLIENT_EVENTS + (("realtime.event",) if include_realtime_events else ())
                self._event_queue = EventQueue(maxsize, names)
            return self._event_queue.queue

    @property
    def events_dropped(self) -> int:
        """How many events the :meth:`events` queue dropped because it was full."""
        event_queue = self._event_queue
        return event_queue.dropped if event_queue is not None else 0


def _deep_copy(value: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return copy.deepcopy(value) if value is not None else None


def _preview(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
