"""The receive side of one open connection, as a state object any loop can drive.

A :class:`Receiver` holds what reading one socket needs between two reads:
the :class:`~.frames.FrameReader`, the ping schedule, the pong count, the
deadline of an unfinished message (``frame_timeout``) and of the closing
handshake. It never waits itself; a loop asks it for its next deadline
(:meth:`Receiver.next_deadline`), waits for that or for the socket, and
hands it the outcome with :meth:`Receiver.step`. Two loops drive it:

* the connection's own receive thread (:meth:`Receiver.run`): one blocking
  read at a time, with the kernel's timeout set to the deadline;
* a shared :class:`~.loop.ReceiveLoop`: one thread and a selector for many
  connections; it calls :meth:`Receiver.on_readable` when the socket is
  readable and :meth:`Receiver.on_deadline` when the deadline has passed.

The connection it reads for is its :class:`Link` (it knows nothing else of
it): the listeners, the close state and the control frames it sends.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from ..errors import ProtocolError
from .config import Listeners, Timing
from .encoding import decode_event
from .failures import answer_code, describe_failure
from .frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameError, FrameReader, parse_close, socket_receiver
from .secrets import Redactor

__all__ = ["Receiver", "Link", "CLOSE_TIMEOUT", "MAX_WAIT"]

logger = logging.getLogger(__name__)

_RAW_PREVIEW = 200
_DRAIN_LIMIT = 8 * 1024 * 1024  # bytes read before judging an overdue deadline
#: The longest single wait for the socket (seconds): a deadline further off (a ping_interval of
#: weeks) is waited for in several, as a poll or a timeval cannot hold it.
MAX_WAIT = 3600.0
#: The end reason of a closing handshake the server did not answer in time.
CLOSE_TIMEOUT = "the server did not answer the close frame"
_PING_RETRY = 0.05  # seconds between two attempts at a ping the full socket did not take


class Link(Protocol):
    """What a :class:`Receiver` needs of its connection."""

    closing: bool
    close_deadline: Optional[float]
    #: the lock every write to the socket holds (a ``threading.Lock``)
    send_lock: Any

    def send_control(self, opcode: int, payload: bytes, wait: float) -> bool: ...

    def send_close(self, code: int, reason: str) -> None: ...


class Receiver:
    """Reads one connection's frames and keeps its deadlines (see the module docstring).

    Not thread-safe: the one thread that drives it owns it. After
    :meth:`step` (or :meth:`on_readable`, :meth:`on_deadline`) has returned
    ``True`` the connection has ended: :attr:`end_reason`, :attr:`close_code`,
    :attr:`close_reason`, :attr:`local_close` and :attr:`cause` say how, and
    :meth:`release` must be called once.
    """

    def __init__(
        self, sock: Any, link: Link, timing: Timing, listeners: Listeners, redactor: Redactor, url: str
    ) -> None:
        self.sock = sock
        self._link = link
        self._listeners = listeners
        self._redactor = redactor
        self._url = url
        self.reader = reader = FrameReader(timing.max_frame_size)
        self._parse = reader.parse
        self.receive, self._close_waiter = socket_receiver(sock, reader, link.send_lock)
        self._deliver = self._deliverer()
        self._pending = getattr(sock, "pending", None)  # TLS records already decrypted
        self._ping_interval = timing.ping_interval
        self._ping_timeout = timing.ping_timeout or 0.0
        self._frame_timeout = timing.frame_timeout
        self._next_ping = time.monotonic() + self._ping_interval if self._ping_interval else None
        self._ping_sent: Optional[float] = None
        #: when to try again to send the ping counted as sent (the socket did not take it)
        self._ping_retry: Optional[float] = None
        self._pongs = 0
        self._deadline: Optional[float] = None
        #: why it ended without a close frame (``None``: a close frame, or not ended)
        self.end_reason: Optional[str] = None
        #: the exception that ended it, if one did
        self.cause: Optional[BaseException] = None
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        #: ``(code, reason)`` of a close this side began because the server broke the rules
        self.local_close: Optional[Tuple[int, str]] = None
        #: the deadline a shared loop has scheduled for it (the loop's bookkeeping)
        self.scheduled: Optional[float] = None
        #: readable, yet nothing could be read at once (part of a TLS record) and the socket's low-water
        #: mark could not be raised to the record's end (not Linux): a shared loop waits a little
        self.starved = False

    # -- the loops ----------------------------------------------------------------

    def run(self) -> None:
        """Read until the connection ends, on the calling thread (the connection's own thread)."""
        receive = self.receive
        step = self.step
        next_deadline = self.next_deadline
        monotonic = time.monotonic
        try:
            while True:
                deadline = next_deadline()
                try:
                    count = receive(None if deadline is None else min(MAX_WAIT, max(0.0, deadline - monotonic())))
                except (OSError, ValueError) as exc:
                    self._failed(exc)
                    return
                if step(count):
                    return
        finally:
            self.release()

    def on_readable(self) -> bool:
        """The socket is readable (a shared loop): read it once; ``True`` once the connection has ended.

        The deadline judged is the one the loop scheduled last (:meth:`next_deadline`).
        """
        try:
            count = self.receive(0.0)
        except (OSError, ValueError) as exc:
            self._failed(exc)
            return True
        # part of a TLS record and no low-water mark to wake the selector when the rest is in
        self.starved = count is None and not self.reader.low_water
        return self.step(count)

    def on_deadline(self) -> bool:
        """The deadline has passed (a shared loop): judge it; ``True`` once the connection has ended."""
        self.next_deadline()
        return self.step(None)

    def has_pending(self) -> bool:
        """Whether bytes already decrypted (TLS) wait to be read: no selector reports them."""
        pending = self._pending
        return pending is not None and self.reader.error is None and bool(pending())

    # -- deadlines and reading -----------------------------------------------------

    def next_deadline(self) -> Optional[float]:
        """The nearest deadline: a ping to send, a pong, an unfinished message, the close (monotonic time)."""
        deadline = self._next_ping if self._ping_sent is None else self._ping_sent + self._ping_timeout
        retry = self._ping_retry
        if retry is not None and deadline is not None and retry < deadline:
            deadline = retry
        frame_timeout = self._frame_timeout
        if frame_timeout:
            since = self.reader.partial_since
            if since is not None:
                limit = since + frame_timeout
                if deadline is None or limit < deadline:
                    deadline = limit
        close_deadline = self._link.close_deadline
        if close_deadline is not None and (deadline is None or close_deadline < deadline):
            deadline = close_deadline
        self._deadline = deadline
        return deadline

    def step(self, count: Optional[int]) -> bool:
        """Handle one read's outcome (``count`` bytes, 0 at EOF, ``None``: none in time); ``True`` once ended.

        The deadline judged is the one :meth:`next_deadline` gave before the read.
        """
        if count == 0:
            self.end_reason = "the server closed the TCP connection without a close frame"
            return True
        try:
            reader = self.reader
            frames = self._parse() if count else []
            if reader.pongs != self._pongs:
                self._pongs = reader.pongs
                self._ping_sent = self._ping_retry = None
            deadline = self._deadline
            if deadline is not None:
                now = time.monotonic()
                if now >= deadline and self._judge(now, frames):
                    return True
            if frames and self._deliver_frames(frames):
                return True
            if reader.error is not None:
                self._refuse(reader.error)
                return True
            return False
        except (OSError, ValueError) as exc:  # reset, TLS failure, socket closed by close()
            self._failed(exc)
            return True

    def _judge(self, now: float, frames: List[Tuple[int, bytes]]) -> bool:
        """A deadline has passed: end the connection (``True``) or send the ping that is due."""
        overdue = self._overdue(now)
        if overdue is not None:
            # judge only what the socket has had time to deliver: read it first
            drained = 0
            receive = self.receive
            while drained < _DRAIN_LIMIT:
                count = receive(0.0)
                if not count:  # nothing more (None), or the end (0)
                    break
                drained += count
                frames.extend(self._parse())
            if self.reader.pongs != self._pongs:
                self._pongs = self.reader.pongs
                self._ping_sent = self._ping_retry = None
            overdue = self._overdue(now)
            if overdue is not None:
                self.end_reason = overdue
                if overdue is not CLOSE_TIMEOUT:
                    self._deliver_frames(frames)
                return True
        next_ping = self._next_ping
        if next_ping is not None and self._ping_sent is None and now >= next_ping:
            sent = self._link.send_control(OP_PING, b"", 1.0)
            if self._ping_timeout:
                # A ping the socket did not take (its buffer is full: the server stopped reading) counts
                # as sent, so that ping_timeout still ends a connection the server no longer reads;
                # it is tried again until it goes out or the pong deadline passes.
                self._ping_sent = now
                self._ping_retry = None if sent else now + _PING_RETRY
            self._next_ping = now + self._ping_interval
        elif self._ping_retry is not None and now >= self._ping_retry:
            self._ping_retry = None if self._link.send_control(OP_PING, b"", 1.0) else now + _PING_RETRY
        return False

    def _overdue(self, now: float) -> Optional[str]:
        """Why the connection must end now, or ``None``."""
        ping_sent, ping_timeout, frame_timeout = self._ping_sent, self._ping_timeout, self._frame_timeout
        if ping_sent is not None and ping_timeout and now - ping_sent >= ping_timeout:
            if self._ping_retry is not None:
                return (
                    f"ping/pong timed out: no pong within {ping_timeout:g} s (the ping could not even be "
                    "sent: the server has stopped reading)"
                )
            return f"ping/pong timed out: no pong within {ping_timeout:g} s"
        since = self.reader.partial_since
        if frame_timeout and since is not None and now - since >= frame_timeout:
            return (
                f"frame timed out: a message was still incomplete {frame_timeout:g} s after its first "
                f"byte ({self.reader.received} bytes received in all)"
            )
        close_deadline = self._link.close_deadline
        if close_deadline is not None and now >= close_deadline:
            return CLOSE_TIMEOUT
        return None

    def _failed(self, exc: BaseException) -> None:
        if self.cause is None:
            self.cause = exc
        if not self._link.closing:
            self.end_reason = describe_failure(exc, self._redactor)

    def release(self) -> None:
        """Free what reading held (a poller on some platforms); the socket is the connection's."""
        self._close_waiter()

    # -- frames ---------------------------------------------------------------------

    def _deliver_frames(self, frames: List[Tuple[int, bytes]]) -> bool:
        """Hand over the parsed frames in order; ``True`` once a close frame ends the connection."""
        deliver = self._deliver
        link = self._link
        for opcode, payload in frames:
            if opcode == OP_TEXT or opcode == OP_BINARY:
                if not link.closing:
                    deliver(payload)
            elif opcode == OP_CLOSE:
                code, reason = parse_close(payload)
                self.close_code = code
                self.close_reason = self._redactor.text(reason) if reason else None
                # answer with the same code (1000 for a close without one, 1002 for a
                # code no endpoint may send), then stop
                link.send_close(answer_code(code), "")
                return True
            elif opcode == OP_PING:
                link.send_control(OP_PONG, payload, 1.0)
        return False

    def _deliverer(self) -> Callable[[bytes], None]:
        """The per-message hot path: decode, parse once, check, hand to ``on_event``."""
        on_event = self._listeners.on_event
        decode = decode_event
        report = self._report_malformed
        url = self._url

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
        logger.info("closing %s: the server sent a %s", self._url, fault)
        self.local_close = (fault.code, reason)
        try:
            error = ProtocolError(f"the server sent a {self._redactor.text(str(fault))}")
            self._listeners.on_error(
                {"error": error, "event": None, "client_event": None, "raw": self._preview(fault.preview)}
            )
        except Exception:
            logger.exception("the on_error listener of %s failed", self._url)
        self._link.send_close(fault.code, reason)
