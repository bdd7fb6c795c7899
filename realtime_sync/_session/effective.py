"""The session as the server runs it, and the changes on their way to it.

:class:`EffectiveSession` keeps what the last ``session`` object the server
sent (``session.created`` / ``session.updated``) says about the settings the
client acts on, and the same for each ``session.update`` the client sent that
the server has not answered yet (both as
:func:`realtime_sync.dialects.effective_session` reads them: ``turn_detection_type``,
audio formats, voice...). :meth:`EffectiveSession.value` answers "what is
this setting now?" from the newest unanswered update that sets it, else from
the server's session: so a client that has just switched turn detection acts
on the switch at once, and otherwise on what the server says, not on its own
assumption.

Each ``session.updated`` answers the oldest unanswered ``session.update``
(the server handles client events in order); an ``error`` naming one
removes it.

Reading is the hot side (every ``append_input_audio`` asks for the turn
detection): each change rebuilds, under the lock, one merged view of the
server's session with the unanswered updates over it, oldest first, which
:meth:`EffectiveSession.value` reads without a lock.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["EffectiveSession"]

# Unanswered updates kept at most (a server that never answers must not grow the list).
_IN_FLIGHT_KEPT = 32


class EffectiveSession:
    """The server's session and the client's unanswered updates. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: Optional[Dict[str, Any]] = None
        self._in_flight: List[Tuple[str, Dict[str, Any]]] = []
        self._dropped = 0  # unanswered updates forgotten to bound the list
        # the server's session with every unanswered update over it (newest last): replaced, never changed
        self._merged: Dict[str, Any] = {}

    def _merge(self) -> None:
        """Rebuild the merged view (lock held)."""
        merged = dict(self._server) if self._server is not None else {}
        for _, session in self._in_flight:
            merged.update(session)
        self._merged = merged

    @property
    def server(self) -> Optional[Dict[str, Any]]:
        """What the server's last session object said (``effective_session``), or ``None``."""
        return self._server

    def restart(self) -> None:
        """A new connection: nothing is known yet."""
        with self._lock:
            self._server = None
            self._in_flight = []
            self._dropped = 0
            self._merged = {}

    def sending(self, event_id: str, session: Dict[str, Any]) -> None:
        """Note a ``session.update`` (its ``effective_session``) before the frame: its answer may come at once."""
        with self._lock:
            self._in_flight.append((event_id, session))
            excess = len(self._in_flight) - _IN_FLIGHT_KEPT
            if excess > 0:  # the oldest are forgotten, but their answers still come first
                del self._in_flight[:excess]
                self._dropped += excess
            self._merge()

    def rejected(self, event_id: object) -> bool:
        """An update was not sent, or the server refused it; ``True`` if it was one of ours."""
        with self._lock:
            for index, (sent_id, _) in enumerate(self._in_flight):
                if sent_id == event_id:
                    del self._in_flight[index]
                    self._merge()
                    return True
        return False

    def answered(self, event_type: object, session: object) -> None:
        """``session.created`` / ``session.updated`` arrived (``session``: its ``effective_session``)."""
        with self._lock:
            if isinstance(session, dict):
                self._server = session
            if event_type == "session.updated":
                if self._dropped:  # the answer to an update already forgotten
                    self._dropped -= 1
                elif self._in_flight:
                    del self._in_flight[0]
            self._merge()

    def value(self, key: str) -> Tuple[bool, Any]:
        """``(True, value)`` of a setting known from an unanswered update or the server, else ``(False, None)``.

        The newest unanswered update that sets it wins. No lock: the merged view is replaced whole.
        """
        merged = self._merged
        if key in merged:
            return True, merged[key]
        return False, None
