"""One receive thread for many connections: :class:`ReceiveLoop`.

By default every connection reads its socket on a thread of its own. With
hundreds of sessions in one process those threads spend more time handing
the interpreter lock to each other than reading; a :class:`ReceiveLoop`
serves many connections from one thread and one selector instead. Each
connection's work between two reads is its :class:`~.receiver.Receiver`
(the same object its own thread would drive); the loop waits for the first
of: a readable socket, the nearest deadline of any connection (a heap),
or a wake-up (a socketpair: a new connection, a close begun elsewhere).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from typing import Callable, Dict, List, Optional, Set, Tuple

from ..errors import RealtimeConnectionError
from .receiver import Receiver

__all__ = ["ReceiveLoop", "on_loop_thread"]

logger = logging.getLogger(__name__)

_local = threading.local()


def on_loop_thread() -> bool:
    """Whether the calling thread is a :class:`ReceiveLoop`'s thread (it runs many sessions' callbacks)."""
    return getattr(_local, "loop", None) is not None


class _Member:
    """A registered connection: its receiver, how it ends (``finish``) and how it is closed (``close``)."""

    __slots__ = ("receiver", "finish", "close", "fd")

    def __init__(self, receiver: Receiver, finish: Callable[[], None], close: Callable[[], None]) -> None:
        self.receiver = receiver
        self.finish = finish
        self.close = close
        self.fd = -1


class ReceiveLoop:
    """One daemon thread that reads many connections' sockets and runs their callbacks.

    Pass it to several clients (``RealtimeClient(..., receive_loop=loop)`` or
    ``RealtimeAPI(..., receive_loop=loop)``): after its handshake each
    connection is read by this loop's thread instead of a thread of its own,
    and every callback of those sessions runs on it, one at a time; the
    events of one connection keep their order. Pings, ``ping_timeout``,
    ``frame_timeout`` and the closing handshake work as with a thread per
    connection, and a connection that fails or breaks the protocol ends
    alone.

    The trade-off: one slow callback delays every session on the loop (the
    loop is one thread), and no blocking helper may be called from any of
    their callbacks (they raise ``RuntimeError``, as on a connection's own
    thread). Use a loop for many light sessions; give a session whose
    callbacks do real work its own thread (no ``receive_loop``) or a loop of
    its own.

    The thread starts with the first connection and ends when the last one
    has ended (it starts again with the next), or at :meth:`close`. The
    constructor starts nothing. Safe to use from any thread.

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str = "realtime-sync-loop") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: Optional[threading.Thread] = None
        self._wake_w: Optional[socket.socket] = None
        self._added: List[_Member] = []  # registered, not yet picked up by the thread
        self._refresh: Set[Receiver] = set()  # deadlines to recompute (a close begun elsewhere)
        self._members: Dict[Receiver, _Member] = {}  # the thread's; read under the lock for closing
        self._count = 0  # connections registered and not yet ended
        self._closed = False

    def __repr__(self) -> str:
        return f"<ReceiveLoop {self.name!r} connections={self._count} closed={self._closed}>"

    def __enter__(self) -> "ReceiveLoop":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    @property
    def thread(self) -> Optional[threading.Thread]:
        """The loop's thread while it runs, else ``None``."""
        return self._thread

    def __len__(self) -> int:
        """The connections the loop serves now."""
        return self._count

    def is_loop_thread(self) -> bool:
        """Whether the calling thread is this loop's thread (inside one of its sessions' callbacks)."""
        return getattr(_local, "loop", None) is self

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Close every connection on the loop (code 1000) and wait up to ``timeout`` s for its thread to end.

        The connections end as with ``disconnect()`` (their ``close`` callbacks
        run on the loop's thread). Idempotent; from a callback on the loop it
        does not wait. A closed loop accepts no connection: ``connect()`` then
        raises :class:`~realtime_sync.errors.RealtimeConnectionError`.
        """
        with self._lock:
            self._closed = True
            members = list(self._members.values()) + list(self._added)
            thread = self._thread
        for member in members:
            try:
                member.close()
            except Exception:
                logger.exception("closing a connection of %r failed", self)
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("the thread of %r is still running %s s after close()", self, timeout)

    # -- connections (any thread) ------------------------------------------------

    def register(self, receiver: Receiver, finish: Callable[[], None], close: Callable[[], None]) -> None:
        """Serve ``receiver`` from now on; ``finish()`` runs on the loop once it has ended.

        Raises:
            RealtimeConnectionError: the loop is closed.
        """
        member = _Member(receiver, finish, close)
        with self._lock:
            if self._closed:
                raise RealtimeConnectionError(f"{self!r} is closed: it accepts no connection")
            self._added.append(member)
            self._count += 1
            if self._thread is None:
                wake_r, self._wake_w = socket.socketpair()
                wake_r.setblocking(False)
                self._wake_w.setblocking(False)
                thread = threading.Thread(target=self._run, args=(wake_r,), name=self.name, daemon=True)
                self._thread = thread
                thread.start()
            else:
                self._wake_locked()

    def refresh(self, receiver: Receiver) -> None:
        """Recompute ``receiver``'s deadline (its connection began to close on another thread)."""
        with self._lock:
            if self._thread is None:
                return
            self._refresh.add(receiver)
            self._wake_locked()

    def wait_idle(self, timeout: Optional[float]) -> None:
        """Wait (up to ``timeout`` s) for the thread to end when no connection is left (not on the loop)."""
        if self.is_loop_thread():
            return
        with self._idle:
            thread = self._thread
            if thread is None or self._count:
                return
            self._idle.wait_for(lambda: self._thread is not thread or self._count > 0, timeout)
            ended = self._thread is not thread
        if ended:
            thread.join(timeout)

    def _stop_locked(self) -> None:
        """The thread ends (under the lock): the next registration starts another."""
        self._thread = None
        if self._wake_w is not None:
            self._wake_w.close()
            self._wake_w = None
        self._idle.notify_all()

    def _wake_locked(self) -> None:
        wake = self._wake_w
        if wake is not None:
            try:
                wake.send(b"\0")
            except (BlockingIOError, InterruptedError):
                pass  # the pipe is full: a wake-up is pending anyway
            except OSError:
                pass

    # -- the thread ---------------------------------------------------------------

    def _run(self, wake_r: socket.socket) -> None:
        _local.loop = self
        selector = selectors.DefaultSelector()
        selector.register(wake_r, selectors.EVENT_READ, None)
        heap: List[Tuple[float, int, Receiver]] = []
        counter = itertools.count()
        members = self._members
        monotonic = time.monotonic

        pending: List[Receiver] = []  # TLS records decrypted and not yet read

        def schedule(receiver: Receiver) -> None:
            deadline = receiver.next_deadline()
            if deadline != receiver.scheduled:
                receiver.scheduled = deadline
                if deadline is not None:
                    heapq.heappush(heap, (deadline, next(counter), receiver))

        def end(receiver: Receiver) -> None:
            member = members.get(receiver)
            if member is None:
                return
            try:
                selector.unregister(member.fd)
            except (KeyError, ValueError, OSError):
                pass
            receiver.release()
            receiver.scheduled = None
            with self._lock:
                del members[receiver]
                self._count -= 1
            try:
                member.finish()
            except Exception:
                logger.exception("ending a connection on %r failed", self)

        def serve(receiver: Receiver, readable: bool) -> None:
            """Let ``receiver`` read or judge its deadline; whatever it raises ends it alone."""
            try:
                ended = receiver.on_readable() if readable else receiver.on_deadline()
            except Exception as exc:
                logger.exception("a connection on %r failed", self)
                if receiver.cause is None:
                    receiver.cause = exc
                receiver.end_reason = f"the receive loop failed on this connection ({type(exc).__name__})"
                ended = True
            if ended:
                end(receiver)
                return
            schedule(receiver)
            if readable and receiver.has_pending():
                pending.append(receiver)

        try:
            while True:
                with self._lock:
                    added, self._added = self._added, []
                    refresh, self._refresh = self._refresh, set()
                    if not added and not members:
                        self._stop_locked()
                        return
                    for member in added:
                        members[member.receiver] = member
                for member in added:
                    receiver = member.receiver
                    try:
                        member.fd = receiver.sock.fileno()
                        selector.register(member.fd, selectors.EVENT_READ, receiver)
                    except (OSError, ValueError) as exc:
                        receiver.cause = exc
                        receiver.end_reason = f"the socket could not be watched ({type(exc).__name__})"
                        end(receiver)
                        continue
                    schedule(receiver)
                    if receiver.has_pending():
                        pending.append(receiver)
                for receiver in refresh:
                    if receiver in members:
                        schedule(receiver)
                if pending:
                    timeout: Optional[float] = 0.0
                else:
                    while heap and heap[0][2].scheduled != heap[0][0]:
                        heapq.heappop(heap)  # a deadline since moved, or a connection that ended
                    timeout = max(0.0, heap[0][0] - monotonic()) if heap else None
                ready = selector.select(timeout)
                ready_now = [key.data for key, _ in ready]
                if pending:
                    ready_now.extend(receiver for receiver in pending if receiver not in ready_now)
                    pending.clear()
                for receiver in ready_now:
                    if receiver is None:
                        try:
                            while wake_r.recv(4096):
                                pass
                        except OSError:
                            pass
                        continue
                    if receiver in members:
                        serve(receiver, True)
                now = monotonic()
                while heap and heap[0][0] <= now:
                    deadline, _, receiver = heapq.heappop(heap)
                    if receiver.scheduled != deadline or receiver not in members:
                        continue
                    receiver.scheduled = None
                    serve(receiver, False)
                if len(heap) > 4 * len(members) + 64:  # drop the deadlines that have moved since
                    heap[:] = [entry for entry in heap if entry[2].scheduled == entry[0] and entry[2] in members]
                    heapq.heapify(heap)
        except BaseException:  # a bug in the loop itself: end every connection, loudly
            logger.exception("the receive loop %r failed", self)
            for receiver in list(members):
                receiver.end_reason = "the shared receive loop failed"
                end(receiver)
            with self._lock:
                self._closed = True
                self._stop_locked()
            raise
        finally:
            selector.close()
            wake_r.close()
            _local.loop = None
