"""The outbox of one simulated session: every server frame leaves through it.

:class:`Outbox` adds each event's ``event_id``, serialises frames on the socket
(its own lock) into the connection's :class:`~.channel.Channel` and applies the
write-side faults of :class:`~.state.SimOptions` (delay, drop after N events,
a malformed frame, an injected ``error``). Any thread may send, and a send
never blocks: the channel's writer task sends the frames in order on the
simulator's loop. A closed session raises :class:`~.state.Closed`.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable, Dict, Mapping, Optional

from .channel import Channel
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
    """Writes server events to one connection, through its :class:`~.channel.Channel` (any thread, never blocks).

    Args:
        channel: the connection's channel (its writing queue).
        options: the simulator's options (faults).
        closed: the session's closed flag; once set, nothing more is written.
        name: the session id, for logs.
        render: turns an internal event into the session's dialect (:meth:`~.wire.Wire.render`).
    """

    def __init__(
        self, channel: Channel, options: SimOptions, closed: threading.Event, name: str, render: Optional[Render] = None
    ) -> None:
        self.render = render
        self.channel = channel
        self.options = options
        self.closed = closed
        self.name = name
        self.lock = threading.Lock()  # the fault counts, and the order of frames from several threads
        self.sent = 0
        self.dropped = False

    def send(self, event: Dict[str, Any], *, raw: bool = False) -> Dict[str, Any]:
        """Render, add an event_id, apply faults, and queue one server event; returns it as sent.

        An event the session's dialect does not have is not sent (and not
        counted); it is returned as given. ``raw``: send ``event`` as it is
        (only an ``event_id`` is added). The frame leaves in order on the
        loop thread; ``event_delay`` is waited there, before it.

        Raises:
            Closed: the connection is closed (or was just dropped by a fault).
        """
        if not raw and self.render is not None:
            rendered = self.render(event)
            if rendered is None:
                return event
            event = rendered
        event = {"event_id": new_id("event"), **event}
        opts = self.options
        frame = _frame(event)
        with self.lock:
            if self.closed.is_set():
                raise Closed()
            if opts.drop_after is not None and self.sent >= opts.drop_after:
                self.drop()
                raise Closed()
            self.channel.write(frame, opts.event_delay)
            self.sent += 1
            if opts.malformed_frame_after is not None and self.sent == opts.malformed_frame_after:
                self.channel.write(_MALFORMED)
            if opts.error_after is not None and self.sent == opts.error_after:
                error = opts.error or _INJECTED_ERROR
                self.channel.write(json.dumps({"event_id": new_id("event"), "type": "error", "error": error}))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("simulator %s sent %s %s", self.name, event["type"], event["event_id"])
        return event

    def send_malformed(self) -> None:
        """Fault: write one frame that is not valid JSON.

        Raises:
            Closed: the connection is closed.
        """
        with self.lock:
            if self.closed.is_set():
                raise Closed()
            self.channel.write(_MALFORMED)

    def drop(self) -> None:
        """Fault: end the TCP connection abruptly, without a close frame (after the frames queued before)."""
        self.dropped = True
        self.closed.set()
        self.channel.cut()

    def close(self, code: int, reason: str) -> None:
        """Close the connection with a close frame, after the frames queued before it."""
        self.channel.close(code, reason)
