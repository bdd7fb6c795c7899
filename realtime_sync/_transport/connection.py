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

All of them run on the receive thread (named by the owner), or, with a
``receive_loop``, on that :class:`~.loop.ReceiveLoop`'s thread.
websocket-client performs the handshake (DNS, proxy, TLS, HTTP upgrade) on
the connection's thread; the frames are then read by a
:class:`~.receiver.Receiver` (:class:`~.frames.FrameReader` in large blocks),
driven by that thread or handed to the loop.

Liveness is judged on the socket, never on the callbacks' progress. The
receive thread sends a ping every ``ping_interval`` seconds; a ping not
answered within ``ping_timeout`` seconds, or a message whose bytes keep
trickling in for more than ``frame_timeout`` seconds, ends the connection.
A ping the socket cannot take (its buffer full: the server stopped reading)
counts as sent, so that server is caught within ``ping_interval +
ping_timeout`` too; a send that times out halfway ends the connection.
A deadline is only judged after everything the socket already holds has been
read and parsed (pongs are counted as they are parsed, before the messages
read with them reach a callback), so a callback that runs for seconds delays
the next ping but never makes a healthy connection look dead.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Union

from ..errors import (
    ConnectionClosedError,
    NotConnectedError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
)
from .config import IO_TIMEOUT, Listeners, Timing
from .failures import Attempt, close_payload, closed_error, connect_error
from .frames import OP_CLOSE, OP_PING, OP_TEXT, SendTimeout, configure, encode_frame, send_all
from .loop import ReceiveLoop
from .proxy import reveal_options
from .receiver import Receiver
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
#: How long a shared loop's thread waits for another send to finish before it drops a control frame (seconds).
_LOOP_SEND_WAIT = 0.05
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _writable(sock: Any) -> bool:
    """Whether ``sock`` can take a small frame at once (its send buffer is not full)."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            return any(mask & select.POLLOUT for _, mask in poller.poll(0))
        return bool(select.select([], [sock], [], 0)[1])  # Windows: no descriptor limit
    except (OSError, ValueError):
        return False


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
        receive_loop: read by this shared loop after the handshake (which then
            runs on a short-lived thread, ``realtime-sync-connect``)
            instead of by a thread of its own.
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
        receive_loop: Optional[ReceiveLoop] = None,
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
        self.send_lock = self._send_lock  # every write holds it (the TLS reader too, briefly: see tls.py)
        self._ws: Optional[websocket.WebSocket] = None
        self._sock: Any = None
        self._loop = receive_loop
        self._receiver: Optional[Receiver] = None
        name = thread_name if receive_loop is None else "realtime-sync-connect"
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.opened = threading.Event()  # set on open and on failure
        self.finished = threading.Event()  # set when reading is done
        self._done = threading.Event()  # set once the end has been reported (after on_close)
        self.open = False
        self.closing = False
        self.close_deadline: Optional[float] = None
        self._close_sent = False
        self.failure: Optional[RealtimeError] = None
        self.cause: Optional[BaseException] = None
        #: what a wait on this connection raises once it has ended
        self.closed_error: Optional[ConnectionClosedError] = None
        #: why it was ended after a frame went out in part (no frame may follow)
        self._broken: Optional[str] = None

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
        if self._loop is not None and self.thread is not threading.current_thread():
            self.thread.join(CLOSE_GRACE)  # it hands the socket to the loop and ends: leave no thread

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

        A send that times out with part of the frame already on the wire ends
        the connection (its close reason says the send timed out): the rest of
        that frame can never follow, and the next frame would be read as part
        of it. One that times out with nothing written leaves the connection
        open: the stream is intact, so a later send may still go through, and
        whether the server is alive is for ``ping_timeout`` to judge (a server
        that stopped reading is caught that way). On a socket with a Python
        timeout (TLS, platforms other than Linux) what a timed-out ``sendall``
        wrote is not known, so there every send timeout ends the connection.

        Raises:
            NotConnectedError: not open, or the socket failed while writing.
            RealtimeTimeoutError: the socket accepted nothing for its timeout, or
                another send has held the socket that long.
        """
        self.send_frame(encode_frame(opcode, payload), what)

    def send_frame(self, frame: Union[bytes, bytearray, memoryview], what: str) -> None:
        """Write one frame already encoded and masked (as :meth:`send`, which it serves)."""
        io_timeout = self._timing.io_timeout
        if not self._send_lock.acquire(timeout=io_timeout):
            raise RealtimeTimeoutError(f"cannot send {what}: another send() has blocked for {io_timeout:g} s")
        try:
            sock = self._sock
            if sock is None or not self.open or self.closing or self._close_sent or self._broken:
                raise NotConnectedError(f"cannot send {what}: the connection has closed")  # nothing after a close frame
            send_all(sock, frame)
        except (socket.timeout, TimeoutError) as exc:
            written = getattr(exc, "written", None)
            if written != 0:  # part of the frame may be on the wire: nothing can follow it
                self._break(f"send timed out: {what} was only partly sent in {io_timeout:g} s", exc)
            raise RealtimeTimeoutError(
                f"cannot send {what}: the server accepted nothing for {io_timeout:g} s"
                + ("" if written == 0 else ", with part of it sent: the connection was closed")
            ) from exc
        except OSError as exc:
            raise NotConnectedError(f"cannot send {what}: the connection has closed ({type(exc).__name__})") from exc
        finally:
            self._send_lock.release()

    def send_control(self, opcode: int, payload: bytes, wait: float) -> bool:
        """Write a control frame unless the socket stays busy for ``wait`` seconds.

        On a shared loop's thread it never waits on a full socket (every
        session on the loop would wait with it): the frame is dropped when the
        socket's buffer is full, and another send holding the socket is waited
        for only briefly, while the socket takes bytes. Nor does a ping, on
        any thread: the receiver counts a ping it could not send as sent (its
        pong deadline runs) and tries again shortly.
        """
        sock = self._sock
        if sock is None or self._broken:
            return False
        # a ping never waits on a full socket either: the receiver sends it again soon
        now_only = opcode == OP_PING or (self._loop is not None and self._loop.is_loop_thread())
        if now_only:
            if not self._send_lock.acquire(blocking=False) and not (
                _writable(sock) and self._send_lock.acquire(timeout=_LOOP_SEND_WAIT)
            ):
                return False
        elif not self._send_lock.acquire(timeout=wait):
            return False
        try:
            if now_only and not _writable(sock):
                return False
            send_all(sock, encode_frame(opcode, payload))
            return True
        except OSError as exc:
            logger.debug("could not send a control frame to %s: %r", self.attempt.url, exc)
            if isinstance(exc, SendTimeout) and exc.written != 0:
                self._break("send timed out: a control frame was only partly sent", exc)
            return False
        finally:
            self._send_lock.release()

    def _break(self, reason: str, cause: BaseException) -> None:
        """End the connection after a frame went out in part (under the send lock): no frame may follow."""
        with self._lock:
            if self._broken is None:
                self._broken = reason
                if self.cause is None:
                    self.cause = cause
        logger.info("closing %s: %s", self.attempt.url, reason)
        self._shutdown()  # the receiver sees the end and reports it with this reason

    # -- closing (any thread) --------------------------------------------------------

    def close(self, timeout: Optional[float]) -> None:
        """Close with code 1000, wait up to ``timeout`` s for the end to be reported (not on the receive thread)."""
        self.begin_close()
        loop = self._loop
        if self.thread.ident is None or self.thread is threading.current_thread():
            return
        if loop is not None and loop.is_loop_thread():
            return  # a callback on the shared loop: it ends the connection after the callback
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._wait_ended(CLOSE_GRACE if timeout is None else min(CLOSE_GRACE, timeout)):
            self._shutdown()  # the server did not answer the close frame in time
            if not self._wait_ended(None if deadline is None else max(0.0, deadline - time.monotonic())):
                logger.warning(
                    "the receive thread of %s is still running %s s after disconnect()", self.attempt.url, timeout
                )
                return
        if loop is not None:  # the last connection to leave ends the loop's thread
            loop.wait_idle(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def begin_close(self) -> None:
        """Send the close frame (code 1000) and start the close deadline; wait for nothing (any thread)."""
        with self._lock:
            first = not self.closing
            self.closing = True
            if first:
                self.close_deadline = time.monotonic() + CLOSE_GRACE
        if first and self.open:
            self.send_close(1000, "")
        if not self.open and not self.finished.is_set():
            self._shutdown()  # still in the handshake: cancel it
        receiver = self._receiver
        if first and self._loop is not None and receiver is not None:
            self._loop.refresh(receiver)  # the loop judges the new deadline

    def _wait_ended(self, timeout: Optional[float]) -> bool:
        """Wait up to ``timeout`` s for the end to be reported; whether it was."""
        if self._loop is None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        if not self._done.wait(timeout):
            return False
        self.thread.join(CLOSE_GRACE)  # the handshake thread, long done or about to be
        return True

    def send_close(self, code: int, reason: str) -> None:
        with self._lock:
            if self._close_sent:
                return
            self._close_sent = True
        self.send_control(OP_CLOSE, code.to_bytes(2, "big") + reason.encode("utf-8")[:123], CLOSE_GRACE)

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
        handed_over = False
        try:
            if self._handshake():
                receiver = Receiver(self._sock, self, self._timing, self._listeners, self._redactor, self.attempt.url)
                self._receiver = receiver
                if self._loop is None:
                    receiver.run()
                else:
                    try:
                        self._loop.register(receiver, self._finish, self.begin_close)
                        handed_over = True
                    except RealtimeError as exc:  # the loop was closed meanwhile
                        receiver.release()
                        receiver.cause = exc
                        receiver.end_reason = str(exc)
        except Exception as exc:  # a safety net: the loop handles its own errors
            if self.cause is None:
                self.cause = exc
            logger.exception("the receive loop of %s failed", self.attempt.url)
        finally:
            if not handed_over:
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
        try:
            self._report_end()
        finally:
            self._done.set()

    def _report_end(self) -> None:
        payload: Optional[Dict[str, Any]] = None
        receiver = self._receiver
        if receiver is not None and self.cause is None:
            self.cause = receiver.cause
        with self._lock:
            was_open = self.open
            self.open = False
            if was_open:
                if self._broken is not None:  # ended by a send that timed out halfway
                    payload = close_payload(None, None, None, False, self._broken)
                elif receiver is None:
                    payload = close_payload(None, None, None, self.closing, None)
                else:
                    payload = close_payload(
                        receiver.local_close, receiver.close_code, receiver.close_reason, self.closing, receiver.end_reason
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


