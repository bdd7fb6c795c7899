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
  with code 1000, true otherwise.

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
import select
import selectors
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websocket

from . import dialects
from .errors import (
    AuthenticationError,
    ConfigurationError,
    HandshakeError,
    InsecureTransportError,
    NotConnectedError,
    ProtocolError,
    RealtimeConnectionError,
    RealtimeError,
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
# Read/write timeout of an open socket (seconds) when no ping timeout bounds it:
# a frame or a write stalled this long ends the connection instead of hanging
# a thread.
_IO_TIMEOUT = 30.0
# Without a ping timeout, how long the receive loop waits for a frame before it
# looks at keep_running again (seconds; disconnect() wakes it sooner).
_IDLE_WAIT = 10.0
# How long disconnect() lets the server answer our close frame (seconds).
_CLOSE_GRACE = 1.0
_RAW_PREVIEW = 200
# The C scanner behind json.loads (see RealtimeAPI._make_receiver).
_JSON_SCANNER: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


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


class _Connection:
    """The state of one connection attempt and the socket it may open."""

    def __init__(self, url: str, timeout: Optional[float]) -> None:
        self.url = url  # redacted, for messages
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.app: Optional[websocket.WebSocketApp] = None
        self.thread: Optional[threading.Thread] = None
        self.ws: Optional[websocket.WebSocket] = None
        self.opened = threading.Event()  # set on open and on failure
        self.finished = threading.Event()  # set when the loop has ended
        self.open = False
        self.closing = False  # disconnect() (or a timed-out connect) asked to close
        self.failure: Optional[RealtimeError] = None
        self.cause: Optional[BaseException] = None  # the first websocket-client error
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        self.local_close: Optional[Tuple[int, str]] = None  # we closed for a protocol reason
        self.io_timeout = _IO_TIMEOUT  # the open socket's timeout, seconds


class _FrameReader:
    """The receive loop: a websocket-client dispatcher that reads frames back to back.

    ``WebSocketApp.run_forever(dispatcher=...)`` hands a custom dispatcher a
    ``read_callback`` that reads and handles one frame. websocket-client's
    own dispatcher waits in ``selectors`` and runs its ping check before every
    frame (about 2 us a frame, a third of what this library adds to a bare
    receive loop). This one has two modes:

    * with pings and a ping timeout (the default): frames are read back to
      back, blocking in ``recv``. The socket timeout, set to
      ``ping_interval + ping_timeout`` once open (one interval more until the
      first pong, see :meth:`RealtimeAPI._io_timeout`), is the liveness check:
      a live server answers every ping, so a read that waits longer than that
      means a dead peer (or a frame stalled that long), and websocket-client
      ends the connection. A server that keeps sending but stops answering
      pings is caught by a cheap per-frame look at the ping and pong times.
    * otherwise (no pings, or no ping timeout): a connection may stay idle for
      ever, so the loop waits for each frame with ``poll`` (``selectors`` where
      there is no ``poll``) and a TLS socket's buffered records are read
      without waiting.

    The WebSocketApp calls ``signal``, ``timeout`` and ``reconnect`` of a custom
    dispatcher too: no signal handler is installed, nothing sleeps and
    reconnecting never happens (one socket per ``connect()``). Sends go through
    :meth:`buffwrite` on websocket-client versions that route them here.
    Runs on the receive thread, except :meth:`buffwrite` (any sending thread,
    under websocket-client's send lock).
    """

    def __init__(self, app: websocket.WebSocketApp, pong_timeout: Optional[float]) -> None:
        self._app = app
        self._pong_timeout = pong_timeout  # None: wait for each frame with poll

    def read(self, sock: Any, read_callback: Callable[[], Any], check_callback: Any = None) -> None:
        """Read frames until ``read_callback`` says the connection has ended.

        ``read_callback`` (websocket-client's) tears the connection down itself
        once ``keep_running`` is false or the socket fails, and then returns a
        false value; exceptions raised here end the connection through
        websocket-client's error path (``on_error``, then teardown).
        """
        if self._pong_timeout is not None:
            self._read_back_to_back(self._pong_timeout, read_callback)
        elif sock is None:  # already torn down: let read_callback() finish the job
            while read_callback():
                pass
        else:
            self._read_when_ready(sock, read_callback)

    def _read_back_to_back(self, pong_timeout: float, read_callback: Callable[[], Any]) -> None:
        app = self._app
        clock = time.time  # the clock websocket-client stamps pings and pongs with
        while read_callback():
            # a ping is outstanding only between its sending and its pong
            if app.last_pong_tm < app.last_ping_tm and clock() - app.last_ping_tm > pong_timeout:
                raise websocket.WebSocketTimeoutException(
                    f"ping/pong timed out: no pong within {pong_timeout:g} s"
                )

    def _read_when_ready(self, sock: Any, read_callback: Callable[[], Any]) -> None:
        app = self._app
        pending = getattr(sock, "pending", None)  # TLS records already decrypted
        selector: Optional[selectors.BaseSelector] = None
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)  # errors and hang-ups are always reported
            timeout_ms = int(_IDLE_WAIT * 1000)

            def wait() -> bool:
                return bool(poller.poll(timeout_ms))

        else:  # Windows
            selector = selectors.DefaultSelector()
            selector.register(sock, selectors.EVENT_READ)

            def wait() -> bool:
                return bool(selector.select(_IDLE_WAIT))

        try:
            while True:
                if not ((pending is not None and pending()) or wait()) and app.keep_running:
                    continue  # idle; read_callback() below tears down once keep_running is false
                if not read_callback():
                    return
        finally:
            if selector is not None:
                selector.close()

    @staticmethod
    def buffwrite(sock: Any, data: Any, send: Callable[[Any, Any], int], disconnect_handler: Any) -> None:
        """Write all of ``data`` (websocket-client >= 1.8 sends through here).

        Raises what websocket-client's own send path raises, to the sender.
        """
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
        while view:
            sent = send(sock, view)
            if not sent:
                raise websocket.WebSocketTimeoutException("the socket accepted nothing before its timeout")
            view = view[sent:]

    def signal(self, signum: int, handler: Any) -> None:
        """No signal handlers: the loop runs on a background thread."""

    def abort(self) -> None:
        """Nothing to abort: :meth:`read` ends with the connection."""

    def timeout(self, seconds: Any, callback: Any, *args: Any) -> None:
        """Called once :meth:`read` has returned; the connection is over, so do nothing."""

    def reconnect(self, seconds: Any, reconnector: Any) -> None:
        """Never reconnect: one socket per ``connect()``."""


