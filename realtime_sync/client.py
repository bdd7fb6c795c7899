"""RealtimeClient: the application control flow over one Realtime session.

The synchronous counterpart of the JavaScript reference client
(``lib/client.js`` in ``openai/openai-realtime-api-beta``): it owns a
:class:`~realtime_sync.api.RealtimeAPI` (the socket) and a
:class:`~realtime_sync.conversation.Conversation`, keeps the session
settings, runs tools, and offers blocking helpers. It holds small parts from
``realtime_sync._session`` and delegates to them (ARCHITECTURE.md draws them).

Blocking helpers: ``timeout`` is float seconds, ``None`` for ever. On timeout
the ``wait_for_*`` helpers return ``None`` (as the reference does), ``ask()``
and ``restore_history()`` raise ``RealtimeTimeoutError``; all raise
``ConnectionClosedError`` when the connection ends while they wait,
``NotConnectedError`` when not connected, ``RuntimeError`` inside a callback.
"""

from __future__ import annotations

import queue
from typing import Any, ContextManager, Dict, List, Optional, Sequence, Tuple, Union, cast

from . import audio as _audio
from ._session.appender import Appender
from ._session.control import SessionControl
from ._session.inbound import Inbound
from ._session.input_audio import InputAudio
from ._session.lifecycle import Lifecycle
from ._session.outbound import Outbound, mcp_approval_item, prepare_content, truncate_point
from ._session.outlet import Outlet
from ._session.reconnect import ReconnectPolicy
from ._session.requests import Ask, ResponseQueue, Ticket, pick_reply
from ._session.sent import SentEvents
from ._session.settings import DEFAULT_SERVER_VAD_CONFIG, DEFAULT_SESSION_CONFIG, SessionSettings, check_seconds, copy_config
from ._session.tools import ToolBox
from ._transport.loop import ReceiveLoop
from .api import RealtimeAPI
from .conversation import Conversation
from .errors import ConfigurationError, NotConnectedError
from .events import EventHandler, Waiter, check_timeout
from .recording import ClientRecording, Recorder
from .types import Item, ServerEvent, ToolHandler

__all__ = ["RealtimeClient", "ReconnectPolicy", "DEFAULT_SESSION_CONFIG", "DEFAULT_SERVER_VAD_CONFIG", "ToolHandler"]

# The name under which wait_for_session_created() waits (never dispatched to callbacks).
_SESSION_CREATED = "_session.created"


