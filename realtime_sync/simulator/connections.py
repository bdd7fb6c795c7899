"""The connections one simulator holds: handshakes in progress, sessions running, and their threads.

:class:`Connections` is the table :class:`~.server.RealtimeSimulator` keeps,
under one lock of its own: the connections still in their opening handshake
(cut when the simulator stops), the sessions running and the handler threads
that run them (joined when it stops), the refusal faults that answer
handshakes with HTTP 503, and the counts a test reads back
(``sessions_started``, ``handshakes_refused``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, List, Optional, Union

from websockets.protocol import State
from websockets.sync.server import ServerConnection

from .handshake import shutdown_socket
from .replay import ReplaySession
from .session import SimSession

__all__ = ["Connections", "Session"]

logger = logging.getLogger(__name__)

#: What runs on one accepted connection: a simulated or a replayed session.
Session = Union[SimSession, ReplaySession]

_CONNECTING = State.CONNECTING


class Connections:
    """The sessions and threads of one simulator, and its refusal faults (thread-safe).

    Args:
        refusals: the first this many handshakes get HTTP 503.
        reconnect_refusals: once a session has started, the next this many do.
    """

    def __init__(self, refusals: int = 0, reconnect_refusals: int = 0) -> None:
        self._lock = threading.Lock()
        self._refusals = refusals
        self._reconnect_refusals = reconnect_refusals
        self._sessions: List[Session] = []
        #: Threads running handshakes and sessions (only live ones are kept).
        self.handler_threads: List[threading.Thread] = []
        self._opening: "weakref.WeakSet[ServerConnection]" = weakref.WeakSet()
        #: The simulator is stopping: new connections are cut, new sessions not run.
        self.stopping = False
        #: Sessions run so far.
        self.sessions_started = 0
        #: Handshakes the refusal faults have answered with HTTP 503.
        self.handshakes_refused = 0

    # -- handshakes ---------------------------------------------------------------

    def connection_class(self) -> "type[ServerConnection]":
        """A ServerConnection class that registers each connection here.

        A client that opened the TCP connection but never finished the
        handshake would otherwise hold the simulator's stop for the whole open
        timeout.
        """
        table = self

        class _SimConnection(ServerConnection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                with table._lock:
                    stopping = table.stopping
                    table._opening.add(self)
                if stopping:  # accepted while stop() runs: refuse at once
                    shutdown_socket(self.socket)

        return _SimConnection

    def abort_handshakes(self) -> None:
        """Cut the sockets of connections still in their opening handshake."""
        with self._lock:
            opening = list(self._opening)
        for connection in opening:
            if connection.protocol.state is _CONNECTING:
                shutdown_socket(connection.socket)

    def admit(self) -> bool:
        """Record the calling handshake thread; False when a refusal fault answers this handshake."""
        with self._lock:
            # threads of finished handshakes (rejected ones never run a session) are dropped
            self.handler_threads = [t for t in self.handler_threads if t.is_alive()]
            self.handler_threads.append(threading.current_thread())
            refuse = self._refusals > 0 or (self.sessions_started > 0 and self._reconnect_refusals > 0)
            if self._refusals > 0:
                self._refusals -= 1
            elif refuse:
                self._reconnect_refusals -= 1
            if refuse:
                self.handshakes_refused += 1
        return not refuse

    def refuse_next(self, count: int) -> None:
        """Answer the next ``count`` handshakes with HTTP 503."""
        with self._lock:
            self._refusals += count

    # -- sessions -----------------------------------------------------------------

    def add(self, session: Session, thread: threading.Thread) -> bool:
        """Register a session about to run on ``thread``; False when the simulator is stopping."""
        with self._lock:
            if self.stopping:
                return False
            self._sessions.append(session)
            if thread not in self.handler_threads:
                self.handler_threads.append(thread)
            self.sessions_started += 1
        return True

    def remove(self, session: Session, thread: threading.Thread) -> None:
        """Forget a session that has ended (its thread is joined by :meth:`join` when stopping)."""
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)
            if thread in self.handler_threads and not self.stopping:
                self.handler_threads.remove(thread)

    def add_thread(self, thread: threading.Thread) -> None:
        """A thread :meth:`join` must wait for (a fault's closer)."""
        with self._lock:
            self.handler_threads.append(thread)

    def open_sessions(self) -> List[Session]:
        """The sessions whose connection is still open."""
        with self._lock:
            return [s for s in self._sessions if not s.closed.is_set()]

    # -- stopping -----------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            self.stopping = False

    def begin_stop(self) -> List[Session]:
        """Refuse what comes next; returns the sessions to close."""
        with self._lock:
            self.stopping = True
            return list(self._sessions)

    @staticmethod
    def close(sessions: List[Session], timeout: Optional[float]) -> None:
        """Close ``sessions`` in parallel: each close waits for the client's answer to its close frame."""
        closers = [
            threading.Thread(target=session.close, name="realtime-sync-sim-close", daemon=True)
            for session in sessions
        ]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(timeout)

    def join(self, sessions: List[Session], timeout: Optional[float]) -> None:
        """Join every handler thread and the threads of ``sessions``, then forget them all."""
        with self._lock:
            handlers = list(self.handler_threads)
            self.handler_threads.clear()
        for handler in handlers:
            if handler is not threading.current_thread():
                handler.join(timeout)
                if handler.is_alive():
                    logger.warning("simulator connection thread %s did not stop", handler.name)
        for session in sessions:
            session.join(timeout)
        with self._lock:
            self._sessions.clear()