class RealtimeAPI(EventHandler):
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
    ) -> None:
        super().__init__()
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

    # -- EventHandler hook --------------------------------------------------

    def _is_dispatching_thread(self) -> bool:
        return super()._is_dispatching_thread() or self.is_receive_thread()

    # -- connection internals (receive thread unless noted) -------------------

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

    def _run(self, conn: _Connection) -> None:
        """The receive thread: run the websocket-client loop, then clean up."""
        assert conn.app is not None
        sslopt: Dict[str, Any] = {}
        if self._ssl_context is not None:
            sslopt["context"] = self._ssl_context
        pings_checked = bool(self._ping_interval and self._ping_timeout)
        reader = _FrameReader(conn.app, self._ping_timeout if pings_checked else None)
        try:
            conn.app.run_forever(
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                # reads frames back to back instead of a select() and a ping
                # check before each one (see _FrameReader)
                dispatcher=reader,
                # json decoding validates UTF-8 in C; websocket-client's own check is
                # pure Python and costs more than everything else on this path.
                skip_utf8_validation=True,
                sslopt=sslopt,
                reconnect=0,  # never follow websocket.setreconnect(): one socket per connect()
            )
        except Exception as exc:  # run_forever handles its errors; this is a safety net
            if conn.cause is None:
                conn.cause = exc
            logger.debug("the WebSocket loop of %s ended with %r", conn.url, exc)
        finally:
            self._finish(conn)

    def _before_handshake(self, conn: _Connection, headers: List[str]) -> List[str]:
        """Called by websocket-client just before it connects: bound the socket timeout."""
        app = conn.app
        if app is not None and app.sock is not None:
            if conn.deadline is None:
                app.sock.settimeout(None)
            else:
                app.sock.settimeout(max(0.001, conn.deadline - time.monotonic()))
        return headers

    def _on_open(self, conn: _Connection, app: websocket.WebSocketApp) -> None:
        ws = app.sock
        with self._state_lock:
            cancelled = conn.closing
            if not cancelled:
                conn.ws = ws
                conn.open = True
        if cancelled:
            app.keep_running = False
            return
        if ws is not None:
            conn.io_timeout = self._io_timeout(first_ping=True)
            ws.settimeout(conn.io_timeout)
        logger.debug("connected to %s", conn.url)
        conn.opened.set()

    def _io_timeout(self, first_ping: bool = False) -> float:
        """The open socket's timeout in seconds (reads and writes).

        With pings and a ping timeout it is ``ping_interval + ping_timeout``:
        a live server answers every ping, so nothing at all for that long
        means a dead connection (:class:`_FrameReader` reads without a
        separate wait). Until the first pong it is one ``ping_interval``
        longer: some websocket-client versions (1.7) send the first ping
        after two intervals. Without pings it is :data:`_IO_TIMEOUT`, which then only
        bounds a frame or a write stalled half-way.
        """
        if self._ping_interval and self._ping_timeout:
            intervals = 2 if first_ping else 1
            return intervals * self._ping_interval + self._ping_timeout
        return _IO_TIMEOUT

    def _on_pong(self, conn: _Connection) -> None:
        """The first pong proves the peer answers: tighten the socket timeout (receive thread)."""
        if conn.io_timeout != self._io_timeout():
            conn.io_timeout = self._io_timeout()
            ws = conn.ws
            if ws is not None:
                ws.settimeout(conn.io_timeout)

    def _make_receiver(self, conn: _Connection) -> Any:
        """Build the ``on_message`` callback: the hot path, one call per frame."""
        dispatch = self.dispatch
        loads = json.loads
        # json.loads(text) is decoder.decode(text): two whitespace regex
        # matches around the C scanner, about 1 us a frame. Scan directly and
        # leave every case that is not one bare JSON value (leading or trailing
        # whitespace, extra data, a BOM, not JSON at all) to json.loads, so
        # the result and the errors are json.loads's own.
        scan = _JSON_SCANNER
        max_size = self._max_frame_size

        def receive(app: websocket.WebSocketApp, message: Any) -> None:
            try:
                if max_size is not None and len(message) > max_size:
                    self._frame_too_big(conn, app, message)
                    return
                try:
                    if isinstance(message, (bytes, bytearray)):
                        message = message.decode("utf-8")
                    try:
                        event, end = scan(message, 0)
                        if end != len(message):
                            raise StopIteration(end)
                    except StopIteration:
                        event = loads(message)
                except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError
                    self._report_malformed(message, f"not valid UTF-8 JSON ({exc})", None)
                    return
                if type(event) is not dict:
                    self._report_malformed(
                        message, f"a JSON {type(event).__name__}, not an object", None
                    )
                    return
                event_type = event.get("type")
                if type(event_type) is not str:
                    self._report_malformed(message, "a JSON object without a string 'type'", event)
                    return
                if self.debug:
                    self._log_event("received", event)
                dispatch("server." + event_type, event)
                dispatch("server.*", event)
            except Exception:  # never let a bug here reach websocket-client's loop
                logger.exception("failed to handle a frame from %s", conn.url)

        return receive

    def _preview(self, message: Any) -> str:
        """The start of a frame as text, credentials masked, at most 200 characters."""
        if isinstance(message, (bytes, bytearray)):
            text = bytes(message[: _RAW_PREVIEW * 4]).decode("utf-8", errors="replace")
        else:
            text = str(message[: _RAW_PREVIEW * 4])
        return self._redact(text)[:_RAW_PREVIEW]

    def _report_malformed(self, message: Any, why: str, event: Optional[Dict[str, Any]]) -> None:
        raw = self._preview(message)
        error = ProtocolError(f"the server sent a frame that is {why}: {raw[:60]!r}", event=event)
        logger.warning("ignored a frame from %s that is %s: %r", self.url, why, raw)
        self.dispatch("error", {"error": error, "event": event, "client_event": None, "raw": raw})

    def _frame_too_big(self, conn: _Connection, app: websocket.WebSocketApp, message: Any) -> None:
        reason = f"frame of {len(message)} bytes exceeds max_frame_size ({self._max_frame_size})"
        logger.error("closing %s: the server sent a %s", conn.url, reason)
        error = ProtocolError(f"the server sent a {reason}")
        raw = self._preview(message)
        self.dispatch("error", {"error": error, "event": None, "client_event": None, "raw": raw})
        conn.local_close = (1009, "message too big")
        self._send_close_frame(conn, 1009, "message too big")
        app.keep_running = False

    def _on_error(self, conn: _Connection, exc: BaseException) -> None:
        close_args = _peer_close_args(exc)
        if close_args is not None:
            # the server's close frame, reported as an error by websocket-client
            # 1.9.x: take its code and reason (1.9.0 never passes them to on_close)
            if conn.close_code is None:
                self._on_close(conn, *close_args)
            if conn.open:
                self._abort_socket(conn)  # our echo is sent: spare teardown its 3 s wait
            return
        if (
            conn.open
            and isinstance(exc, websocket.WebSocketTimeoutException)
            and self._ping_interval
            and self._ping_timeout
            and "ping/pong" not in str(exc)
        ):
            # the socket timeout is the ping deadline (see _io_timeout): say so
            exc = websocket.WebSocketTimeoutException(
                f"ping/pong timed out: nothing received for {conn.io_timeout:g} s "
                f"(ping_interval {self._ping_interval:g} s + ping_timeout {self._ping_timeout:g} s)"
            )
        if conn.cause is None:
            conn.cause = exc
        if conn.open:
            logger.debug("connection to %s: %s", conn.url, self._redact(str(exc)))
            # The loop is ending. Shut the socket now: otherwise websocket-client's
            # teardown sends a close frame and waits 3 s for a peer that may be dead.
            self._abort_socket(conn)

    def _on_close(self, conn: _Connection, code: Optional[int], reason: Optional[str]) -> None:
        if code is not None:
            conn.close_code = code
            conn.close_reason = self._redact(reason) if reason else None

    def _finish(self, conn: _Connection) -> None:
        """End of the receive thread: free the socket, report failure or ``close``."""
        ws = conn.ws
        if ws is None and conn.app is not None:
            ws = conn.app.sock
        if ws is not None:
            try:
                ws.shutdown()  # closes the file descriptor teardown may leave open
            except Exception:  # already closed
                pass
        with self._state_lock:
            was_open = conn.open
            conn.open = False
            conn.finished.set()
        if not was_open:
            if conn.failure is None:
                if conn.closing:
                    conn.failure = RealtimeConnectionError(
                        f"the connection attempt to {conn.url} was cancelled by disconnect()"
                    )
                else:
                    conn.failure = self._connect_error(conn)
            conn.opened.set()
            return
        payload = self._close_payload(conn)
        log = logger.debug if not payload["error"] else logger.info
        log("connection to %s closed: code=%s reason=%s", conn.url, payload["code"], payload["reason"])
        self.dispatch("close", payload)

    def _close_payload(self, conn: _Connection) -> Dict[str, Any]:
        if conn.local_close is not None:
            local_code, local_reason = conn.local_close
            return {"error": True, "code": local_code, "reason": local_reason}
        code, reason = conn.close_code, conn.close_reason
        if conn.closing and code is None:
            code = 1000  # we closed it, with 1000, and stopped reading before the echo
        error = not conn.closing and code != 1000
        if reason is None and error and conn.cause is not None:
            reason = self._redact(str(conn.cause)) or type(conn.cause).__name__
        return {"error": error, "code": code, "reason": reason}

    def _connect_error(self, conn: _Connection) -> RealtimeError:
        """Turn why the handshake failed into the right, key-free exception."""
        exc = conn.cause
        parts = urlsplit(self._base_url.reveal())
        where = f"{self._host}:{parts.port or (443 if self._secure else 80)}"
        if isinstance(exc, websocket.WebSocketBadStatusException):
            status = int(getattr(exc, "status_code", 0) or 0)
            body_bytes = getattr(exc, "resp_body", None) or b""
            if isinstance(body_bytes, str):
                body_bytes = body_bytes.encode("utf-8", "replace")
            body = self._redact(body_bytes.decode("utf-8", errors="replace"))
            message = _server_message(body) or str(getattr(exc, "status_message", "") or "")
            text = f"the server at {conn.url} answered the handshake with HTTP {status}"
            if message:
                text += f": {message}"
            if status in (401, 403):
                return AuthenticationError(
                    text + ". Check the API key (the api_key argument or OPENAI_API_KEY).",
                    status_code=status,
                    body=body,
                )
            return HandshakeError(text, status_code=status, body=body)
        if isinstance(exc, websocket.WebSocketAddressException):
            return RealtimeConnectionError(
                f"cannot resolve host {self._host!r} (DNS lookup failed: {exc}); check the URL "
                "and the network"
            )
        if isinstance(exc, (websocket.WebSocketTimeoutException, socket.timeout, TimeoutError)):
            limit = "" if conn.timeout is None else f" after {conn.timeout:g} s"
            return RealtimeTimeoutError(
                f"timed out{limit} connecting to {conn.url}; check the URL, the network and any "
                "proxy, or pass a longer timeout"
            )
        if isinstance(exc, ssl.SSLError):
            return RealtimeConnectionError(
                f"TLS handshake with {where} failed: {exc}. Check that the server speaks TLS "
                "(wss://) and that its certificate is trusted"
            )
        if isinstance(exc, ConnectionRefusedError):
            return RealtimeConnectionError(
                f"connection refused by {where}: is the server running, and is the URL right?"
            )
        if isinstance(exc, websocket.WebSocketProxyException):
            return RealtimeConnectionError(f"the proxy refused the connection to {where}: {exc}")
        if isinstance(exc, OSError):
            return RealtimeConnectionError(f"cannot connect to {where}: {exc}")
        if exc is None:
            return RealtimeConnectionError(f"the connection to {conn.url} closed during the handshake")
        return RealtimeConnectionError(
            f"the WebSocket handshake with {conn.url} failed: {self._redact(str(exc))}"
        )

    # -- closing helpers (any thread) -----------------------------------------

    def _send_close_frame(self, conn: _Connection, code: int, reason: str) -> None:
        ws = conn.ws
        if ws is None or not ws.connected:
            return
        if not self._send_lock.acquire(timeout=_CLOSE_GRACE):
            return  # a send is stuck; the socket will be shut down instead
        try:
            ws.send_close(code, reason.encode("utf-8"))
        except Exception as exc:  # the socket is already gone
            logger.debug("could not send a close frame to %s: %r", conn.url, exc)
        finally:
            self._send_lock.release()

    def _abandon(self, conn: _Connection) -> None:
        """Give up a connection attempt that timed out (caller's thread)."""
        with self._state_lock:
            conn.closing = True
        if conn.app is not None:
            conn.app.keep_running = False
        self._abort_socket(conn)
        if conn.thread is not None and conn.thread is not threading.current_thread():
            conn.thread.join(_CLOSE_GRACE)

    @staticmethod
    def _abort_socket(conn: _Connection) -> None:
        """Shut the raw socket down so a blocked read in the loop returns."""
        ws = conn.ws
        if ws is None and conn.app is not None:
            ws = conn.app.sock
        raw = getattr(ws, "sock", None)
        if raw is not None:
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- logging --------------------------------------------------------------

    def _log_event(self, direction: str, event: Mapping[str, Any]) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        logger.debug(
            "%s %s event_id=%s %s",
            direction,
            event.get("type"),
            event.get("event_id"),
            _summarize(event),
        )


