"""The socket layer: one Realtime API WebSocket served by a background thread.

:class:`RealtimeAPI` wraps a websocket-client ``WebSocketApp``. ``connect()``
starts one daemon thread, named ``realtime-sync-recv``, that reads the socket,
parses each server frame once and dispatches it as ``server.<type>`` and then
``server.*``. Every callback registered on those names runs on that thread, in
arrival order: keep them short and hand slow work to a worker thread.

Two wire dialects (``protocol``): ``"ga"``, what OpenAI's live service speaks
(the default for ``api.openai.com``), and ``"beta"`` (the default for any
other host: relays, older Azure deployments, the simulator). The caller always
speaks the beta programming model: :meth:`RealtimeAPI.send` translates each
client event with :func:`realtime_sync.dialects.client_to_wire` before writing
it. Server events are dispatched exactly as they arrive, in the wire dialect;
translating them for a conversation is the caller's job
(:func:`realtime_sync.dialects.server_from_wire`).

Events dispatched (payloads are dicts):

- ``server.<type>``, ``server.*``: each server event as it came off the wire
  (in the connection's dialect, untranslated).
- ``client.<type>``, ``client.*``: each event passed to :meth:`RealtimeAPI.send`,
  as written on the wire, on the sending thread, before it is written.
- ``error``: a frame that is not a JSON object with a string ``type``:
  ``{"error": ProtocolError, "event": None or the object, "client_event": None,
  "raw": the frame text cut to 200 characters}``. The loop goes on.
- ``close``: once per connection, when the socket has ended:
  ``{"error": bool, "code": int or None, "reason": str or None}``. ``error`` is
  false when :meth:`RealtimeAPI.disconnect` closed it or the server closed it
  with code 1000, true otherwise. Just before it, every
  :meth:`RealtimeAPI.wait_for_next` begun while connected (for any other
  event) raises :class:`~realtime_sync.errors.ConnectionClosedError`.

Example::

    api = RealtimeAPI()                      # OPENAI_API_KEY from the environment
    api.on("server.session.created", lambda event: print(event["session"]["id"]))
    api.connect()
    api.send("response.create")
    api.disconnect()
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import ssl
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websocket

from . import dialects
from ._receive_loop import _CLOSE_GRACE, _IO_TIMEOUT, _Connection, _ReceiveLoop
from .errors import (
    ConfigurationError,
    InsecureTransportError,
    NotConnectedError,
    RealtimeConnectionError,
    RealtimeTimeoutError,
)
from .events import EventHandler

__all__ = [
    "RealtimeAPI",
    "DEFAULT_URL",
    "DEFAULT_MODEL",
    "RECEIVE_THREAD_NAME",
    "generate_id",
]

logger = logging.getLogger(__name__)

#: OpenAI's Realtime endpoint.
DEFAULT_URL = "wss://api.openai.com/v1/realtime"
#: The model :meth:`RealtimeAPI.connect` asks a beta server for by default
#: (on GA it is ``dialects.default_model("ga")``, ``gpt-realtime``).
DEFAULT_MODEL = dialects.default_model("beta")
#: The name of the thread that reads the socket and runs server callbacks.
RECEIVE_THREAD_NAME = "realtime-sync-recv"

_OPENAI_HOSTS = frozenset({"api.openai.com"})
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Header names and query parameters whose values are credentials.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "openai-api-key", "cookie"}
)
_SECRET_QUERY = frozenset(
    {"api-key", "api_key", "apikey", "key", "token", "access_token", "sig", "signature", "password"}
)
_REDACTED = "[secure]"


def generate_id(prefix: str, length: int = 21) -> str:
    """Return ``prefix`` followed by random base58 characters, ``length`` in all.

    The reference client's id format: ``generate_id("evt_")`` gives ``evt_``
    and 17 characters. Uses :mod:`secrets`.

    Raises:
        ValueError: ``length`` leaves no room after ``prefix``.
    """
    count = length - len(prefix)
    if count <= 0:
        raise ValueError(f"length {length} leaves no room after prefix {prefix!r}")
    value = secrets.randbelow(58**count)
    chars = []
    for _ in range(count):
        value, digit = divmod(value, 58)
        chars.append(_BASE58[digit])
    return prefix + "".join(chars)


class _Secret:
    """A credential that never shows itself in a repr or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__