class RealtimeClient(EventHandler):
    """A Realtime API session with conversation state, tools and blocking helpers.

    Args:
        url: the WebSocket URL (default: OpenAI's; a simulator's ``.url``).
        api_key: the API key (on OpenAI's endpoint, default ``OPENAI_API_KEY``).
        model: the model to request at :meth:`connect` (``None``: the default).
        call_id: attach to a SIP call's session (accepted with
            :func:`realtime_sync.rest.accept_call`): ``call_id=`` replaces ``model=`` in the URL.
        debug: log every event sent and received (DEBUG, audio redacted).
        headers, query: extra handshake headers and URL query parameters.
        tool_timeout: seconds a tool handler may run (``None``: no limit).
        input_audio_window: seconds of input audio kept in server-VAD mode.
        response_start_timeout: seconds a ``response.create`` may go unanswered
            before it is given up (its :meth:`ask` fails, the queue moves on).
        reconnect: ``True`` or a :class:`ReconnectPolicy`: reconnect after an
            unexpected close or a session expiry (see the README). Meanwhile
            sends raise ReconnectingError and :meth:`ask` waits (within its timeout).
        record: a file to record every frame of each connection to (JSON Lines,
            :mod:`realtime_sync.recording`; no key, no headers); see :meth:`record`.
        record_audio: keep audio in the recording (``False``: its length only).
        receive_loop: a :class:`~realtime_sync.ReceiveLoop` shared by many clients: one
            thread reads all their sockets and runs all their callbacks (``None``: a thread
            per connection). Blocking helpers then refuse to run in any callback on it.
        **api_options: for :class:`~realtime_sync.api.RealtimeAPI` (``protocol``, pings...).

    Attributes ``realtime`` (the socket layer) and ``conversation``. The
    constructor starts no thread; :meth:`connect` does.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        model: Optional[str] = None,
        call_id: Optional[str] = None,
        debug: bool = False,
        headers: Optional[Dict[str, str]] = None,
        query: Optional[Dict[str, str]] = None,
        tool_timeout: Optional[float] = 30.0,
        input_audio_window: float = 60.0,
        response_start_timeout: Optional[float] = 30.0,
        reconnect: Union[bool, ReconnectPolicy] = False,
        record: Optional[str] = None,
        record_audio: bool = True,
        receive_loop: Optional[ReceiveLoop] = None,
        **api_options: Any,
    ) -> None:
        super().__init__()
        check_seconds("tool_timeout", tool_timeout)
        check_seconds("response_start_timeout", response_start_timeout)
        check_seconds("input_audio_window", input_audio_window, optional=False)
        self.model = model
        if call_id is not None:
            if not isinstance(call_id, str) or not call_id.strip():
                raise ConfigurationError(f"call_id must be a call's id (rtc_...), not {call_id!r}")
            query = {**(query or {}), "call_id": call_id}
        self.call_id = call_id  # the SIP call this client attaches to, or None
        self.tool_timeout = tool_timeout
        self.input_audio_window = float(input_audio_window)
        self.conversation = Conversation()
        self._outlet = Outlet(self.dispatch, self.has_listeners)
        self._emit = self._outlet.emit
        self._settings = SessionSettings()
        self._sent = SentEvents()
        self._recording = ClientRecording(record, record_audio=record_audio)  # hooked before the inbound route
        hook = self._recording.hook(self._on_server_event)
        self.realtime = RealtimeAPI(url, api_key, debug=debug, headers=headers, query=query, on_server_event=hook,
                                    receive_loop=receive_loop, **api_options)
        self._outbound = Outbound(
            self.realtime, self._sent, self._emit, self._outlet.wants, lambda kind: self._refuse_if_reconnecting(f"send {kind!r}")
        )
        self._send = self._outbound.send
        self._responses = ResponseQueue(self._send, answer_timeout=response_start_timeout)
        self._input_audio = InputAudio(input_audio_window)
        self._tools = ToolBox(tool_timeout, self._send, self._responses)
        self._inbound = Inbound(
            conversation=self.conversation, responses=self._responses, input_audio=self._input_audio,
            tools=self._tools, sent=self._sent, protocol=lambda: self.realtime.protocol, emit=self._emit,
            wants=self._outlet.wants, on_session_created=lambda: self._lifecycle.session_created(),
        )
        self._session_control = SessionControl(
            self._settings, self.realtime, self._send, self._tools, self._input_audio, self._inbound.apply_formats
        )
        policy = reconnect if isinstance(reconnect, ReconnectPolicy) else ReconnectPolicy() if reconnect else None
        self._lifecycle = Lifecycle(
            realtime=self.realtime, model=lambda: self.model, conversation=self.conversation, sent=self._sent,
            responses=self._responses, tools=self._tools, input_audio=self._input_audio, inbound=self._inbound,
            session_control=self._session_control, recording=self._recording, fail_waiters=self._fail_waiters,
            wake_session_created=lambda: self._wake_waiters(_SESSION_CREATED, True), emit=self._emit,
            is_dispatching_thread=self._is_dispatching_thread, reconnect=policy, replay=self.restore_history,
            snapshot=self.export_history,
        )
        self._reconnector = self._lifecycle.reconnector
        self._appender = Appender(
            realtime=self.realtime, conversation=self.conversation, input_audio=self._input_audio, sent=self._sent,
            send=self._send, own_listener=self._outbound.on_wire_client_event, wants=self._outlet.wants,
            emit=self._emit, turn_detection=self._session_control.turn_detection_type, reconnector=self._reconnector,
        )
        self._add_api_event_handlers()

    def __repr__(self) -> str:
        state = "connected" if self.is_connected() else "disconnected"
        return f"<RealtimeClient {self.realtime.url!r} {state}>"

    @property
    def session_config(self) -> Dict[str, Any]:
        """The session settings sent with ``session.update`` (plus the tools of :meth:`add_tool`)."""
        return self._settings.config

    @property
    def session(self) -> Optional[Dict[str, Any]]:
        """The last session object the server sent (``session.created`` / ``session.updated``), or ``None``."""
        return self._inbound.session

    # -- wiring --------------------------------------------------------------------

    def _add_api_event_handlers(self) -> None:
        """Register the client's listeners on the socket layer (before any user's)."""
        self.realtime.on("client.*", self._outbound.on_wire_client_event)
        self.realtime.on("error", self._on_realtime_error)
        self.realtime.on("close", self._on_realtime_close)

    def _is_dispatching_thread(self) -> bool:
        return super()._is_dispatching_thread() or self.realtime.is_receive_thread()

    def is_callback_thread(self) -> bool:
        """Whether the calling thread delivers this client's events (a callback), where nothing may block."""
        return self._is_dispatching_thread()

    def _on_server_event(self, wire_event: ServerEvent) -> None:  # RealtimeAPI's hook, receive thread
        self._session_control.server_event(wire_event)  # the effective session first
        self._inbound.handle(wire_event)

    def _on_realtime_error(self, payload: Dict[str, Any]) -> None:  # a frame the socket layer refused
        self._emit("error", payload)

    def _on_realtime_close(self, payload: Dict[str, Any]) -> None:  # the socket ended (receive thread)
        self._lifecycle.closed(payload)

    # -- connection ------------------------------------------------------------------

    def is_connected(self) -> bool:
        """Whether the socket is open."""
        return self.realtime.is_connected()

    def is_reconnecting(self) -> bool:
        """Whether a reconnection is under way (from the drop until ``reconnected``, the replay included)."""
        return self._reconnector is not None and self._reconnector.active

    @property
    def reconnect_policy(self) -> Optional[ReconnectPolicy]:
        """The :class:`ReconnectPolicy` in force, or ``None`` (``reconnect=False``)."""
        return self._reconnector.policy if self._reconnector is not None else None

    def wait_for_reconnection(self, timeout: Optional[float] = None) -> bool:
        """Block while a reconnection is under way; ``True`` if connected then (at once when not reconnecting)."""
        self._refuse_to_block("wait_for_reconnection")
        check_timeout(timeout)
        return (self._reconnector is None or self._reconnector.wait(timeout)) and self.is_connected()

    def _refuse_if_reconnecting(self, what: str, *, connected: bool = False) -> None:
        """Raise ReconnectingError while reconnecting (off its worker); with ``connected``, NotConnectedError too."""
        refusal = self._reconnector.refusal(what) if self._reconnector is not None else None
        if refusal is not None:
            raise refusal
        if connected and not self.realtime.is_connected():
            raise NotConnectedError("not connected; call connect() first")

    def connect(self, timeout: Optional[float] = 10.0) -> bool:
        """Open the socket (``timeout``: seconds for the handshake) and send ``session.update``.

        The conversation is cleared first: a new connection is a new session.

        Raises:
            RealtimeConnectionError: already connected, or the socket layer's
                error (refused, handshake status, timeout...).
        """
        return self._lifecycle.connect(timeout)

    def disconnect(self) -> None:
        """Close the socket, wake every blocked helper, clear the conversation. Idempotent; any thread."""
        self._lifecycle.disconnect()

    def reset(self) -> None:
        """Disconnect, remove every callback (here and on :attr:`realtime`) and restore the default config."""
        self.disconnect()
        self.clear_event_handlers()
        self.realtime.clear_event_handlers()
        self._outlet.drop_queue()
        self._settings.restore_defaults()
        self._tools.clear()
        self._inbound.apply_formats(self._settings.config)
        self._add_api_event_handlers()

    def record(self, path: str, *, record_audio: bool = True) -> ContextManager[Recorder]:
        """Record every frame to ``path`` during a ``with`` block (see ``record=``); one recording at a time."""
        return self._recording.recording(self.realtime, path, record_audio=record_audio)

    def __enter__(self) -> "RealtimeClient":
        if not self.is_connected():
            self.connect()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.disconnect()

    # -- session and tools -------------------------------------------------------------

    def get_turn_detection_type(self) -> Optional[str]:
        """``"server_vad"``, ``"semantic_vad"`` or ``None`` (manual turns), as the server's session says.

        (Or a change not yet answered; before the server said, the stored setting: unset on GA is server VAD.)
        """
        return self._session_control.turn_detection_type()

    def update_session(self, **config: Any) -> bool:
        """Store session settings and, when connected, send exactly those (``session.update``).

        Flat keys (``instructions``, ``voice``, ``modalities``, ``turn_detection``...)
        or GA's (``type``, ``output_modalities``, ``audio={"input": {...}, "output":
        {...}}``, ``max_output_tokens``, ``prompt``...), on either wire; stored flat
        in :attr:`session_config`. No arguments: every setting again (GA: those set,
        and the tools). Tools added with :meth:`add_tool` are merged into ``tools``.

        Raises ConfigurationError (nothing stored or sent) for an unknown setting,
        one given both ways, or a bad format, ``turn_detection``, voice or tool.
        """
        self._refuse_if_reconnecting("update_session()")  # before anything is stored
        self._session_control.update(config)
        return True

    def add_tool(self, definition: Dict[str, Any], handler: ToolHandler) -> Dict[str, Any]:
        """Register a tool (``{"name", "description", "parameters"}``) and run ``handler`` for its calls.

        ``handler(arguments)`` runs on the tool worker thread with the parsed
        arguments; its result is JSON-encoded as the call's output (bad JSON,
        an exception or ``tool_timeout`` give ``{"error": ...}``). Once the
        response has finished and every call in it has its output, one
        ``response.create`` lets the model use them. Returns
        ``{"definition", "handler"}``; ConfigurationError for no name, a
        handler that is not callable, or a name already taken.
        """
        self._refuse_if_reconnecting("add_tool()")
        name = definition.get("name") if isinstance(definition, dict) else None
        if isinstance(name, str) and self._settings.defines_tool(name):
            raise ConfigurationError(f'tool "{name}" is already defined in session_config["tools"]')
        stored = self._tools.add(definition, handler)
        if self.realtime.is_connected():
            self.update_session()
        return {"definition": stored, "handler": handler}

    def remove_tool(self, name: str) -> bool:
        """Unregister a tool (and update the session). Raises ConfigurationError if unknown."""
        self._refuse_if_reconnecting("remove_tool()")
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
        """Send ``conversation.item.create`` for ``item`` (beta model), no response; return the event id.

        The server answers ``conversation.item.created`` (``conversation.item.appended``
        here) or an ``error`` naming ``event_id`` (default: a new one). Any thread.
        """
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ConfigurationError(f'item must be a dict with a "type", got {item!r}')
        data: Dict[str, Any] = {"item": item}
        if event_id is not None:
            data["event_id"] = event_id
        return str(self._send("conversation.item.create", data)["event_id"])

    def answer_mcp_approval(self, approval_request_id: str, approve: bool, *, reason: Optional[str] = None) -> str:
        """Answer an ``mcp_approval_request`` item with an ``mcp_approval_response``; return the event id.

        Requests no response: call :meth:`create_response` next (the approved call runs in it).
        """
        return self.create_item(mcp_approval_item(approval_request_id, approve, reason))

    def delete_item(self, id: str) -> bool:  # noqa: A002 - the reference's name
        """Ask the server to delete an item; the conversation drops it at ``conversation.item.deleted``."""
        if not isinstance(id, str) or not id:
            raise ConfigurationError(f"item id must be a non-empty string, got {id!r}")
        self._send("conversation.item.delete", {"item_id": id})
        return True

    def export_history(self) -> List[Dict[str, Any]]:
        """The conversation as a JSON-serialisable history (:func:`realtime_sync.history.export_items`)."""
        from . import history  # only programs that save or restore a history import it

        return history.export_items(self.conversation.get_items())

    def restore_history(self, history: Sequence[Dict[str, Any]], *, timeout: Optional[float] = 10.0) -> List[Item]:
        """Create an exported history's items here; see :func:`realtime_sync.history.restore_history`."""
        from .history import restore_history

        return cast(List[Item], restore_history(self, history, timeout=timeout))

    def send_user_message_content(self, content: Any = None) -> bool:
        """Send a user message of content parts (``input_text``, ``input_audio`` with base64 or
        samples at the input rate, ``input_image`` from bytes, a path or a data URL), then
        request a response; ``[]`` only requests one."""
        parts = prepare_content(content, self.conversation.input_audio_format)
        self._refuse_if_reconnecting("send a user message", connected=True)
        self._send_user_message(parts, None)
        return True

    def send_text(self, text: str) -> bool:
        """Send ``text`` as a user message and request a response."""
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        return self.send_user_message_content([{"type": "input_text", "text": text}])

    def _send_user_message(self, parts: List[Dict[str, Any]], ask: Optional[Ask]) -> None:
        # Manual turns: audio appended before this message is committed first, as its own item.
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
        """Send input audio: int16 or float samples, or pcm16 bytes, mono at the input rate.

        With turn detection off it is kept until :meth:`create_response`
        commits it; in server-VAD mode the last ``input_audio_window`` seconds
        are kept to cut speech out of.
        """
        return self._appender.append(samples)

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
        """Request a response (``response`` settings optional); never blocks. Safe from any thread.

        With turn detection off, pending input audio is committed first. While
        a response is requested or active, the request is queued and sent when
        it ends. Returns ``True`` if sent now, ``False`` if queued.
        """
        if response is not None and not isinstance(response, dict):
            raise ConfigurationError("response must be a dict of response settings")
        self._refuse_if_reconnecting("create a response", connected=True)
        options = copy_config(response, "the response settings")
        self._commit_pending_audio()
        return self._responses.request(Ticket(options=options))

    def cancel_response(self, id: Optional[str] = None, sample_count: int = 0) -> Optional[Item]:  # noqa: A002
        """Stop the response in progress and, for audio, cut the item to what was heard. Any thread.

        Sends ``response.cancel`` if a response is requested or active and
        drops queued requests (an :meth:`ask` waiting on one returns ``None``).
        With ``id`` (an assistant message) and ``sample_count`` (samples
        played), also sends ``conversation.item.truncate`` with ``audio_end_ms
        = floor(sample_count / rate * 1000)``, capped at the audio received.
        Returns the item. Raises UnknownItemError (no such item) or
        ConfigurationError (not an assistant message, bad ``sample_count``).
        """
        self._refuse_if_reconnecting("cancel a response", connected=True)
        if id is None:
            self._responses.cancel()
            return None
        rate = _audio.sample_rate(self.conversation.output_audio_format)
        with self.conversation._lock:  # measured between two deltas: a resize shows the audio empty for an instant
            item = self.conversation.get_item(id) if isinstance(id, str) else None
            audio_index, audio_end_ms = truncate_point(item, id, sample_count, rate)
        self._responses.cancel()
        if audio_index is not None and audio_end_ms > 0:
            self._send(
                "conversation.item.truncate",
                {"item_id": id, "content_index": audio_index, "audio_end_ms": audio_end_ms},
            )
        return cast(Item, item)

    def active_response_id(self) -> Optional[str]:
        """The id of the response being generated, or ``None``."""
        return self._responses.active_response_id()

    def reset_responses(self) -> int:
        """Forget every response requested, active or queued; fail the :meth:`ask` calls waiting on them.

        For a server that never sends ``response.done``: the next request is
        sent at once. Sends nothing. Returns how many were forgotten.
        """
        return self._responses.reset()

    # -- blocking helpers ------------------------------------------------------------------

    def wait_for_session_created(self, timeout: Optional[float] = None) -> Optional[bool]:
        """Block until the server's ``session.created`` (at once if already there): ``True``, or ``None`` on timeout."""
        result: Optional[bool] = self._wait(_SESSION_CREATED, timeout, "wait_for_session_created")
        return result

    def wait_for_next_item(self, timeout: Optional[float] = None) -> Optional[Item]:
        """Block until the next item is appended to the conversation and return it (``None`` on timeout)."""
        payload = self._wait("conversation.item.appended", timeout, "wait_for_next_item")
        return payload["item"] if payload is not None else None

    def wait_for_next_completed_item(self, timeout: Optional[float] = None) -> Optional[Item]:
        """Block until the next item is completed and return it (``None`` on timeout)."""
        payload = self._wait("conversation.item.completed", timeout, "wait_for_next_completed_item")
        return payload["item"] if payload is not None else None

    def wait_for_next(self, name: str, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The payload of the next event ``name`` this client dispatches (``None`` on timeout).

        While connected, ConnectionClosedError when the connection ends (``"close"``
        returns its payload). Wire events are waited for on :attr:`realtime`.
        """
        if not isinstance(name, str):
            raise TypeError(f"event name must be a str, not {type(name).__name__}")
        if not self._lifecycle.live or name == "close" or self.is_reconnecting():  # a plain wait (reconnected, ...)
            return super().wait_for_next(name, timeout)
        payload: Optional[Dict[str, Any]] = self._wait(name, timeout, "wait_for_next")
        return payload

    def _refuse_to_block(self, name: str) -> None:
        if self._is_dispatching_thread():
            raise RuntimeError(
                f"{name}() was called inside a callback, on the thread that delivers this client's "
                "events: it would wait for ever. Call it from another thread, or react in a callback."
            )

    def _wait(self, name: str, timeout: Optional[float], what: str) -> Any:
        """Wait for the next ``name`` with a waiter tagged with this connection."""
        check_timeout(timeout)
        self._refuse_to_block(what)
        self._refuse_if_reconnecting(f"{what}()")

        def add_waiter(tag: object, session_created: bool) -> Optional[Waiter]:
            return None if name == _SESSION_CREATED and session_created else self._add_waiter(name, tag=tag)

        waiter = self._lifecycle.tagged(add_waiter)
        return True if waiter is None else self._await_waiter(name, waiter, timeout)

    def ask(self, text: str, timeout: Optional[float] = 60.0) -> Optional[Item]:
        """Send ``text`` as a user message and return the finished assistant item.

        The notebook helper: it requests a response (queued behind an active
        one), follows automatic tool calls to the response after them, and
        returns the last assistant message of the final response, ``formatted``
        complete (else its last item; ``None`` if it produced none; a cancelled
        response gives its partial item). ``timeout``: seconds for it all.

        Raises:
            RealtimeTimeoutError: ``timeout`` ran out (the response goes on), or the
                reconnection under way did not finish within it (nothing was sent).
            ServerError: the server rejected the message, or the response failed.
            ConnectionClosedError, NotConnectedError, RuntimeError: see "Blocking helpers".
        """
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        check_timeout(timeout)  # before anything is sent
        self._refuse_to_block("ask")
        if self._reconnector is not None:  # a reconnection under way: wait for it within the timeout
            timeout = self._reconnector.time_left("ask()", timeout)

        def track(tag: object, _session_created: bool) -> Ask:
            ask = Ask(tag)
            self._track(ask)
            return ask

        ask = self._lifecycle.tagged(track)
        try:
            self._send_user_message([{"type": "input_text", "text": text}], ask)
            response = ask.result(timeout, "ask()", text)
        finally:
            self._untrack(ask)
            self._sent.forget_handle(ask)
        return cast(Optional[Item], pick_reply(response, self.conversation.get_item))

    def events(self, maxsize: int = 1000, *, include_realtime_events: bool = False) -> "queue.Queue[Tuple[str, Any]]":
        """A thread-safe queue of ``(name, payload)`` client-level events, for a GUI thread to pull.

        Holds ``conversation.*``, ``error``, ``close`` (and ``realtime.event``
        with ``include_realtime_events``); bounded by ``maxsize``, the oldest
        dropped when the reader falls behind (:attr:`events_dropped`). The
        first call creates it; later calls return the same queue.
        """
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigurationError(f"maxsize must be a positive int, got {maxsize!r}")
        return self._outlet.queue(maxsize, include_realtime_events)

    @property
    def events_dropped(self) -> int:
        """How many events the :meth:`events` queue dropped because it was full."""
        return self._outlet.dropped

