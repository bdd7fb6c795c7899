"""One WebSocket connection: its socket, its receive thread, and how it ends.

A :class:`Connection` is made for one ``connect()`` and given its listeners;
it knows nothing of its owner:

* ``on_event(event)``: each server frame that is a JSON object with a string
  ``type``, parsed once, in arrival order;
* ``on_error(payload)``: a frame that is not one (``payload`` is the
  ``error`` dispatch: ``{"error": ProtocolError, "event", "client_event": None,
  "raw"}``), or a frame refused by size or framing rules (then the
  connection closes with 1009 or 1002);
* ``on_close(payload, error)``: once, after an open connection has ended,
  with ``{"error": bool, "code", "reason"}`` and the
  :class:`~realtime_sync.errors.ConnectionClosedError` that describes it;
* ``on_open()``: once the handshake has succeeded (optional).

All of them run on the receive thread (named by the owner). websocket-client
performs the handshake (DNS, proxy, TLS, HTTP upgrade) on that thread; the
frames are then read by :class:`~.frames.FrameReader` in large blocks.

Liveness is judged on the socket, never on the callbacks' progress. The
receive thread sends a ping every ``ping_interval`` seconds; a ping not
answered within ``ping_timeout`` seconds, or a message whose bytes keep
trickling in for more than ``frame_timeout`` seconds, ends the connection.
A deadline is only judged after everything the socket already holds has been
read and parsed (pongs are counted as they are parsed, before the messages
read with them reach a callback), so a callback that runs for seconds delays
the next ping but never makes a healthy connection look dead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ..errors import (
    ConnectionClosedError,
    NotConnectedError,
    ProtocolError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
)
from .config import IO_TIMEOUT, Listeners, Timing
from .encoding import decode_event
from .failures import Attempt, answer_code, close_payload, closed_error, connect_error, describe_failure
from .frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameReader,
    configure,
    encode_frame,
    parse_close,
    send_all,
    socket_receiver,
)
from .proxy import reveal_options
from .secrets import Redactor, Secret, clear_traceback

if TYPE_CHECKING:
    import socket
    import ssl

    import websocket
else:  # imported by the first connect(), not by `import realtime_sync`
    from .._lazy import socket, websocket

__all__ = ["Connection", "Listeners", "Timing", "IO_TIMEOUT", "CLOSE_GRACE"]

logger = logging.getLogger(__name__)

#: How long a closing handshake may take before the socket is shut (seconds).
CLOSE_GRACE = 1.0
_RAW_PREVIEW = 200
_DRAIN_LIMIT = 8 * 1024 * 1024  # bytes read before judging an overdue deadline
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Connection:
    """One WebSocket connection and the thread that reads it.

    Args:
        url: the URL to open (it may hold a credential).
        headers: returns the handshake header lines when the handshake starts
            (they hold the key: nothing keeps them).
        attempt: what the attempt is, for error messages.
        redactor: masks this connection's credentials in every text it reports.
        timing: the time and size limits.
        listeners: where events, errors and the end are reported.
        thread_name: the receive thread's name.
        ssl_context: the TLS context for ``wss://``.
        proxy: websocket-client's proxy options (``http_proxy_host`` ...).
    """

    def __init__(
        self,
        url: Secret,
        headers: Callable[[], List[str]],
        attempt: Attempt,
        redactor: Redactor,
        timing: Timing,
        listeners: Listeners,
        *,
        thread_name: str,
        ssl_context: Optional[ssl.SSLContext] = None,
        proxy: Optional[Dict[str, Any]] = None,
    ) -> None:
        self._url = url
        self._headers = headers
        self.attempt = attempt
        self._redactor = redactor
        self._timing = timing
        self._listeners = listeners
        self._ssl_context = ssl_context
        self._proxy = dict(proxy or {})
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ws: Optional[websocket.WebSocket] = None
        self._sock: Any = None
        self.thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self.opened = threading.Event()  # set on open and on failure
        self.finished = threading.Event()  # set when the receive thread is done
        self.open = False
        self.closing = False
        self._close_deadline: Optional[float] = None
        self._close_sent = False
        self.failure: Optional[RealtimeError] = None
        self.cause: Optional[BaseException] = None
        self._close_code: Optional[int] = None
        self._close_reason: Optional[str] = None
        self._local_close: Optional[Tuple[int, str]] = None
        self._end_reason: Optional[str] = None  # why it ended without a close frame
        #: what a wait on this connection raises once it has ended
        self.closed_error: Optional[ConnectionClosedError] = None

    # -- opening (caller's thread) -----------------------------------------------

    def open_within(self, timeout: Optional[float]) -> None:
        """Start the receive thread and block until the socket is open.

        Raises:
            RealtimeError: the attempt failed (see :func:`~.failures.connect_error`),
                timed out, or was cancelled by :meth:`close`.
        """
        self.thread.start()
        try:
            opened = self.opened.wait(timeout)
        except BaseException:  # KeyboardInterrupt while waiting: leave no socket behind
            self._abandon()
            raise
        if not opened:
            self._abandon()
            via = f" through the proxy {self.attempt.proxy}" if self.attempt.proxy else ""
            raise RealtimeTimeoutError(
                f"timed out after {timeout:g} s connecting to {self.attempt.url}{via}; check the URL, "
                "the network and any proxy, or pass a longer timeout"
            )
        if self.failure is not None:
            if self.thread is not threading.current_thread():
                self.thread.join(CLOSE_GRACE)
            cause = self.cause
            if cause is not None and self._redactor.holds_secret(str(cause)):
                cause = None  # never chain an exception whose text holds a credential
            raise self.failure from cause

    def _abandon(self) -> None:
        with self._lock:
            self.closing = True
        self._shutdown()
        if self.thread is not threading.current_thread():
            self.thread.join(CLOSE_GRACE)

    # -- state (any thread) --------------------------------------------------------

    def is_open(self) -> bool:
        return self.open and not self.closing

    # -- sending (any thread) --------------------------------------------------------

    def send(self, payload: bytes, what: str, opcode: int = OP_TEXT) -> None:
        """Write one frame (``what`` names it in errors).

        Raises:
            NotConnectedError: not open, or the socket failed while writing.
            RealtimeTimeoutError: the socket accepted nothing for its timeout, or
                another send has held the socket that long.
        """
        frame = encode_frame(opcode, payload)
        io_timeout = self._timing.io_timeout
        if not self._send_lock.acquire(timeout=io_timeout):
            raise RealtimeTimeoutError(f"cannot send {what}: another send() has blocked for {io_timeout:g} s")
        try:
            sock = self._sock
            if sock is None or not self.open or self.closing or self._close_sent:  # nothing after a close frame
                raise NotConnectedError(f"cannot send {what}: the connection has closed")
            send_all(sock, frame)
        except (socket.timeout, TimeoutError) as exc:
            raise RealtimeTimeoutError(
                f"cannot send {what}: the server accepted nothing for {io_timeout:g} s"
            ) from exc
        except OSError as exc:
            raise NotConnectedError(f"cannot send {what}: the connection has closed ({type(exc).__name__})") from exc
        finally:
            self._send_lock.release()

    def _send_control(self, opcode: int, payload: bytes, wait: float) -> bool:
        """Write a control frame unless the socket stays busy for ``wait`` seconds."""
        sock = self._sock
        if sock is None or not self._send_lock.acquire(timeout=wait):
            return False
        try:
            send_all(sock, encode_frame(opcode, payload))
            return True
        except OSError as exc:
            logger.debug("could not send a control frame to %s: %r", self.attempt.url, exc)
            return False
        finally:
            self._send_lock.release()

    # -- closing (any thread) --------------------------------------------------------

    def close(self, timeout: Optional[float]) -> None:
        """Close with code 1000, wait up to ``timeout`` s for the receive thread (not on it)."""
        with self._lock:
            first = not self.closing
            self.closing = True
            if first:
                self._close_deadline = time.monotonic() + CLOSE_GRACE
        on_receive_thread = self.thread is threading.current_thread()
        if first and self.open:
            self._send_close(1000, "")
        if not self.open and not self.finished.is_set():
            self._shutdown()  # still in the handshake: cancel it
        if on_receive_thread or self.thread.ident is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        self.thread.join(CLOSE_GRACE if timeout is None else min(CLOSE_GRACE, timeout))
        if self.thread.is_alive():
            self._shutdown()  # the server did not answer the close frame in time
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.thread.join(remaining)
            if self.thread.is_alive():
                logger.warning(
                    "the receive thread of %s is still running %s s after disconnect()", self.attempt.url, timeout
                )

    def _send_close(self, code: int, reason: str) -> None:
        with self._lock:
            if self._close_sent:
                return
            self._close_sent = True
        self._send_control(OP_CLOSE, code.to_bytes(2, "big") + reason.encode("utf-8")[:123], CLOSE_GRACE)

    def _shutdown(self) -> None:
        """Shut the socket down so that a blocked read or handshake returns."""
        sock = self._sock
        if sock is None and self._ws is not None:
            sock = self._ws.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass

    # -- the receive thread --------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._handshake():
                self._read_loop()
        except Exception as exc:  # a safety net: the loop handles its own errors
            if self.cause is None:
                self.cause = exc
            logger.exception("the receive loop of %s failed", self.attempt.url)
        finally:
            self._finish()

    def _handshake(self) -> bool:
        """Open the socket with websocket-client; ``False`` (and :attr:`cause` set) on failure."""
        sslopt: Dict[str, Any] = {}
        if self._ssl_context is not None:
            sslopt["context"] = self._ssl_context
        ws = websocket.WebSocket(sslopt=sslopt, skip_utf8_validation=True)
        self._ws = ws
        timeout = self._timing.connect
        try:
            if self.closing:
                raise RealtimeConnectionError("cancelled")
            # The URL and header lines hold the key: they are passed inline, never
            # kept in a local, and the frames they reach are cleared on failure.
            ws.connect(  # type: ignore[no-untyped-call]
                self._url.reveal(),
                header=self._headers(),
                timeout=timeout,
                redirect_limit=0,
                **reveal_options(self._proxy),
            )
            if getattr(ws.handshake_response, "status", None) in _REDIRECTS:
                # websocket-client before 1.9.2 reports a redirect it did not follow as connected
                raise websocket.WebSocketException("the handshake was redirected")
        except Exception as exc:
            redirect = None
            response = getattr(ws, "handshake_response", None)
            if response is not None and getattr(response, "status", None) in _REDIRECTS:
                redirect = (int(response.status), str(response.headers.get("location") or ""))
            clear_traceback(exc)
            self.cause = exc
            if not self.closing:
                self.failure = connect_error(exc, self.attempt, self._redactor, redirect)
            return False
        sock = ws.sock
        if sock is None:
            return False
        with self._lock:
            cancelled = self.closing
            if not cancelled:
                self._sock = sock
                self.open = True
        if cancelled:
            return False
        configure(sock, self._timing.io_timeout)  # bounds writes; reads wait in socket_receiver
        logger.debug("connected to %s", self.attempt.url)
        if self._listeners.on_open is not None:
            try:
                self._listeners.on_open()
            except Exception:
                logger.exception("the on_open listener of %s failed", self.attempt.url)
        self.opened.set()
        return True

    def _read_loop(self) -> None:  # noqa: C901 - one loop, kept whole for speed
        sock = self._sock
        timing = self._timing
        reader = FrameReader(timing.max_frame_size)
        parse = reader.parse
        receive, close_waiter = socket_receiver(sock, reader)
        deliver = self._deliverer()
        monotonic = time.monotonic
        ping_interval = timing.ping_interval
        ping_timeout = timing.ping_timeout or 0.0
        frame_timeout = timing.frame_timeout
        next_ping = monotonic() + ping_interval if ping_interval else None
        ping_sent: Optional[float] = None
        pongs = 0
        try:
            while True:
                # the nearest deadline: a ping to send, a pong, a message, the close
                deadline = next_ping if ping_sent is None else ping_sent + ping_timeout
                if frame_timeout and reader.partial_since is not None:
                    limit = reader.partial_since + frame_timeout
                    deadline = limit if deadline is None or limit < deadline else deadline
                if self._close_deadline is not None and (deadline is None or self._close_deadline < deadline):
                    deadline = self._close_deadline
                if receive(None if deadline is None else max(0.0, deadline - monotonic())) == 0:
                    self._end_reason = "the server closed the TCP connection without a close frame"
                    return
                frames = parse()
                if reader.pongs != pongs:
                    pongs = reader.pongs
                    ping_sent = None
                now = monotonic()
                if deadline is not None and now >= deadline:
                    overdue = self._overdue(now, reader, ping_sent, ping_timeout, frame_timeout)
                    if overdue is not None:
                        # judge only what the socket has had time to deliver: read it first
                        drained = 0
                        while drained < _DRAIN_LIMIT:
                            count = receive(0.0)
                            if not count:  # nothing more (None), or the end (0)
                                break
                            drained += count
                            frames.extend(parse())
                        if reader.pongs != pongs:
                            pongs = reader.pongs
                            ping_sent = None
                        overdue = self._overdue(now, reader, ping_sent, ping_timeout, frame_timeout)
                        if overdue is not None:
                            self._end_reason = overdue
                            if overdue is not _CLOSE_TIMEOUT:
                                self._deliver_frames(frames, deliver)
                            return
                    if next_ping is not None and ping_sent is None and now >= next_ping:
                        if self._send_control(OP_PING, b"", 1.0) and ping_timeout:
                            ping_sent = now
                        next_ping = now + ping_interval
                if frames and self._deliver_frames(frames, deliver):
                    return
                if reader.error is not None:
                    self._refuse(reader.error)
                    return
        except (OSError, ValueError) as exc:  # reset, TLS failure, socket closed by close()
            if self.cause is None:
                self.cause = exc
            if not self.closing:
                self._end_reason = describe_failure(exc, self._redactor)
        finally:
            close_waiter()

    def _overdue(
        self,
        now: float,
        reader: FrameReader,
        ping_sent: Optional[float],
        ping_timeout: Optional[float],
        frame_timeout: Optional[float],
    ) -> Optional[str]:
        """Why the connection must end now, or ``None``."""
        if ping_sent is not None and ping_timeout and now - ping_sent >= ping_timeout:
            return f"ping/pong timed out: no pong within {ping_timeout:g} s"
        if frame_timeout and reader.partial_since is not None and now - reader.partial_since >= frame_timeout:
            return (
                f"frame timed out: a message was still incomplete {frame_timeout:g} s after its first "
                f"byte ({reader.received} bytes received in all)"
            )
        if self._close_deadline is not None and now >= self._close_deadline:
            return _CLOSE_TIMEOUT
        return None

    def _deliver_frames(self, frames: List[Tuple[int, bytes]], deliver: Callable[[bytes], None]) -> bool:
        """Hand over the parsed frames in order; ``True`` once a close frame ends the connection."""
        for opcode, payload in frames:
            if opcode == OP_TEXT or opcode == OP_BINARY:
                if not self.closing:
                    deliver(payload)
            elif opcode == OP_CLOSE:
                code, reason = parse_close(payload)
                self._close_code = code
                self._close_reason = self._redactor.text(reason) if reason else None
                # answer with the same code (1000 for a close without one, 1002 for a
                # code no endpoint may send), then stop
                self._send_close(answer_code(code), "")
                return True
            elif opcode == OP_PING:
                self._send_control(OP_PONG, payload, 1.0)
        return False

    def _deliverer(self) -> Callable[[bytes], None]:
        """The per-message hot path: decode, parse once, check, hand to ``on_event``."""
        on_event = self._listeners.on_event
        decode = decode_event
        report = self._report_malformed
        url = self.attempt.url

        def deliver(payload: bytes) -> None:
            try:
                try:
                    event = decode(payload)
                except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError
                    report(payload, f"not valid UTF-8 JSON ({exc})", None)
                    return
                except RecursionError:  # arrays or objects nested deeper than the parser goes
                    report(payload, "JSON nested too deeply to parse", None)
                    return
                if type(event) is not dict:
                    report(payload, f"a JSON {type(event).__name__}, not an object", None)
                    return
                if type(event.get("type")) is not str:
                    report(payload, "a JSON object without a string 'type'", event)
                    return
                on_event(event)
            except Exception:  # a listener's bug never ends the loop
                logger.exception("failed to handle a frame from %s", url)

        return deliver

    def _preview(self, payload: bytes) -> str:
        text = payload[: _RAW_PREVIEW * 4].decode("utf-8", errors="replace")
        return self._redactor.text(text)[:_RAW_PREVIEW]

    def _report_malformed(self, payload: bytes, why: str, event: Optional[Dict[str, Any]]) -> None:
        raw = self._preview(payload)
        error = ProtocolError(f"the server sent a frame that is {why}: {raw[:60]!r}", event=event)
        self._listeners.on_error({"error": error, "event": event, "client_event": None, "raw": raw})

    def _refuse(self, fault: FrameError) -> None:
        """A frame broke the size or framing rules: report it once and close with its code."""
        reason = "message too big" if fault.code == 1009 else "protocol error"
        logger.info("closing %s: the server sent a %s", self.attempt.url, fault)
        self._local_close = (fault.code, reason)
        try:
            error = ProtocolError(f"the server sent a {self._redactor.text(str(fault))}")
            self._listeners.on_error(
                {"error": error, "event": None, "client_event": None, "raw": self._preview(fault.preview)}
            )
        except Exception:
            logger.exception("the on_error listener of %s failed", self.attempt.url)
        self._send_close(fault.code, reason)

    def _finish(self) -> None:
        """End of the receive thread: free the socket, then report the failure or the end."""
        sock = self._sock if self._sock is not None else (self._ws.sock if self._ws is not None else None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
            try:
                sock.close()
            except OSError:
                pass
        payload: Optional[Dict[str, Any]] = None
        with self._lock:
            was_open = self.open
            self.open = False
            if was_open:
                payload = close_payload(
                    self._local_close, self._close_code, self._close_reason, self.closing, self._end_reason
                )
                self.closed_error = closed_error(self.attempt.url, payload)
            self.finished.set()
        if payload is None:
            if self.failure is None:
                if self.closing:
                    self.failure = RealtimeConnectionError(
                        f"the connection attempt to {self.attempt.url} was cancelled by disconnect()"
                    )
                else:
                    self.failure = connect_error(self.cause, self.attempt, self._redactor)
            self.opened.set()
            return
        log = logger.debug if not payload["error"] else logger.info
        log("connection to %s closed: code=%s reason=%s", self.attempt.url, payload["code"], payload["reason"])
        assert self.closed_error is not None
        try:
            self._listeners.on_close(payload, self.closed_error)
        except Exception:
            logger.exception("the on_close listener of %s failed", self.attempt.url)


_CLOSE_TIMEOUT = "the server did not answer the close frame"

