"""The socket layer: one Realtime API WebSocket served by a background thread.

:class:`RealtimeAPI` holds a connection's configuration (URL, credentials,
headers, dialect, limits) and makes one private connection object per
:meth:`~RealtimeAPI.connect`: the connection owns the socket and one daemon
thread, named ``realtime-sync-recv``, that reads it, parses each server frame
once and hands it to RealtimeAPI, which dispatches it as ``server.<type>`` and
then ``server.*``. Every callback registered on those names runs on that
thread, in arrival order: keep them short and hand slow work to a worker
thread. With ``receive_loop=`` a shared :class:`~realtime_sync.ReceiveLoop`
reads the socket instead, and the callbacks run on its one thread.

Two wire dialects (``protocol``): ``"ga"``, what OpenAI's live service (and
the simulator) speaks and the default, and ``"beta"`` (relays, older Azure
deployments, recordings: ask for it with ``protocol="beta"``). The caller
always speaks the beta programming model: :meth:`RealtimeAPI.send` translates
each client event with :func:`realtime_sync.dialects.client_to_wire` before
writing it. Server events are dispatched exactly as they arrive, in the wire
dialect; translating them for a conversation is the caller's job
(:func:`realtime_sync.dialects.server_from_wire`).

Endpoints:

- OpenAI (``api.openai.com``): GA by default; ``Authorization: Bearer <key>``,
  the key from ``OPENAI_API_KEY`` when ``api_key`` is not given.
- Azure OpenAI (``<resource>.openai.azure.com``,
  ``<resource>.cognitiveservices.azure.com``): the key travels in an
  ``api-key`` header (from ``api_key=``, or ``AZURE_OPENAI_API_KEY``), never in
  ``Authorization``. ``wss://<resource>.openai.azure.com/openai/v1/realtime``
  speaks GA (no ``OpenAI-Beta`` header) and takes the *deployment* name as the
  model: ``connect(model="<deployment>")`` or ``?model=<deployment>`` in the
  URL. The older ``/openai/realtime?api-version=...&deployment=...`` form is
  beta by default and gets no ``model=`` (a model given to ``connect()``
  becomes ``deployment=`` when the URL has none).
- Any other host (relays, the simulator): GA by default (``protocol="beta"``
  for a server of the original protocol), a key only when one is given.

Where credentials go, and where they never go:

- A key (``api_key``, an ``api-key``/``Authorization`` header, a query
  parameter such as ``api-key``, ``key`` or ``token``, URL user info) is never
  sent over plain ``ws://`` to a host that is not loopback: the constructor
  raises :class:`~realtime_sync.errors.InsecureTransportError`.
- Redirects are refused: a 3xx answer to the handshake raises
  :class:`~realtime_sync.errors.HandshakeError` naming the ``Location`` (its
  credentials masked), and nothing is sent there.
- The key never appears in logs, reprs, exception messages, close reasons or
  HTTP bodies we report, nor in a server ``error`` event (the server may echo
  a key back: error events are masked before they are dispatched), and after
  a failed :meth:`~RealtimeAPI.connect` no traceback frame's locals hold it.

Liveness: the receive thread pings every ``ping_interval`` seconds; a pong
missing for ``ping_timeout`` seconds, or a message still incomplete
``frame_timeout`` seconds after its first byte, ends the connection (a
``close`` with ``error: True``, ``code: None`` and the reason). Deadlines are
judged on the socket, after what it already holds has been read, so a slow
callback delays pings but never makes a healthy connection look dead.

Events dispatched (payloads are dicts):

- ``server.<type>``, ``server.*``: each server event as it came off the wire
  (in the connection's dialect, untranslated; in ``error`` events the
  connection's credentials are masked).
- ``client.<type>``, ``client.*``: each event passed to :meth:`RealtimeAPI.send`,
  as written on the wire, on the sending thread, before it is written.
- ``error``: a frame that is not a JSON object with a string ``type``, or one
  refused by size or framing rules (the connection then closes with 1009 or
  1002): ``{"error": ProtocolError, "event": None or the object,
  "client_event": None, "raw": the frame text cut to 200 characters}``.
- ``close``: once per connection, when the socket has ended:
  ``{"error": bool, "code": int or None, "reason": str or None}``. ``error`` is
  false when :meth:`RealtimeAPI.disconnect` closed it or the server closed it
  with code 1000, true otherwise; a connection that ended without a close
  frame has ``code: None`` and a ``reason`` saying why (``connection reset by
  peer``, ``ping/pong timed out: no pong within 10 s``, ...). Just before it,
  every :meth:`RealtimeAPI.wait_for_next` begun while connected (for any other
  event) raises :class:`~realtime_sync.errors.ConnectionClosedError` with the
  same ``code`` and ``reason``.

Example::

    api = RealtimeAPI()                      # OPENAI_API_KEY from the environment
    api.on("server.session.created", lambda event: print(event["session"]["id"]))
    api.connect()
    api.send("response.create")
    api.disconnect()
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from . import dialects
from ._transport.config import ConnectionConfig, Listeners, is_number
from ._transport.connection import Connection
from ._transport.encoding import encode_event
from ._transport.loop import ReceiveLoop, on_loop_thread
from ._transport.secrets import Secret, summarize_event
from .errors import ConfigurationError, ConnectionClosedError, NotConnectedError, RealtimeConnectionError
from .events import EventHandler, check_timeout

if TYPE_CHECKING:
    import ssl

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

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# random byte -> base58 character (232 = 4 x 58 bytes used, the other 24 skipped)
_ID_TABLE = bytes(ord(_BASE58[value % 58]) for value in range(232)) + bytes(24)
_ID_SKIPPED = bytes(range(232, 256))


def generate_id(prefix: str, length: int = 21) -> str:
    """Return ``prefix`` followed by random base58 characters, ``length`` in all.

    The reference client's id format: ``generate_id("evt_")`` gives ``evt_``
    and 17 characters, drawn uniformly from :func:`os.urandom` bytes (what
    :func:`secrets.token_bytes` returns)
    (bytes 0-231 map four to a character; the rest are skipped).

    Raises:
        ValueError: ``length`` leaves no room after ``prefix``.
    """
    count = length - len(prefix)
    if count <= 0:
        raise ValueError(f"length {length} leaves no room after prefix {prefix!r}")
    chars = b""
    while len(chars) < count:
        chars += os.urandom(count + 8).translate(_ID_TABLE, _ID_SKIPPED)
    return prefix + chars[:count].decode("ascii")


class RealtimeAPI(EventHandler):
    """A Realtime API WebSocket connection that dispatches every event it carries.

    The constructor only checks and stores settings; :meth:`connect` opens the
    socket and starts the receive thread. Safe to use from several threads.

    Args:
        url: the WebSocket URL (``ws://`` or ``wss://``); default
            :data:`DEFAULT_URL`. Any query it has is kept.
        api_key: the key. Sent as ``Authorization: Bearer <key>``, or as an
            ``api-key`` header to Azure hosts. For OpenAI's host it defaults to
            the ``OPENAI_API_KEY`` environment variable, for Azure hosts to
            ``AZURE_OPENAI_API_KEY``; other hosts get no key unless given one.
        debug: log every event sent and received (type, ``event_id``, audio as
            its length) at DEBUG level on the ``realtime_sync.api`` logger.
        headers: extra handshake headers; a value of ``None`` removes a
            default header such as ``OpenAI-Beta``.
        query: extra query parameters for the URL.
        ping_interval: seconds between keep-alive pings, sent by the receive
            thread; ``None`` or 0 sends none.
        ping_timeout: seconds a ping may wait for its pong before the
            connection counts as dead (a ``close`` with the reason ``ping/pong
            timed out: no pong within ... s``); ``None`` never judges. Must be
            below ``ping_interval``. Judged only after everything the socket
            holds has been read: time spent in callbacks does not count.
            With both set, a write that makes no progress for
            ``ping_interval + ping_timeout`` seconds fails (30 s otherwise).
        frame_timeout: seconds a server message may take from its first byte to
            its last (a frame trickling in slowly is cut off with a ``close``
            whose reason starts ``frame timed out``); ``None`` sets no limit.
        max_frame_size: the largest server message accepted, in bytes, checked
            from the frame header before any of its payload is kept: a larger
            one is reported once as an ``error`` and the connection is closed
            with code 1009. ``None`` accepts any size.
        ssl_context: the TLS context for ``wss://`` (default: the system's CA
            certificates, host name checked).
        protocol: the wire dialect, ``"ga"`` or ``"beta"``. ``None`` (the
            default) picks ``"ga"``, what OpenAI's live service, Azure's
            ``/openai/v1/`` endpoints and the simulator speak, for every URL
            but Azure's older ``/openai/realtime?deployment=...`` form
            (``"beta"``); pass ``"beta"`` for a relay or server that speaks
            the original protocol. It decides the
            handshake headers (beta sends ``OpenAI-Beta: realtime=v1``), the
            default model and how :meth:`send` writes client events; it is
            kept as the attribute :attr:`protocol`.
        on_server_event: called on the receive thread with every parsed server
            event, before the ``server.<type>`` and ``server.*`` listeners (the
            owner's hook: :class:`~realtime_sync.client.RealtimeClient` updates
            its conversation there). An exception in it is logged, and the
            listeners and the loop go on.
        proxy: an explicit proxy, ``"http://[user:password@]host:port"`` (also
            ``socks4://``, ``socks4a://``, ``socks5://``, ``socks5h://``; the
            SOCKS kinds need the ``python-socks`` package). ``None`` (the
            default) honours the environment (``https_proxy`` for ``wss://``,
            ``http_proxy`` for ``ws://``, ``no_proxy``). A failure to reach the
            proxy is reported as such, naming it.
        receive_loop: a :class:`~realtime_sync.ReceiveLoop` shared with other
            connections: after the handshake its one thread reads this
            connection and runs its callbacks, instead of a thread of this
            connection's own (``None``, the default). See the README's
            many-sessions section for the trade-off.

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
        frame_timeout: Optional[float] = 30.0,
        max_frame_size: Optional[int] = 16 * 1024 * 1024,
        ssl_context: Optional[ssl.SSLContext] = None,
        protocol: Optional[str] = None,
        on_server_event: Optional[Callable[[Dict[str, Any]], None]] = None,
        proxy: Optional[str] = None,
        receive_loop: Optional[ReceiveLoop] = None,
    ) -> None:
        super().__init__()
        if receive_loop is not None and not isinstance(receive_loop, ReceiveLoop):
            raise ConfigurationError(f"receive_loop must be a ReceiveLoop or None, not {type(receive_loop).__name__}")
        #: The shared :class:`~realtime_sync.ReceiveLoop` that reads this connection, or ``None``.
        self.receive_loop = receive_loop
        if on_server_event is not None and not callable(on_server_event):
            raise ConfigurationError("on_server_event must be callable or None")
        self._on_server_event = on_server_event
        self._config = ConnectionConfig(
            DEFAULT_URL if url is None else url,
            api_key,
            headers=headers,
            query=query,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            frame_timeout=frame_timeout,
            max_frame_size=max_frame_size,
            ssl_context=ssl_context,
            proxy=proxy,
        )
        if protocol is None:
            protocol = self._config.endpoint.default_protocol()
        #: The wire dialect of this connection, ``"ga"`` or ``"beta"``.
        self.protocol: str = dialects.check_protocol(protocol)
        #: Log every event (type, event_id, audio length) at DEBUG level.
        self.debug = bool(debug)

        self._state_lock = threading.Lock()
        self._conn: Optional[Connection] = None

    # -- public API ---------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL given to the constructor, with credentials in it masked."""
        return self._config.url

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
        return conn is not None and conn.is_open()

    def is_receive_thread(self) -> bool:
        """Whether the calling thread is this connection's receive thread, or any ReceiveLoop's thread.

        Callbacks for server events run there; blocking on server events from
        it would deadlock (on a shared :class:`~realtime_sync.ReceiveLoop` it
        would also stall every other session on it).
        """
        if on_loop_thread():
            return True
        conn = self._conn
        return conn is not None and threading.current_thread() is conn.thread

    def connect(self, model: Optional[str] = None, timeout: Optional[float] = 10.0) -> bool:
        """Open the WebSocket and start the receive thread; block until it is open.

        Args:
            model: sent as the ``model`` query parameter (it replaces one the
                URL or ``query`` has; for Azure's GA endpoint it is the
                deployment name, and for Azure's older deployment URLs it
                becomes ``deployment=`` when the URL names none). ``None`` keeps
                the URL's own ``model`` if it has one, and otherwise asks for
                the dialect's default: ``gpt-realtime`` on GA,
                :data:`DEFAULT_MODEL` (``gpt-4o-realtime-preview-2024-10-01``)
                on beta.
            timeout: seconds for DNS, TCP, proxy, TLS and the handshake
                together; ``None`` waits for ever.

        Returns:
            ``True`` once the socket is open.

        Raises:
            AuthenticationError: HTTP 401/403; the message names the header the
                key went in (and the environment variable, when it came from one).
            HandshakeError: any other HTTP status, including a redirect (never
                followed; the message names the ``Location``, masked).
            RealtimeTimeoutError: no open socket within ``timeout``.
            RealtimeConnectionError: refused, DNS failure, TLS failure, proxy
                failure (naming the proxy), already connected, or cancelled by
                :meth:`disconnect`.
            ConfigurationError: no API key for OpenAI's host, no deployment for
                an Azure GA endpoint, or bad arguments.
        """
        if timeout is not None and (not is_number(timeout) or timeout <= 0):
            raise ConfigurationError("timeout must be None or a positive number of seconds")
        check_timeout(timeout)  # and no longer than threading can wait
        if model is not None and (not isinstance(model, str) or not model):
            raise ConfigurationError("model must be a non-empty str or None")
        endpoint = self._config.endpoint
        if self._config.api_key is None and endpoint.is_openai:
            raise ConfigurationError(
                f"no API key for {endpoint.host}: pass api_key=... or set the OPENAI_API_KEY "
                "environment variable"
            )
        target, model = self._target(model)
        if self.receive_loop is not None and self.receive_loop.closed:
            raise RealtimeConnectionError(f"cannot connect to {self.url}: its receive_loop has been closed")
        with self._state_lock:
            previous = self._conn
            if previous is not None and not previous.finished.is_set() and not previous.closing:
                raise RealtimeConnectionError(
                    f"already connected (or connecting) to {self.url}; call disconnect() first"
                )
            conn = self._new_connection(target, timeout)
            self._conn = conn
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("connecting to %s (model=%s, headers=%s)", self.url, model, self._shown_headers())
        conn.open_within(timeout)
        return True

    def disconnect(self, timeout: Optional[float] = 5.0) -> None:
        """Close the connection and wait for the receive thread to end.

        Sends a close frame (code 1000), gives the server a moment to answer,
        then shuts the socket down. Idempotent, and safe from any thread,
        including from a callback on the receive thread (it then returns at
        once and the thread ends after the callback returns). ``close`` is
        dispatched once, on the receive thread (not at all when :meth:`connect`
        has begun a new connection before the old one ended); when this
        returns on another thread, the ``close`` callbacks have run.

        Args:
            timeout: seconds to wait for the receive thread; ``None`` waits for
                ever. A thread still alive after it is logged as a warning.
        """
        conn = self._conn
        if conn is not None:
            conn.close(timeout)

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
                cannot be encoded as JSON in UTF-8 (a lone surrogate, say);
                then nothing is dispatched or written.
        """
        if not isinstance(event_name, str) or not event_name:
            raise ConfigurationError("event_name must be a non-empty str such as 'response.create'")
        if data is None:
            data = {}
        elif type(data) is not dict and not isinstance(data, Mapping):  # typing's isinstance is slow: dicts first
            raise ConfigurationError(f"data must be a dict, not {type(data).__name__}")
        declared = data.get("type", event_name)
        if declared != event_name:
            raise ConfigurationError(f"data has type {declared!r} but the event name is {event_name!r}")
        conn = self._conn
        if conn is None or not conn.is_open():
            raise NotConnectedError(f"cannot send {event_name!r}: not connected; call connect() first")
        event_id = data["event_id"] if "event_id" in data else generate_id("evt_")
        event: Dict[str, Any] = {"event_id": event_id, "type": event_name}
        event.update(data)
        event["type"] = event_name
        event = dialects.client_to_wire(event, self.protocol)
        event_name = event["type"]
        payload = encode_event(event)
        self.dispatch("client." + event_name, event)
        self.dispatch("client.*", event)
        if self.debug:
            self._log_event("sent", event)
        conn.send(payload, repr(event_name))
        return event

    def _write_frame(self, frame: Union[bytes, bytearray, memoryview], what: str) -> None:
        """Write one frame its owner encoded and masked itself (the client's audio append): no event, no dispatch.

        Raises: as :meth:`send` (``what`` names the event in errors).
        """
        conn = self._conn
        if conn is None or not conn.is_open():
            raise NotConnectedError(f"cannot send {what}: not connected; call connect() first")
        conn.send_frame(frame, what)

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
        # the close listener may have failed the waiters without it: withdraw it.
        if conn.finished.is_set() and self._remove_waiter(name, waiter):
            assert conn.closed_error is not None
            raise conn.closed_error
        return self._await_waiter(name, waiter, timeout)

    # -- EventHandler hook --------------------------------------------------

    def _is_dispatching_thread(self) -> bool:
        return super()._is_dispatching_thread() or self.is_receive_thread()

    # -- the connection and its listeners --------------------------------------

    def _target(self, model: Optional[str]) -> Tuple[Secret, Optional[str]]:
        """The URL to open (it may hold a key) and the model (deployment) it names."""
        return self._config.target(model, self.protocol)

    def _header_lines(self) -> List[str]:
        """The handshake header lines (they hold the key: never log or keep them)."""
        return self._config.header_lines(self.protocol)

    def _shown_headers(self) -> Dict[str, str]:
        return self._config.shown_headers(self.protocol)

    def _new_connection(self, target: Secret, timeout: Optional[float]) -> Connection:
        """One connection, given this object's listeners (under the state lock)."""
        config = self._config
        conn: Optional[Connection] = None

        def on_close(payload: Dict[str, Any], error: ConnectionClosedError) -> None:
            # waits begun while this connection was open raise before ``close`` runs
            self._fail_waiters(conn, error)
            with self._state_lock:
                superseded = self._conn is not conn
            if superseded:
                # disconnect() returned (from a callback, or past its timeout) and
                # connect() has begun a new connection since: "close" is about that
                # one, and listeners cannot tell this late end from its end
                logger.debug("connection to %s ended after a new one began: %s", self.url, payload)
                return
            self.dispatch("close", payload)

        conn = Connection(
            target,
            self._header_lines,
            config.attempt(timeout),
            config.redactor,
            config.timing(timeout),
            Listeners(self._event_listener(), self._error_listener, on_close),
            thread_name=RECEIVE_THREAD_NAME,
            ssl_context=config.ssl_context,
            proxy=config.proxy_options,
            receive_loop=self.receive_loop,
        )
        return conn

    def _event_listener(self) -> Callable[[Dict[str, Any]], None]:
        """The per-event hot path (receive thread): mask errors, hook, dispatch twice."""
        dispatch = self.dispatch
        first = self._on_server_event
        redactor = self._config.redactor
        mask = redactor.value if redactor else None

        def on_event(event: Dict[str, Any]) -> None:
            event_type = event["type"]
            if event_type == "error" and mask is not None:
                event = mask(event)
            if self.debug:
                self._log_event("received", event)
            if first is not None:
                try:
                    first(event)
                except Exception:
                    logger.exception("on_server_event failed for %s", event_type)
            dispatch("server." + event_type, event)
            dispatch("server.*", event)

        return on_event

    def _error_listener(self, payload: Dict[str, Any]) -> None:
        logger.warning("ignored a frame from %s: %s", self.url, payload["error"])
        self.dispatch("error", payload)

    # -- logging --------------------------------------------------------------

    def _log_event(self, direction: str, event: Mapping[str, Any]) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        logger.debug(
            "%s %s event_id=%s %s",
            direction,
            event.get("type"),
            event.get("event_id"),
            self._config.redactor.text(summarize_event(event)),
        )

