"""RealtimeAPI's receive loop: the thread that reads the socket, and how a connection ends.

Private plumbing of :class:`realtime_sync.api.RealtimeAPI` (its public names
stay in :mod:`realtime_sync.api`):

* :class:`_Connection`: the state of one ``connect()``.
* :class:`_FrameReader`: the websocket-client dispatcher that reads frames
  back to back.
* :class:`_ReceiveLoop`: the mixin of RealtimeAPI's receive-thread methods:
  running ``WebSocketApp.run_forever``, parsing and dispatching each frame,
  turning websocket-client's ``on_error``/``on_close`` into one ``close``
  dispatch or a connect error, and the closing helpers.

Everything here runs on the receive thread unless its docstring says
otherwise. Log lines go to the ``realtime_sync.api`` logger, the one the
documentation names for the socket layer.
"""

from __future__ import annotations

import json
import logging
import select
import selectors
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import websocket

from .errors import (
    AuthenticationError,
    ConnectionClosedError,
    HandshakeError,
    ProtocolError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .api import _Secret

__all__: List[str] = []

# The socket layer's documented logger (README: "realtime_sync.api"), not __name__.
logger = logging.getLogger("realtime_sync.api")

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
# json.loads's decoder without its whitespace checks (see _ReceiveLoop._make_receiver).
_RAW_DECODE: Callable[[str], Tuple[Any, int]] = json.JSONDecoder().raw_decode


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
        # what a wait begun while this connection was open raises once it has ended
        self.closed_error: Optional[ConnectionClosedError] = None
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
                # Once keep_running is false, read_callback() only tears down: do not
                # wait on a socket websocket-client may already have closed (1.9.0
                # reports a close frame as a disconnect and asks for another read).
                if app.keep_running and not ((pending is not None and pending()) or wait()):
                    continue  # idle
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


class _ReceiveLoop:
    """RealtimeAPI's receive-thread methods (a mixin of :class:`realtime_sync.api.RealtimeAPI`).

    RealtimeAPI's constructor sets the attributes declared here; the methods
    under ``TYPE_CHECKING`` are RealtimeAPI's (or EventHandler's).
    """

    debug: bool
    _base_url: "_Secret"
    _host: str
    _secure: bool
    _ping_interval: float
    _ping_timeout: Optional[float]
    _max_frame_size: Optional[int]
    _on_server_event: Optional[Callable[[Dict[str, Any]], None]]
    _ssl_context: Optional[ssl.SSLContext]
    _state_lock: threading.Lock
    _send_lock: threading.Lock

    if TYPE_CHECKING:  # pragma: no cover

        @property
        def url(self) -> str: ...

        def dispatch(self, name: str, event: Dict[str, Any]) -> None: ...

        def _redact(self, text: str) -> str: ...

        def _fail_waiters(self, tag: object, error: BaseException) -> int: ...

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
        # json.loads(text) is decoder.decode(text): raw_decode(text) between
        # two whitespace regex matches, about 1 us a frame. Call the public
        # raw_decode and check that the value ends the frame; leave every
        # other case (leading or trailing whitespace, extra data, a BOM, not
        # JSON at all) to json.loads, so the result and the errors are
        # json.loads's own.
        raw_decode = _RAW_DECODE
        max_size = self._max_frame_size
        first = self._on_server_event

        def receive(app: websocket.WebSocketApp, message: Any) -> None:
            try:
                if max_size is not None and len(message) > max_size:
                    self._frame_too_big(conn, app, message)
                    return
                try:
                    if isinstance(message, (bytes, bytearray)):
                        message = message.decode("utf-8")
                    try:
                        event, end = raw_decode(message)
                    except ValueError:
                        end = -1
                    if end != len(message):
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
                if first is not None:
                    try:
                        first(event)
                    except Exception:
                        logger.exception("on_server_event failed for %s", event_type)
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
        payload: Optional[Dict[str, Any]] = None
        with self._state_lock:
            was_open = conn.open
            conn.open = False
            if was_open:
                payload = self._close_payload(conn)
                conn.closed_error = _closed_error(conn.url, payload)
            conn.finished.set()
        if payload is None:
            if conn.failure is None:
                if conn.closing:
                    conn.failure = RealtimeConnectionError(
                        f"the connection attempt to {conn.url} was cancelled by disconnect()"
                    )
                else:
                    conn.failure = self._connect_error(conn)
            conn.opened.set()
            return
        log = logger.debug if not payload["error"] else logger.info
        log("connection to %s closed: code=%s reason=%s", conn.url, payload["code"], payload["reason"])
        assert conn.closed_error is not None
        # Waits begun while this connection was open raise before ``close`` runs.
        self._fail_waiters(conn, conn.closed_error)
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


def _closed_error(url: str, payload: Mapping[str, Any]) -> ConnectionClosedError:
    """The error a wait on a connection that has ended raises (``payload``: the ``close`` payload)."""
    code, reason = payload.get("code"), payload.get("reason")
    detail = ""
    if code is not None:
        detail = f" (code {code}{': ' + reason if reason else ''})"
    elif reason:
        detail = f" ({reason})"
    return ConnectionClosedError(f"the connection to {url} closed{detail}", code=code, reason=reason)


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
        text = bytes(data[2:]).decode("utf-8", errors="replace")
        return int.from_bytes(data[:2], "big"), text or None
    if isinstance(exc, websocket.WebSocketConnectionClosedException) and hasattr(exc, "status_code"):
        code = getattr(exc, "status_code", None)
        reason = getattr(exc, "reason", None)
        return (code if isinstance(code, int) else None), (reason or None if isinstance(reason, str) else None)
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
