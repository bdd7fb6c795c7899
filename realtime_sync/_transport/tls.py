"""Reading a TLS socket a whole record at a time, woken when a record still arriving is whole.

A read on a TLS socket waits (up to the socket's timeout) for the whole
record it has begun: a server trickling a record in would hold it there,
past every deadline, and a shared loop's thread with it. So the TCP bytes
under the TLS layer are peeked at first (:func:`tls_record_ready`) and only
a whole record is read; the bytes of one still arriving are the first of a
message (``frame_timeout`` runs from them).

To wait for the rest, Linux raises the socket's low-water mark
(``SO_RCVLOWAT``, which poll and epoll honour) to the record's end: the next
wait (the connection's own thread's poll, or a shared loop's selector) is
woken once the record is whole or the connection ends, not by each of its
TCP segments, and the mark goes back to one byte when it wakes. The
socket's timeout is never changed for this: writes on other threads use it.
A socket reported readable before its mark was reached has hung up (the
server closed or reset it, or a close begun here shut it down): its end is
reported without reading the half record.
Elsewhere, or when the kernel reports the socket before the mark (short of
memory), a connection's own thread looks again every 20 ms and a shared
loop leaves the socket unwatched as long (``Receiver.starved``).

A whole record may hold no data (TLS 1.3: a key update, a session ticket,
a certificate request; its type is encrypted): a read of it alone would
wait inside the TLS layer for the next record, up to the socket's timeout.
So a whole record with nothing after it in the kernel is read with the
socket's timeout at 0, under the connection's send lock (the writers read
that timeout as they start). Otherwise (a writer holds the lock, or more
bytes follow: a read at 0 could take part of a next record out of the
kernel, where no peek sees it) it is read as it is: a record holding no
data then waits for the next one, already arriving. A read at 0 that found
no data may have taken the start of a record that came meanwhile out of
the kernel: until data comes out, what comes is read as it comes, unpeeked.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time
from typing import Any, Callable, Optional, Tuple

__all__ = ["tls_receiver", "tls_record_ready"]

# poll and epoll honour a TCP socket's low-water mark where tested: Linux.
_LOW_WATER = sys.platform.startswith("linux") and hasattr(socket, "SO_RCVLOWAT")
_RECORD_NAP = 0.02  # seconds between two looks at a record still arriving (own thread, no low-water mark)
_PEEK = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)
_APPLICATION_DATA, _ALERT = 23, 21


def tls_receiver(
    sock: Any, reader: Any, wait: Callable[[Optional[float]], bool], send_lock: Any = None
) -> Callable[[Optional[float]], Optional[int]]:
    """``receive(timeout)`` for the TLS socket ``sock`` (see :func:`.frames.socket_receiver`).

    ``reader`` is its :class:`~.frames.FrameReader` (``fill``, ``partial_since``,
    ``low_water``); ``wait(timeout)`` is whether ``sock`` became readable in time.
    A record still arriving returns ``None`` at once: the first time it sets
    ``reader.partial_since``, so that the caller judges its deadlines from it;
    on Linux it sets ``reader.low_water`` (the mark raised), so that the next
    wait is for the whole record. ``send_lock`` (the connection's, if given)
    is taken, without waiting, to read a whole record without waiting for the
    next (see the module docstring); a record that held no data returns ``None``.
    """
    import ssl  # loaded already: sock is an SSLSocket

    fill: Callable[[Any], int] = reader.fill
    no_data = (ssl.SSLWantReadError, ssl.SSLWantWriteError)
    pending = sock.pending  # TLS records already decrypted
    monotonic = time.monotonic
    setsockopt = sock.setsockopt
    level = socket.SOL_SOCKET
    option = getattr(socket, "SO_RCVLOWAT", 0)
    low_water = [_LOW_WATER]  # whether the mark can be raised (cleared when the socket refuses it)
    desynced = [False]  # a read at 0 found no data: the TLS layer may hold the start of a record

    def receive_tls(timeout: Optional[float]) -> Optional[int]:
        if pending():
            return fill(sock)
        if not wait(timeout):
            return None
        armed = reader.low_water
        if armed:
            setsockopt(level, option, 1)
            reader.low_water = 0
        if desynced[0]:
            return read_whole()  # the TLS layer may hold part of a record: the kernel's bytes do not start one
        need, alone = _record_state(sock)
        if not need:
            return read_whole() if alone else fill(sock)
        early = need <= armed  # reported readable before the mark was reached
        if early and _hung_up(sock):
            return _end(sock)  # the record will never be whole
        first = reader.partial_since is None
        if first:
            reader.partial_since = monotonic()
        if low_water[0] and not early:
            try:
                setsockopt(level, option, need)
                reader.low_water = need
                return None  # the driver judges its deadlines (frame_timeout's among them), then waits
            except OSError:
                low_water[0] = False
        # No low-water mark (not Linux), or the kernel reported the socket before it (short of
        # memory): a connection's own thread looks again in a short while; a shared loop (timeout
        # 0, never waiting) watches the socket again a little later (Receiver.starved).
        if not first and (timeout is None or timeout > 0):
            time.sleep(_RECORD_NAP if timeout is None else min(_RECORD_NAP, timeout))
        return None

    def read_whole() -> Optional[int]:
        if send_lock is None or not send_lock.acquire(blocking=False):
            count = fill(sock)
        else:
            try:
                timeout = sock.gettimeout()
                sock.settimeout(0.0)
                try:
                    count = fill(sock)
                except no_data:  # the record held none (or its answer found the socket full: sent with the next)
                    # Bytes that came meanwhile may have been taken in part, as the start of a next record:
                    # until data comes out, read what comes as it comes (no peeking, no low-water mark).
                    desynced[0] = True
                    return None
                finally:
                    sock.settimeout(timeout)
            finally:
                send_lock.release()
        desynced[0] = False
        return count

    return receive_tls


def _hung_up(sock: Any) -> bool:
    """Whether the server closed its side of ``sock`` or the connection failed (Linux: ``POLLRDHUP``)."""
    poller = select.poll()
    poller.register(sock, getattr(select, "POLLRDHUP", 0))  # errors and hang-ups are always reported
    return bool(poller.poll(0))


def _end(sock: Any) -> int:
    """The end of a connection hung up halfway through a record: 0 (EOF), or its error raised.

    Not a read: after a ``shutdown()`` (a close begun on another thread) an
    ``SSLSocket`` reads the raw TCP bytes.
    """
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        raise OSError(error, os.strerror(error))
    return 0


def _record_state(sock: Any) -> Tuple[int, bool]:
    """``(need, alone)`` for the TLS socket ``sock``, from peeking at its kernel buffer.

    ``need`` is 0 when it can be read without waiting, else how many bytes the
    buffer must hold first (from its start: the records before the first one
    with data, its header, its body). Records before the first one with data
    (a session ticket, a key update) must be complete too: the read goes on
    past them. 0 at EOF or on an error (the read reports it). ``alone``: the
    kernel holds nothing past that whole record (a read that finds no data in
    it then consumes no part of a next record).
    """
    peek = socket.socket.recv  # the TCP socket's own recv, not the TLS layer's
    offset = 0
    try:
        for _ in range(8):
            data = peek(sock, offset + 5, _PEEK)
            if len(data) < offset + 5:
                return (offset + 5 if data else 0), False
            end = offset + 5 + int.from_bytes(data[offset + 3 : offset + 5], "big")
            if data[offset] in (_APPLICATION_DATA, _ALERT):
                held = len(peek(sock, end + 1, _PEEK))
                return (0 if held >= end else end), held == end
            offset = end
    except BlockingIOError:
        return offset + 5, False
    except (OSError, ValueError):
        return 0, False
    return 0, False


def tls_record_ready(sock: Any) -> bool:
    """Whether the TLS socket ``sock`` can be read without waiting: a whole record has come (peeked at)."""
    return not _record_state(sock)[0]
