"""The connections one simulator holds: handshakes in progress, sessions running, refusal faults.

:class:`Connections` is the table :class:`~.server.RealtimeSimulator` keeps,
under one lock of its own (a test's thread reads it while the loop thread
changes it): the connections still in their opening handshake (cut when the
simulator stops), the sessions running, the refusal faults that answer
handshakes with HTTP 503, and the counts a test reads back
(``sessions_started``, ``handshakes_refused``). It holds no thread: every
connection is served on the simulator's loop thread.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, List, Union

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from .replay import ReplaySession
from .session import SimSession

__all__ = ["Connections", "Session"]

logger = logging.getLogger(__name__)

#: What runs on one accepted connection: a simulated or a replayed session.
Session = Union[SimSession, ReplaySession]

_CONNECTING = State.CONNECTING


class Connections:
    """The sessions of one simulator, its handshakes in progress and its refusal faults (thread-safe).

    Args:
        refusals: the first this many handshakes get HTTP 503.
        reconnect_refusals: once a session has started, the next this many do.
    """

    def __init__(self, refusals: int = 0, reconnect_refusals: int = 0) -> None:
        self._lock = threading.Lock()
        self._refusals = refusals
        self._reconnect_refusals = reconnect_refusals
        self._sessions: List[Session] = []
        self._opening: "weakref.WeakSet[ServerConnection]" = weakref.WeakSet()
        #: The simulator is stopping: new connections are cut, new sessions not run.
        self.stopping = False
        #: Sessions run so far.
        self.sessions_started = 0
        #: Handshakes the refusal faults have answered with HTTP 503.
        self.handshakes_refused = 0

    # -- handshakes (loop thread) ---------------------------------------------------

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
                    table._opening.add(self)

            def connection_made(self, transport: Any) -> None:
                super().connection_made(transport)
                if table.stopping:  # accepted while stop() runs: refuse at once
                    transport.abort()

        return _SimConnection

    def abort_handshakes(self) -> None:
        """Cut the connections still in their opening handshake (loop thread)."""
        with self._lock:
            opening = list(self._opening)
        for connection in opening:
            transport = getattr(connection, "transport", None)
            if connection.protocol.state is _CONNECTING and transport is not None:
                transport.abort()

    def opening(self) -> int:
        """How many connections the table still holds in their opening handshake or after."""
        with self._lock:
            return len(self._opening)

    def admit(self) -> bool:
        """Count a handshake; False when a refusal fault answers it."""
        with self._lock:
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

    def add(self, session: Session) -> bool:
        """Register a session about to run; False when the simulator is stopping."""
        with self._lock:
            if self.stopping:
                return False
            self._sessions.append(session)
            self.sessions_started += 1
        return True

    def remove(self, session: Session) -> None:
        """Forget a session that has ended."""
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)

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

    def clear(self) -> None:
        """Forget every session (the simulator has stopped)."""
        with self._lock:
            self._sessions.clear()
