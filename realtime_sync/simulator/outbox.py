"""The outbox of one simulated session: every server frame leaves through it.

:class:`Outbox` adds each event's ``event_id``, serialises frames on the socket
(its own lock) and applies the write-side faults of :class:`~.state.SimOptions`
(delay, drop after N events, a malformed frame, an injected ``error``). Any
thread may send; a closed session raises :class:`~.state.Closed`.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Any, Callable, Dict, Mapping, Optional

from .config import new_id
from .state import Closed, EncodedAudio, SimOptions

#: Renders an internal event for the session's dialect (None: not sent in it).
Render = Callable[[Mapping[str, Any]], Optional[Dict[str, Any]]]

__all__ = ["Outbox"]

logger = logging.getLogger(__name__)

_MALFORMED = '{"type": "response.text.delta", "delta": '  # cut short: not JSON
_INJECTED_ERROR: Dict[str, Any] = {
    "type": "server_error",
    "code": None,
    "message": "The server had an error while processing your request (injected by the simulator).",
    "param": None,
    "event_id": None,
}


def _frame(event: Dict[str, Any]) -> str:
    """The JSON text of ``event``, exactly as ``json.dumps`` writes it.

    A ``delta`` of :class:`~.state.EncodedAudio` (the last field of an audio
    delta) is copied in as it is, not scanned for characters to escape.
    """
    delta = event.get("delta")
    if type(delta) is not EncodedAudio or next(reversed(event)) != "delta":
        return json.dumps(event)
    rest = dict(event)
    del rest["delta"]
    return json.dumps(rest)[:-1] + ', "delta": "' + delta + '"}'


class Outbox:
    """Writes server events to one connection.

    Args:
        connection: a ``websockets.sync.server.ServerConnection``.
        options: the simulator's options (faults).
        closed: the session's closed flag; once set, nothing more is written.
        name: the session id, for logs.
        render: turns an internal event into the session's dialect (:meth:`~.wire.Wire.render`).
    """

    def __init__(
        self, connection: Any, options: SimOptions, closed: threading.Event, name: str, render: Optional[Render] = None
    ) -> None:
        self.render = render
        self.connection = connection
        self.options = options
        self.closed = closed
        self.name = name
        self.lock = threading.Lock()
        self.sent = 0
        self.dropped = False

    def send(self, event: Dict[str, Any], *, raw: bool = False) -> Dict[str, Any]:
        """Render, add an event_id, apply faults, and write one server event; returns it as sent.

        An event the session's dialect does not have is not sent (and not
        counted); it is returned as given. ``raw``: send ``event`` as it is
        (only an ``event_id`` is added).

        Raises:
            Closed: the connection is closed (or was just dropped by a fault).
        """
        from websockets.exceptions import ConnectionClosed

        if not raw and self.render is not None:
            rendered = self.render(event)
            if rendered is None:
                return event
            event = rendered
        event = {"event_id": new_id("event"), **event}
        opts = self.options
        if opts.event_delay > 0 and self.closed.wait(opts.event_delay):
            raise Closed()
        frame = _frame(event)
        with self.lock:
            if self.closed.is_set():
                raise Closed()
            try:
                if opts.drop_after is not None and self.sent >= opts.drop_after:
                    self.drop()
                    raise Closed()
                self.connection.send(frame)
                self.sent += 1
                if opts.malformed_frame_after is not None and self.sent == opts.malformed_frame_after:
                    self.connection.send(_MALFORMED)
                if opts.error_after is not None and self.sent == opts.error_after:
                    error = opts.error or _INJECTED_ERROR
                    self.connection.send(json.dumps({"event_id": new_id("event"), "type": "error", "error": error}))
            except (ConnectionClosed, OSError) as exc:
                raise Closed() from exc
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("simulator %s sent %s %s", self.name, event["type"], event["event_id"])
        return event

    def send_malformed(self) -> None:
        """Fault: write one frame that is not valid JSON.

        Raises:
            Closed: the connection is closed.
        """
        from websockets.exceptions import ConnectionClosed

        with self.lock:
            if self.closed.is_set():
                raise Closed()
            try:
                self.connection.send(_MALFORMED)
            except (ConnectionClosed, OSError) as exc:
                raise Closed() from exc

    def drop(self) -> None:
        """Fault: end the TCP connection abruptly, without a close frame."""
        self.dropped = True
        self.closed.set()
        self.cut()

    def cut(self) -> None:
        """Shut the TCP socket down both ways: blocked reads and writes end at once."""
        try:
            self.connection.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a send in progress to finish; False if it is stuck."""
        if self.lock.acquire(timeout=timeout):
            self.lock.release()
            return True
        return False

    def close(self, code: int, reason: str) -> None:
        """Close the connection with a close frame (errors logged, never raised)."""
        try:
            self.connection.close(code, reason)
        except Exception:
            logger.debug("closing simulator connection %s failed", self.name, exc_info=True)