def _summarize(event: Mapping[str, Any]) -> str:
    """A short, audio-free rendering of an event for debug logs."""
    shown: Dict[str, Any] = {}
    event_type = str(event.get("type", ""))
    for name, value in event.items():
        if name in ("type", "event_id"):
            continue
        if isinstance(value, str) and (
            name == "audio" or (name == "delta" and "audio" in event_type and "transcript" not in event_type)
        ):
            shown[name] = f"<{len(value)} base64 chars>"
        else:
            shown[name] = value
    try:
        text = json.dumps(shown, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(shown)
    return text if len(text) <= 500 else text[:500] + "..."


def _peer_close_args(exc: object) -> Optional[Tuple[Optional[int], Optional[str]]]:
    """``(code, reason)`` when ``on_error`` is told of the server's close frame, else ``None``.

    websocket-client 1.7 and 1.8 pass a close frame to ``on_close`` only.
    1.9.0 passes the close frame itself (an ``ABNF``) to ``on_error`` and then
    calls ``on_close`` with ``None, None``; 1.9.1 and later pass a
    ``WebSocketConnectionClosedException`` carrying ``status_code`` and
    ``reason`` to ``on_error``, then the code and reason to ``on_close``.
    """
    if isinstance(exc, websocket.ABNF):
        if exc.opcode != websocket.ABNF.OPCODE_CLOSE:
            return None
        data = exc.data
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not data or len(data) < 2:
            return None, None
        reason = bytes(data[2:]).decode("utf-8", errors="replace")
        return int.from_bytes(data[:2], "big"), reason or None
    if isinstance(exc, websocket.WebSocketConnectionClosedException) and hasattr(exc, "status_code"):
        code = getattr(exc, "status_code", None)
        reason = getattr(exc, "reason", None)
        return (code if isinstance(code, int) else None), (reason if isinstance(reason, str) else None)
    return None


def _server_message(body: str) -> str:
    """The human message in an HTTP error body (OpenAI's JSON error, or the text)."""
    body = body.strip()
    if not body:
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:300]
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, dict):
            message = error.get("message") or error.get("code")
            if message:
                return str(message)[:300]
        elif isinstance(error, str):
            return error[:300]
        message = parsed.get("message")
        if message:
            return str(message)[:300]
    return body[:300]


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
