"""WebSocket framing (RFC 6455) after the handshake: a buffered reader and a frame writer.

websocket-client does the handshake (TLS, proxies, headers); from then on
the connection reads the socket itself, in large blocks, and parses frames
out of its buffer with :class:`FrameReader`. Compared with reading each
frame with several small ``recv`` calls this halves the CPU per event, and
it lets the connection judge sizes and deadlines on the bytes themselves:

* a frame whose header declares more than ``max_size`` bytes (or a
  fragmented message growing past it) is refused as soon as that header is
  read, before any of its payload is kept (:class:`FrameError`, close code
  1009);
* :attr:`FrameReader.partial_since` is the time the first byte of an
  unfinished message arrived, so a message trickling in can be given a
  deadline;
* pongs are counted as they are parsed (:attr:`FrameReader.pongs`), before
  the messages read with them are handed to callbacks.

Server frames may be masked (servers must not, but a mask is undone rather
than refused, as websocket-client does); reserved bits, unknown opcodes,
fragmented or oversized control frames and misplaced continuations are
protocol errors (close code 1002). Client frames are always masked
(:func:`encode_frame`).
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple, Union

from .tls import tls_receiver

if TYPE_CHECKING:
    import numpy
else:
    from .._lazy import numpy  # imported by the first large frame masked

__all__ = [
    "OP_CONTINUATION",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "FrameError",
    "FrameReader",
    "SendTimeout",
    "encode_frame",
    "frame_header",
    "mask",
    "parse_close",
    "readable_waiter",
    "configure",
    "send_all",
    "socket_receiver",
]

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_CONTROL = (OP_CLOSE, OP_PING, OP_PONG)
_DATA = (OP_TEXT, OP_BINARY)

#: Bytes read from the socket at a time (and the reader's buffer size).
BLOCK_SIZE = 64 * 1024
_PREVIEW = 800

# Plain TCP sockets use the kernel's timeouts (see configure()) where tested: Linux.
_KERNEL_TIMEOUTS = sys.platform.startswith("linux") and hasattr(socket, "SO_RCVTIMEO")

#: A complete message or control frame: ``(opcode, payload)``.
Frame = Tuple[int, bytes]


class FrameError(Exception):
    """The server broke the framing rules, or sent a message over the size limit.

    Attributes:
        code: the close code to answer with (1002 protocol error, 1009 too big).
        preview: the first bytes of the offending payload that had arrived.
    """

    def __init__(self, code: int, message: str, preview: bytes = b"") -> None:
        super().__init__(message)
        self.code = code
        self.preview = preview


class SendTimeout(socket.timeout):
    """A write ran out of time (a ``socket.timeout``).

    Attributes:
        written: how many bytes of the data went out before it did (``None``:
            not known, as with a socket's own ``sendall``: part may have gone).
    """

    def __init__(self, written: Optional[int]) -> None:
        super().__init__("timed out")
        self.written = written


def mask(key: bytes, data: Union[bytes, bytearray, memoryview]) -> bytes:
    """``data`` XOR-ed with the 4-byte ``key`` repeated (masking and unmasking alike).

    Small payloads go through one big-integer XOR; larger ones four bytes at
    a time with numpy (a core dependency), about 0.4 us per kB.
    """
    length = len(data)
    if length < 512:
        if not length:
            return b""
        repeated = (key * (length // 4 + 1))[:length]
        return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(length, "little")
    out = bytearray(data)
    _mask_in_place(key, out, 0, length)
    return bytes(out)


def _mask_in_place(key: bytes, buffer: bytearray, start: int, length: int) -> None:
    """XOR ``buffer[start:start + length]`` with ``key`` repeated, in place (numpy, four bytes at a time)."""
    words = length // 4
    if words:
        view = numpy.frombuffer(buffer, dtype=numpy.uint32, count=words, offset=start)
        numpy.bitwise_xor(view, numpy.uint32(int.from_bytes(key, "little")), out=view)
    for index in range(words * 4, length):  # at most three bytes
        buffer[start + index] ^= key[index & 3]


_MEDIUM_HEADER = struct.Struct("!BBH")
_LARGE_HEADER = struct.Struct("!BBQ")


def frame_header(opcode: int, length: int) -> bytes:
    """The header of a final, masked client frame of ``length`` payload bytes (its mask key follows it)."""
    if length < 126:
        return bytes((0x80 | opcode, 0x80 | length))
    if length < 65536:
        return _MEDIUM_HEADER.pack(0x80 | opcode, 0x80 | 126, length)
    return _LARGE_HEADER.pack(0x80 | opcode, 0x80 | 127, length)


def encode_frame(opcode: int, payload: Union[bytes, bytearray]) -> Union[bytes, bytearray]:
    """One final client frame: masked with a fresh random key, as RFC 6455 requires.

    A payload of 512 bytes or more is copied once, into the frame, and masked
    there in place (no intermediate copies: an audio append is kilobytes).
    """
    length = len(payload)
    header = frame_header(opcode, length)
    key = os.urandom(4)
    if length < 512:
        return header + key + mask(key, payload)
    start = len(header) + 4
    frame = bytearray(start + length)
    frame[: start - 4] = header
    frame[start - 4 : start] = key
    frame[start:] = payload
    _mask_in_place(key, frame, start, length)
    return frame


def configure(sock: Any, io_timeout: float) -> None:
    """Set an open socket up for :func:`send_all` and :func:`socket_receiver`.

    A write must be done within ``io_timeout`` (the whole of it, as
    ``sendall`` with a Python timeout; see :func:`send_all`). On Linux a plain TCP socket is put in blocking mode with the
    kernel's own timeouts (``SO_SNDTIMEO``; ``SO_RCVTIMEO`` is set per read by
    the receiver), so that every read and every write is one system call
    that releases the GIL once: a socket with a Python timeout polls first,
    and each extra release means waiting for the GIL again, which is what
    costs when hundreds of connections share a process. TLS sockets and other
    platforms keep Python's timeout (and the poll before each read).
    """
    if _KERNEL_TIMEOUTS and type(sock) is socket.socket:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(io_timeout))
    else:
        sock.settimeout(io_timeout)


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval`` for ``SO_RCVTIMEO``/``SO_SNDTIMEO`` (Linux), never zero (zero means for ever)."""
    micro = max(1, int(round(seconds * 1e6)))
    return struct.pack("@ll", micro // 1000000, micro % 1000000)


_FOREVER = struct.pack("@ll", 0, 0)  # SO_RCVTIMEO of zero: no timeout


def send_all(sock: Any, data: Union[bytes, bytearray, memoryview]) -> None:
    """``sock.sendall(data)`` within the socket's write timeout, whole send included.

    On a socket :func:`configure` put in blocking mode it is one ``send`` when
    the kernel takes everything (the common case). ``SO_SNDTIMEO`` bounds one
    ``send`` only: one that returns part of the data after the timeout (the
    peer stopped reading) is finished within what is left of it, as a socket
    with a Python timeout bounds its ``sendall``.

    Raises:
        SendTimeout: the write timeout ran out; it says how much was sent
            (not known on a socket with a Python timeout: TLS, other platforms).
        OSError: as ``sendall``.
    """
    if not (_KERNEL_TIMEOUTS and type(sock) is socket.socket and sock.gettimeout() is None):
        try:
            sock.sendall(data)
        except socket.timeout as exc:
            raise SendTimeout(None) from exc
        return
    started = time.monotonic()
    try:
        sent = sock.send(data)
        if sent < len(data):
            _send_rest(sock, memoryview(data), sent, started)
    except BlockingIOError as exc:  # SO_SNDTIMEO ran out with nothing sent
        raise SendTimeout(0) from exc


def _send_rest(sock: socket.socket, data: memoryview, sent: int, started: float) -> None:
    """Send ``data[sent:]`` by ``started`` + the socket's ``SO_SNDTIMEO``; restore that timeout after."""
    level, option = socket.SOL_SOCKET, socket.SO_SNDTIMEO
    raw = sock.getsockopt(level, option, len(_FOREVER))
    seconds, micro = struct.unpack("@ll", raw)
    limit = seconds + micro / 1e6
    if not limit:  # no write timeout: as sendall
        sock.sendall(data[sent:])
        return
    deadline = started + limit
    try:
        while sent < len(data):
            left = deadline - time.monotonic()
            if left <= 0:
                raise SendTimeout(sent)
            sock.setsockopt(level, option, _timeval(left))
            try:
                sent += sock.send(data[sent:])
            except BlockingIOError as exc:  # nothing more in time
                raise SendTimeout(sent) from exc
    finally:
        sock.setsockopt(level, option, raw)


def socket_receiver(
    sock: Any, reader: "FrameReader", send_lock: Any = None
) -> Tuple[Callable[[Optional[float]], Optional[int]], Callable[[], None]]:
    """``(receive, close)`` for the receive loop.

    ``receive(timeout)`` waits up to ``timeout`` seconds (``None``: for ever,
    0: not at all) for bytes, reads them into ``reader`` once and returns
    their count (0 at EOF), or ``None`` when none came in time. On a socket
    :func:`configure` put in blocking mode it is one ``recv`` with the
    kernel's receive timeout; otherwise a poll, then a read. On a TLS socket
    it reads whole records only (:func:`.tls.tls_receiver`; ``send_lock`` is
    the connection's, which every write holds).
    """
    fill = reader.fill
    if _KERNEL_TIMEOUTS and type(sock) is socket.socket and sock.gettimeout() is None:
        setsockopt = sock.setsockopt
        level, option = socket.SOL_SOCKET, socket.SO_RCVTIMEO
        state = [-1.0]  # the SO_RCVTIMEO set now (0: for ever; -1: unknown)

        def receive(timeout: Optional[float]) -> Optional[int]:
            try:
                if timeout is not None and timeout <= 0:
                    return fill(sock, socket.MSG_DONTWAIT)
                current = state[0]
                if timeout is None:
                    if current != 0.0:
                        setsockopt(level, option, _FOREVER)
                        state[0] = 0.0
                elif not (timeout / 4 <= current <= timeout):
                    # A read may wake early (the loop then reads again), never after the
                    # deadline. Half the time left is set, so it is set again only when
                    # that much has passed: a few times per deadline, not once per read.
                    current = state[0] = timeout / 2 if timeout > 0.02 else timeout
                    setsockopt(level, option, _timeval(current))
                return fill(sock)
            except BlockingIOError:  # the timeout ran out (or nothing for MSG_DONTWAIT)
                return None

        return receive, lambda: None
    wait, close = readable_waiter(sock)
    pending = getattr(sock, "pending", None)  # TLS records already decrypted
    if pending is None:

        def receive_polled(timeout: Optional[float]) -> Optional[int]:
            return fill(sock) if wait(timeout) else None

        return receive_polled, close
    return tls_receiver(sock, reader, wait, send_lock), close


def parse_close(payload: bytes) -> Tuple[Optional[int], Optional[str]]:
    """``(code, reason)`` of a close frame's payload (``None`` where it has none)."""
    if len(payload) < 2:
        return None, None
    reason = payload[2:].decode("utf-8", errors="replace")
    return int.from_bytes(payload[:2], "big"), reason or None


class FrameReader:
    """Reads server frames from a socket in blocks and parses them out of one buffer.

    Call :meth:`fill` when the socket is readable, then :meth:`parse` for the
    messages and control frames it completed, in order. Not thread-safe: the
    receive thread owns it.

    Args:
        max_size: the largest message accepted, in bytes (``None``: any).
    """

    def __init__(self, max_size: Optional[int]) -> None:
        self._max_size = max_size
        self._buffer = bytearray(BLOCK_SIZE)
        self._view = memoryview(self._buffer)
        self._start = 0  # first unparsed byte
        self._end = 0  # end of the bytes read
        # a frame too large for the buffer is gathered in a buffer of its own,
        # grown as its bytes arrive (never to more than its header declared)
        self._big: Optional[bytearray] = None
        self._big_total = 0
        # a fragmented message being assembled
        self._fragments: List[bytes] = []
        self._fragment_opcode = 0
        self._fragment_size = 0
        #: monotonic time the first byte of the unfinished message arrived, or None
        self.partial_since: Optional[float] = None
        #: pong frames parsed so far
        self.pongs = 0
        #: bytes read so far
        self.received = 0
        self._last_fill = 0.0  # monotonic time of the latest read that returned bytes
        #: the socket's low-water mark (SO_RCVLOWAT) set by the TLS receiver for a record still
        #: arriving, in bytes (0: not set): the socket is reported readable once the record is whole
        self.low_water = 0
        #: set once the stream broke the rules; parse() returns nothing after it
        self.error: Optional[FrameError] = None

    # -- reading -------------------------------------------------------------

    def fill(self, sock: Any, flags: int = 0) -> int:
        """Read once from ``sock`` (at most one block); return the byte count, 0 at EOF.

        ``flags`` are ``recv`` flags (``MSG_DONTWAIT``). Raises what
        ``sock.recv_into`` raises (``OSError``, ``BlockingIOError`` when
        nothing came, ``ssl.SSLError``, timeouts); then nothing was read.
        """
        big = self._big
        if big is not None:
            size = min(4 * BLOCK_SIZE, self._big_total - len(big))
            chunk = sock.recv(size, flags) if flags else sock.recv(size)
            count = len(chunk)
            big += chunk
        else:
            if BLOCK_SIZE - self._end < 16384:
                self._compact()
            view = self._view[self._end:]
            count = sock.recv_into(view, 0, flags) if flags else sock.recv_into(view)
            self._end += count
        self.received += count
        if count:
            self._last_fill = time.monotonic()
            if self.partial_since is None:
                self.partial_since = self._last_fill
        return count

    def _compact(self) -> None:
        start, end = self._start, self._end
        if start:
            self._buffer[: end - start] = self._buffer[start:end]
            self._start, self._end = 0, end - start

    # -- parsing -------------------------------------------------------------

    def parse(self) -> List[Frame]:
        """The messages and control frames completed by the bytes read so far, in order.

        Text and binary messages come whole (fragments joined) with their
        first frame's opcode; control frames come as they are. Afterwards
        :attr:`error` is set if the stream broke the rules (what came before
        the fault is still returned) and :attr:`partial_since` is ``None``
        when no message is left unfinished.
        """
        out: List[Frame] = []
        if self.error is not None:
            return out
        if self._big is not None:
            if len(self._big) < self._big_total:
                return out
            data = bytes(self._big)
            self._big = None
            try:
                self._parse_block(data, len(data), out)
            except FrameError as exc:
                self.error = exc
                return out
        buffer, view = self._buffer, self._view
        start, end = self._start, self._end
        first = start
        max_size = self._max_size
        append = out.append
        try:
            while end - start >= 2:
                b0 = buffer[start]
                b1 = buffer[start + 1]
                length = b1 & 0x7F
                header = 2
                if length == 126:
                    if end - start < 4:
                        break
                    length = (buffer[start + 2] << 8) | buffer[start + 3]
                    header = 4
                elif length == 127:
                    if end - start < 10:
                        break
                    length = int.from_bytes(buffer[start + 2:start + 10], "big")
                    header = 10
                    if length >> 63:
                        raise FrameError(1002, "a frame length with its top bit set")
                masked = b1 & 0x80
                if masked:
                    header += 4
                opcode = b0 & 0x0F
                if opcode & 0x8 and length > 125:
                    raise FrameError(1002, "a control frame longer than 125 bytes")
                if max_size is not None and length + (self._fragment_size if opcode == 0 else 0) > max_size:
                    raise FrameError(
                        1009,
                        f"frame of {length} bytes exceeds max_frame_size ({max_size})",
                        bytes(buffer[start + header:min(end, start + header + _PREVIEW)]),
                    )
                total = header + length
                if end - start < total:
                    if total > BLOCK_SIZE:
                        # gather the rest in a buffer of its own
                        self._big = bytearray(buffer[start:end])
                        self._big_total = total
                        start = end = 0
                    break
                if b0 == 0x81 and not masked and not self._fragment_opcode:  # the common case
                    append((OP_TEXT, bytes(view[start + header:start + total])))  # one copy
                else:
                    self._frame(b0, bytes(view[start:start + header]), bytes(view[start + header:start + total]), append)
                start += total
        except FrameError as exc:
            self.error = exc
        self._start, self._end = start, end
        if start == end:
            self._start = self._end = 0
            if not self._fragments and self._big is None:
                self.partial_since = None
        elif start != first and not self._fragments and self._big is None:
            # a frame ended in the latest read, so the unfinished one after it
            # began in that read: its deadline runs from then, not from the
            # first byte of a message already delivered
            self.partial_since = self._last_fill
        return out

    def _parse_block(self, data: bytes, end: int, out: List[Frame]) -> None:
        """Parse one whole frame held in ``data`` (a frame read into its own buffer)."""
        b1 = data[1]
        length = b1 & 0x7F
        header = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if b1 & 0x80 else 0)
        self._frame(data[0], data[:header], data[header:end], out.append)
        if not self._fragments and self._start == self._end:
            self.partial_since = None

    def _frame(self, b0: int, header: bytes, payload: bytes, append: Any) -> None:
        """Check and handle one complete frame that is not an unmasked final text frame."""
        opcode = b0 & 0x0F
        if b0 & 0x70:
            raise FrameError(1002, "a frame with reserved bits set (no extension was agreed)")
        if header[1] & 0x80:
            payload = mask(header[-4:], payload)
        fin = b0 & 0x80
        if opcode in _CONTROL:
            if not fin or len(payload) > 125:
                raise FrameError(1002, "a fragmented or oversized control frame")
            if opcode == OP_PONG:
                self.pongs += 1
            append((opcode, payload))
            return
        if opcode == OP_CONTINUATION:
            if not self._fragment_opcode:
                raise FrameError(1002, "a continuation frame without a message to continue")
            self._fragments.append(payload)
            self._fragment_size += len(payload)
            if fin:
                append((self._fragment_opcode, b"".join(self._fragments)))
                self._fragments = []
                self._fragment_opcode = self._fragment_size = 0
            return
        if opcode not in _DATA:
            raise FrameError(1002, f"a frame with the unknown opcode {opcode:#x}")
        if self._fragment_opcode:
            raise FrameError(1002, "a new message before the fragmented one ended")
        if fin:
            append((opcode, payload))
        else:
            self._fragments = [payload]
            self._fragment_opcode = opcode
            self._fragment_size = len(payload)


def readable_waiter(sock: Any) -> Tuple[Callable[[Optional[float]], bool], Callable[[], None]]:
    """``(wait, close)``: ``wait(seconds or None)`` is whether ``sock`` became readable."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)  # errors and hang-ups are always reported

        def wait(timeout: Optional[float]) -> bool:
            return bool(poller.poll(None if timeout is None else int(timeout * 1000 + 0.999)))

        return wait, lambda: None
    selector = selectors.DefaultSelector()  # Windows
    selector.register(sock, selectors.EVENT_READ)

    def wait_select(timeout: Optional[float]) -> bool:
        return bool(selector.select(timeout))

    return wait_select, selector.close