class RealtimeAPI(_ReceiveLoop, EventHandler):
    """A Realtime API WebSocket connection that dispatches every event it carries.

    The constructor only checks and stores settings; :meth:`connect` opens the
    socket and starts the receive thread. Safe to use from several threads.

    Args:
        url: the WebSocket URL (``ws://`` or ``wss://``); default
            :data:`DEFAULT_URL`. Any query it has is kept.
        api_key: sent as ``Authorization: Bearer <key>``. For OpenAI's host it
            defaults to the ``OPENAI_API_KEY`` environment variable; other
            hosts get no key unless given one.
        debug: log every event sent and received (type, ``event_id``, audio as
            its length) at DEBUG level on the ``realtime_sync.api`` logger.
        headers: extra handshake headers (Azure wants ``api-key``); a value of
            ``None`` removes a default header such as ``OpenAI-Beta``.
        query: extra query parameters for the URL.
        ping_interval: seconds between keep-alive pings; ``None`` or 0 sends none.
        ping_timeout: seconds to wait for a pong before the connection counts
            as dead; ``None`` waits for ever. Must be below ``ping_interval``.
            With both set, the open socket's timeout is their sum (one
            interval more until the first pong): nothing received for that
            long (not even a pong) ends the connection with a ``ping/pong
            timed out`` error ``close``, and so does a write that makes no
            progress for that long. Otherwise a connection may stay
            idle for ever and a stalled frame or write ends it after 30 s.
        max_frame_size: the largest server frame accepted, in bytes; a larger
            one is reported as an ``error`` and the connection is closed with
            code 1009. ``None`` accepts any size. The check runs once the frame
            has been read (websocket-client has no earlier hook).
        ssl_context: the TLS context for ``wss://`` (default: the system's CA
            certificates, host name checked).
        protocol: the wire dialect, ``"ga"`` or ``"beta"``. ``None`` (the
            default) picks ``"ga"`` for OpenAI's host (``api.openai.com``,
            which has retired the beta protocol) and ``"beta"`` for any other
            host (relays, Azure deployments, the simulator). It decides the
            handshake headers (beta sends ``OpenAI-Beta: realtime=v1``), the
            default model and how :meth:`send` writes client events; it is
            kept as the attribute :attr:`protocol`.

    Raises:
        ConfigurationError: an argument is invalid.
        InsecureTransportError: a key would travel over ``ws://`` to a host that
            is not loopback.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        debug: bool = False,
        headers: Optional[Mapping[str, Optional[str]]] = None,
        query: Optional[Mapping[str, str]] = None,
        ping_interval: Optional[float] = 20.0,
        ping_timeout: Optional[float] = 10.0,
        max_frame_size: Optional[int] = 16 * 1024 * 1024,
        ssl_context: Optional[ssl.SSLContext] = None,
        protocol: Optional[str] = None,
        on_server_event: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> None:
        super().__init__()
        if on_server_event is not None and not callable(on_server_event):
            raise ConfigurationError("on_server_event must be callable or None")
        #: Called on the receive thread with every parsed server event, before
        #: the ``server.<type>`` and ``server.*`` listeners (the owner's hook:
        #: :class:`~realtime_sync.client.RealtimeClient` updates its conversation
        #: there, so user listeners see the item already updated).
        self._on_server_event = on_server_event
        url = DEFAULT_URL if url is None else url
        if not isinstance(url, str):
            raise ConfigurationError(f"url must be a str, not {type(url).__name__}")
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ConfigurationError(
                f"url must look like wss://host/path or ws://host:port/path, got {_redact_url(url)!r}"
            )
        self._base_url = _Secret(url)  # its query or user info may hold a credential
        self._url_secrets = [
            _Secret(value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name.lower() in _SECRET_QUERY and value
        ]
        if parts.password:
            self._url_secrets.append(_Secret(parts.password))
        self._host = parts.hostname.lower()
        self._secure = parts.scheme == "wss"
        if protocol is None:
            protocol = "ga" if self._host in _OPENAI_HOSTS else "beta"
        #: The wire dialect of this connection, ``"ga"`` or ``"beta"``.
        self.protocol: str = dialects.check_protocol(protocol)

        if api_key is None and self._host in _OPENAI_HOSTS:
            api_key = os.environ.get("OPENAI_API_KEY") or None
        if api_key is not None:
            if not isinstance(api_key, str):
                raise ConfigurationError(f"api_key must be a str, not {type(api_key).__name__}")
            if not api_key.strip() or _has_line_break(api_key):
                raise ConfigurationError("api_key is empty or contains a line break")
        self._api_key = _Secret(api_key) if api_key else None

        self._extra_headers: Dict[str, Any] = {}
        for name, value in (headers or {}).items():
            if not isinstance(name, str) or not name or _has_line_break(name) or ":" in name:
                raise ConfigurationError(f"invalid header name {name!r}")
            stored: Any = value
            if value is not None:
                if not isinstance(value, str) or _has_line_break(value):
                    raise ConfigurationError(f"header {name!r} must be a str without line breaks")
                if name.lower() in _SECRET_HEADERS:
                    stored = _Secret(value)
            self._extra_headers[name] = stored

        self._query: List[Tuple[str, str]] = []
        for name, value in (query or {}).items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ConfigurationError("query names and values must be str")
            self._query.append((name, value))

        sends_secret = self._api_key is not None or bool(self._url_secrets) or any(
            isinstance(value, _Secret) for value in self._extra_headers.values()
        )
        if sends_secret and not self._secure and not _is_loopback(self._host):
            raise InsecureTransportError(
                f"refusing to send an API key in clear text over ws:// to {self._host!r}; "
                "use wss://, or a loopback host (127.0.0.1, localhost) for local servers"
            )

        if ping_interval is not None and (not _is_number(ping_interval) or ping_interval < 0):
            raise ConfigurationError("ping_interval must be None or a number of seconds >= 0")
        if ping_timeout is not None and (not _is_number(ping_timeout) or ping_timeout <= 0):
            raise ConfigurationError("ping_timeout must be None or a number of seconds > 0")
        if ping_interval and ping_timeout and ping_timeout >= ping_interval:
            raise ConfigurationError("ping_timeout must be shorter than ping_interval")
        if max_frame_size is not None and (
            not isinstance(max_frame_size, int) or isinstance(max_frame_size, bool) or max_frame_size <= 0
        ):
            raise ConfigurationError("max_frame_size must be None or a positive number of bytes")
        self._ping_interval = float(ping_interval or 0)
        self._ping_timeout = float(ping_timeout) if ping_timeout else None
        self._max_frame_size = max_frame_size
        self._ssl_context = ssl_context
        #: Log every event (type, event_id, audio length) at DEBUG level.
        self.debug = bool(debug)

        self._state_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._conn: Optional[_Connection] = None

    # -- public API ---------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL given to the constructor, with credentials in it masked."""
        return _redact_url(self._base_url.reveal())

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} url={self.url!r} protocol={self.protocol!r} "
            f"connected={self.is_connected()}>"
        )

    def __enter__(self) -> "RealtimeAPI":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    def is_connected(self) -> bool:
        """Whether the socket is open and no disconnect has begun."""
        conn = self._conn
        return conn is not None and conn.open and not conn.closing

    def is_receive_thread(self) -> bool:
        """Whether the calling thread is this connection's receive thread.

        Callbacks for server events run there; blocking on server events from
        it would deadlock.
        """
        conn = self._conn
        return conn is not None and threading.current_thread() is conn.thread

    def connect(self, model: Optional[str] = None, timeout: Optional[float] = 10.0) -> bool:
        """Open the WebSocket and start the receive thread; block until it is open.

        Args:
            model: sent as the ``model`` query parameter (it replaces one the
                URL or ``query`` has). ``None`` keeps the URL's own ``model``
                if it has one, and otherwise asks for the dialect's default:
                ``gpt-realtime`` on GA, :data:`DEFAULT_MODEL`
                (``gpt-4o-realtime-preview-2024-10-01``) on beta.
            timeout: seconds for DNS, TCP, TLS and the handshake together;
                ``None`` waits for ever.

        Returns:
            ``True`` once the socket is open.

        Raises:
            AuthenticationError: HTTP 401/403 (check the API key).
            HandshakeError: any other HTTP status; the server's message is in
                the exception text and ``body``.
            RealtimeTimeoutError: no open socket within ``timeout``.
            RealtimeConnectionError: refused, DNS failure, TLS failure, already
                connected, or cancelled by :meth:`disconnect`.
            ConfigurationError: no API key for OpenAI's host, or bad arguments.
        """
        if timeout is not None and (not _is_number(timeout) or timeout <= 0):
            raise ConfigurationError("timeout must be None or a positive number of seconds")
        if model is not None and (not isinstance(model, str) or not model):
            raise ConfigurationError("model must be a non-empty str or None")
        if self._api_key is None and self._host in _OPENAI_HOSTS:
            raise ConfigurationError(
                f"no API key for {self._host}: pass api_key=... or set the OPENAI_API_KEY "
                "environment variable"
            )
        with self._state_lock:
            previous = self._conn
            if previous is not None and not previous.finished.is_set() and not previous.closing:
                raise RealtimeConnectionError(
                    f"already connected (or connecting) to {self.url}; call disconnect() first"
                )
            conn = _Connection(self.url, timeout)
            target, model = self._build_url(model)
            headers = self._header_lines()
            conn.app = websocket.WebSocketApp(
                target,
                header=lambda: self._before_handshake(conn, headers),
                on_open=lambda app: self._on_open(conn, app),
                on_message=self._make_receiver(conn),
                on_error=lambda app, exc: self._on_error(conn, exc),
                on_close=lambda app, code, reason: self._on_close(conn, code, reason),
                on_pong=lambda app, data: self._on_pong(conn),
            )
            conn.thread = threading.Thread(
                target=self._run, args=(conn,), name=RECEIVE_THREAD_NAME, daemon=True
            )
            self._conn = conn
        logger.debug(
            "connecting to %s (model=%s, headers=%s)",
            self.url,
            model,
            {name: _REDACTED if name.lower() in _SECRET_HEADERS else value
             for name, value in (line.split(": ", 1) for line in headers)},
        )
        conn.thread.start()
        try:
            opened = conn.opened.wait(timeout)
        except BaseException:  # KeyboardInterrupt while waiting: do not leave a socket behind
            self._abandon(conn)
            raise
        if not opened:
            self._abandon(conn)
            raise RealtimeTimeoutError(
                f"timed out after {timeout:g} s connecting to {self.url}; check the URL, "
                "the network and any proxy, or pass a longer timeout"
            )
        if conn.failure is not None:
            if conn.thread is not threading.current_thread():
                conn.thread.join(_CLOSE_GRACE)
            cause = conn.cause
            if cause is not None and self._redact(str(cause)) != str(cause):
                cause = None  # never chain an exception whose text holds a credential
            raise conn.failure from cause
        return True

    def disconnect(self, timeout: Optional[float] = 5.0) -> None:
        """Close the connection and wait for the receive thread to end.

        Sends a close frame (code 1000), gives the server a moment to answer,
        then shuts the socket down. Idempotent, and safe from any thread,
        including from a callback on the receive thread (it then returns at
        once and the thread ends after the callback returns). ``close`` is
        dispatched once, on the receive thread; when this returns on another
        thread, the ``close`` callbacks have run.

        Args:
            timeout: seconds to wait for the receive thread; ``None`` waits for
                ever. A thread still alive after it is logged as a warning.
        """
        with self._state_lock:
            conn = self._conn
            if conn is None:
                return
            conn.closing = True
        thread = conn.thread
        on_loop_thread = thread is threading.current_thread()
        deadline = None if timeout is None else time.monotonic() + timeout
        if not conn.finished.is_set():
            if conn.open:
                self._send_close_frame(conn, 1000, "")
            if conn.app is not None:
                conn.app.keep_running = False
            if on_loop_thread:
                return
            if thread is not None:
                thread.join(_CLOSE_GRACE if timeout is None else min(_CLOSE_GRACE, timeout))
                if thread.is_alive():
                    # The server did not answer the close frame in time.
                    self._abort_socket(conn)
        if thread is not None and not on_loop_thread and thread.is_alive():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
            if thread.is_alive():
                logger.warning(
                    "the receive thread of %s is still running %s s after disconnect()",
                    self.url,
                    timeout,
                )

    def send(self, event_name: str, data: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Send one client event; return it as written on the wire.

        Adds ``event_id`` (``evt_`` + 17 base58 characters, unless ``data``
        has one) and ``type``, translates the (beta-shaped) event to the
        connection's dialect with :func:`realtime_sync.dialects.client_to_wire`
        (on GA ``session.update`` becomes the nested GA session, for example;
        on beta nothing changes), dispatches ``client.<type>`` and
        ``client.*`` with that wire event on the calling thread, then writes
        one frame. Safe from several threads at once: frames never interleave.

        Raises:
            NotConnectedError: the socket is not open, or closed while writing.
            RealtimeTimeoutError: the socket accepted nothing for its timeout
                (``ping_interval + ping_timeout``, 30 s by default).
            ConfigurationError: ``data`` is not a dict, names another
                ``type``, cannot be translated (an unknown audio format) or
                cannot be encoded as JSON.
        """
        if not isinstance(event_name, str) or not event_name:
            raise ConfigurationError("event_name must be a non-empty str such as 'response.create'")
        if data is None:
            data = {}
        elif not isinstance(data, Mapping):
            raise ConfigurationError(f"data must be a dict, not {type(data).__name__}")
        declared = data.get("type", event_name)
        if declared != event_name:
            raise ConfigurationError(
                f"data has type {declared!r} but the event name is {event_name!r}"
            )
        conn = self._conn
        if conn is None or not conn.open or conn.closing:
            raise NotConnectedError(f"cannot send {event_name!r}: not connected; call connect() first")
        event: Dict[str, Any] = {"event_id": generate_id("evt_"), "type": event_name}
        event.update(data)
        event["type"] = event_name
        event = dialects.client_to_wire(event, self.protocol)
        event_name = event["type"]
        try:
            text = json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"event {event_name!r} cannot be encoded as JSON: {exc}") from exc
        self.dispatch("client." + event_name, event)
        self.dispatch("client.*", event)
        if self.debug:
            self._log_event("sent", event)
        if not self._send_lock.acquire(timeout=_IO_TIMEOUT):
            raise RealtimeTimeoutError(f"another send() has blocked for {_IO_TIMEOUT:g} s")
        try:
            ws = conn.ws
            if ws is None or not conn.open:
                raise NotConnectedError(f"cannot send {event_name!r}: the connection has closed")
            ws.send(text)
        except websocket.WebSocketTimeoutException as exc:
            raise RealtimeTimeoutError(
                f"cannot send {event_name!r}: the server accepted nothing for {conn.io_timeout:g} s"
            ) from exc
        except (websocket.WebSocketException, OSError) as exc:
            raise NotConnectedError(
                f"cannot send {event_name!r}: the connection has closed ({type(exc).__name__})"
            ) from exc
        finally:
            self._send_lock.release()
        return event

    def wait_for_next(self, name: str, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """Block until the next event ``name`` is dispatched and return its payload.

        As :meth:`EventHandler.wait_for_next
        <realtime_sync.events.EventHandler.wait_for_next>`: the calling thread
        sleeps until the event comes, ``None`` when ``timeout`` (seconds,
        ``None`` for ever) runs out. In addition, a wait begun while connected
        raises :class:`~realtime_sync.errors.ConnectionClosedError` (with the
        close ``code`` and ``reason``) as soon as that connection ends -- the
        server closed it, it was lost, or :meth:`disconnect` was called --
        before the ``close`` callbacks run, so a script waiting for a server
        event never sleeps out its timeout on a dead socket. Waiting for
        ``"close"`` itself returns the close payload. A wait begun while not
        connected is a plain wait (a later connection's end does not wake it).

        Raises:
            ConnectionClosedError: the connection ended while waiting.
            RuntimeError: called from the receive thread (inside a callback):
                it would wait for ever.
        """
        if not isinstance(name, str):
            raise TypeError(f"event name must be a str, not {type(name).__name__}")
        conn = self._conn
        if name == "close" or conn is None or not self.is_connected():
            return super().wait_for_next(name, timeout)
        self._refuse_to_block(name)
        waiter = self._add_waiter(name, tag=conn)
        # The connection may have ended before the waiter was in place; then
        # _finish may have failed the waiters without it: withdraw it here.
        if conn.finished.is_set() and self._remove_waiter(name, waiter):
            assert conn.closed_error is not None
            raise conn.closed_error
        return self._await_waiter(name, waiter, timeout)

    # -- EventHandler hook --------------------------------------------------

    def _is_dispatching_thread(self) -> bool:
        return super()._is_dispatching_thread() or self.is_receive_thread()

    # -- connection internals (the receive loop is in _receive_loop.py) --------

    def _build_url(self, model: Optional[str]) -> Tuple[str, str]:
        """The URL to open and the model it names (``model`` or as resolved)."""
        parts = urlsplit(self._base_url.reveal())
        query = parse_qsl(parts.query, keep_blank_values=True)
        extra_names = {name for name, _ in self._query}
        query = [(name, value) for name, value in query if name not in extra_names]
        query.extend(self._query)
        if model is None:
            named = [value for name, value in query if name == "model"]
            if named:
                return urlunsplit(parts._replace(query=urlencode(query))), named[-1]
            model = dialects.default_model(self.protocol)
        query = [(name, value) for name, value in query if name != "model"]
        query.append(("model", model))
        return urlunsplit(parts._replace(query=urlencode(query))), model

    def _header_lines(self) -> List[str]:
        headers: Dict[str, Any] = {}
        if self._api_key is not None:
            headers["Authorization"] = _Secret("Bearer " + self._api_key.reveal())
        headers.update(dialects.handshake_headers(self.protocol))
        lowered = {name.lower(): name for name in headers}
        for name, value in self._extra_headers.items():
            existing = lowered.get(name.lower())
            if existing is not None:
                del headers[existing]
            if value is not None:
                headers[name] = value
        return [
            f"{name}: {value.reveal() if isinstance(value, _Secret) else value}"
            for name, value in headers.items()
        ]

    def _secrets(self) -> List[str]:
        values = [v.reveal() for v in self._extra_headers.values() if isinstance(v, _Secret)]
        values.extend(secret.reveal() for secret in self._url_secrets)
        if self._api_key is not None:
            values.append(self._api_key.reveal())
        return values

    def _redact(self, text: str) -> str:
        """``text`` with every credential this object holds masked."""
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, _REDACTED)
        return text

def _redact_url(url: str) -> str:
    """``url`` with credentials in its user info or query masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = _REDACTED + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in _SECRET_QUERY for name, _ in pairs):
            query = urlencode(
                [(n, _REDACTED if n.lower() in _SECRET_QUERY else v) for n, v in pairs]
            )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _has_line_break(text: str) -> bool:
    return "\r" in text or "\n" in text or "\0" in text
