"""The route of every client event the client sends.

:class:`Outbound` sends one client event in the beta model: it chooses the
``event_id`` first, registers the request handle (if any) and the event in
the record of sent events under that id, dispatches ``realtime.event`` with
the event *as asked for* (never translated back from the wire), and then
hands it to :meth:`RealtimeAPI.send <realtime_sync.api.RealtimeAPI.send>`,
which keeps the id, translates to the wire dialect and writes the frame.

Also here: the shaping of user content parts and of an interruption's
truncate point, which need only the audio helpers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .. import audio as _audio
from .. import dialects
from ..api import RealtimeAPI, generate_id
from ..errors import ConfigurationError, NotConnectedError, UnknownItemError
from ..events import Waiter
from .images import image_part
from .inbound import now_iso
from .sent import SentEvents

if TYPE_CHECKING:
    import numpy as np
else:
    from .._lazy import numpy as np  # imported when audio is first touched

__all__ = ["Outbound", "prepare_content", "truncate_point", "mcp_approval_item"]

Event = Dict[str, Any]


class Outbound:
    """Sends client events for the client (any thread).

    Args:
        realtime: the socket layer.
        sent: the record of sent events (and request handles).
        emit: dispatches a client-level event (``realtime.event``).
        wants: whether anything listens for a client-level event name now.
        gate: called with the event type before anything is sent; raises to
            refuse the send (the client's: while it reconnects).
    """

    def __init__(
        self,
        realtime: RealtimeAPI,
        sent: SentEvents,
        emit: Callable[[str, Any], None],
        wants: Callable[[str], bool],
        gate: Optional[Callable[[str], None]] = None,
    ) -> None:
        self._realtime = realtime
        self._gate = gate
        self._sent = sent
        self._emit = emit
        self._wants = wants

    def send(self, event_type: str, data: Optional[Event] = None, handle: Optional[Waiter] = None) -> Event:
        """Send one client event; return it as asked for (beta model, with its ``event_id``).

        ``realtime.event`` is dispatched on the calling thread before the frame
        is written, so it precedes any server event answering it.

        Raises:
            NotConnectedError: not connected (ReconnectingError: the client is reconnecting).
            RealtimeError: the socket layer's send failed.
        """
        if self._gate is not None:
            self._gate(event_type)
        if not self._realtime.is_connected():
            raise NotConnectedError(f"cannot send {event_type!r}: not connected; call connect() first")
        event: Event = {"event_id": generate_id("evt_"), "type": event_type}
        if data:
            event.update(data)
            event["type"] = event_type
        self._sent.add(event, handle)
        if self._wants("realtime.event"):
            self._emit("realtime.event", {"time": now_iso(), "source": "client", "event": event})
        self._realtime.send(event_type, event)
        return event

    def on_wire_client_event(self, wire_event: Event) -> None:
        """``client.*`` of the socket layer: show events sent around the client (``client.realtime.send``)."""
        if wire_event.get("event_id") in self._sent:
            return  # sent by send() above: recorded and shown as asked for
        event = wire_event
        protocol = self._realtime.protocol
        if protocol != "beta":
            try:
                event = dialects.client_from_wire(wire_event, protocol)
            except Exception:
                event = wire_event
        self._sent.add(event)
        if self._wants("realtime.event"):
            self._emit("realtime.event", {"time": now_iso(), "source": "client", "event": event})


def prepare_content(content: Any, input_format: str) -> List[Dict[str, Any]]:
    """Checked copies of user content parts, audio samples encoded for ``input_format``.

    ``input_image`` parts get their image (bytes, a path or a data URL) as a
    data URL (:func:`~.images.image_part`).

    Raises:
        ConfigurationError: ``content`` is not a list of dicts with a ``type``,
            or an image that cannot be read or is not PNG, JPEG, GIF or WebP.
        TypeError, ValueError: audio that cannot be converted.
    """
    if content is None:
        return []
    if not isinstance(content, (list, tuple)):
        raise ConfigurationError("content must be a list of content parts (dicts)")
    parts: List[Dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise ConfigurationError(f'each content part must be a dict with a "type": {part!r}')
        part = dict(part)
        if part["type"] == "input_audio":
            audio = part.get("audio")
            if audio is not None and not isinstance(audio, str):
                part["audio"] = _audio.encode_audio(_audio.to_pcm16(audio), input_format)
        elif part["type"] == "input_image":
            part = image_part(part)
        parts.append(part)
    return parts


def truncate_point(item: Optional[Dict[str, Any]], item_id: str, sample_count: Any, rate: int) -> Tuple[Optional[int], int]:
    """Where to cut an interrupted assistant item: ``(audio content index or None, audio_end_ms)``.

    ``audio_end_ms`` is the reference's ``floor(sample_count / rate * 1000)``,
    with ``sample_count`` capped at the audio received for the item.

    Raises:
        UnknownItemError: no such item. ConfigurationError: not an assistant
        message, or ``sample_count`` not a non-negative integer.
    """
    if isinstance(sample_count, bool) or not isinstance(sample_count, (int, np.integer)) or sample_count < 0:
        raise ConfigurationError(f"sample_count must be a non-negative integer, got {sample_count!r}")
    if item is None:
        raise UnknownItemError(f'could not find item "{item_id}"')
    if item.get("type") != "message" or item.get("role") != "assistant":
        raise ConfigurationError(
            f'cancel_response() needs an assistant message, item "{item_id}" is a '
            f"{item.get('role') or ''} {item.get('type')}".replace("  ", " ")
        )
    content = item.get("content") or []
    audio_index = next(
        (i for i, part in enumerate(content) if isinstance(part, dict) and part.get("type") == "audio"), None
    )
    received = len(item.get("formatted", {}).get("audio", ()))
    return audio_index, math.floor(min(int(sample_count), received) / rate * 1000)


def mcp_approval_item(approval_request_id: Any, approve: Any, reason: Optional[str]) -> Dict[str, Any]:
    """The ``mcp_approval_response`` item answering an ``mcp_approval_request`` (with its own id, as GA requires)."""
    if not isinstance(approval_request_id, str) or not approval_request_id:
        raise ConfigurationError(f"approval_request_id must be the request item's id, got {approval_request_id!r}")
    if not isinstance(approve, bool):
        raise ConfigurationError(f"approve must be True or False, got {approve!r}")
    if reason is not None and not isinstance(reason, str):
        raise ConfigurationError(f"reason must be a str or None, got {type(reason).__name__}")
    item: Dict[str, Any] = {
        "type": "mcp_approval_response",
        "id": generate_id("mcpr_"),
        "approval_request_id": approval_request_id,
        "approve": approve,
    }
    if reason is not None:
        item["reason"] = reason
    return item
