"""The dialect of one simulated session: how its events look on the wire and how it reads clients.

A session produces events in one internal vocabulary: the beta protocol's
names and shapes, plus the events only GA has (``conversation.item.done``,
input transcription deltas, MCP events). :class:`Wire` renders them for the
session's dialect: ``"beta"`` sends the beta events exactly as the beta
protocol has them and leaves the GA-only ones out; ``"ga"`` renames and
reshapes them (:mod:`.ga`). It also reads the client's side: the client events
the dialect has, its session and response settings, and its items.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from .checks import ClientError, invalid_type, unknown
from .config import DEFAULT_MODEL, apply_session_update, default_session, response_config, validate_item
from .ga import (
    GA_DEFAULT_MODEL,
    GA_ONLY_EVENTS,
    apply_ga_session_update,
    default_ga_session,
    event_to_ga,
    ga_response_config,
)
from .ga_items import item_from_ga
from .transcription import apply_transcription_update, is_transcription, transcription_session_to_ga

__all__ = ["BETA_CLIENT_EVENTS", "GA_CLIENT_EVENTS", "PROTOCOLS", "Wire", "check_client_event"]

#: The wire dialects the simulator speaks.
PROTOCOLS = ("ga", "beta")

#: The client events of the beta dialect.
BETA_CLIENT_EVENTS = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
)

# the fields of each GA client event besides ``type`` and ``event_id``
_CLIENT_FIELDS = {
    "session.update": ("session",),
    "input_audio_buffer.append": ("audio",),
    "input_audio_buffer.commit": (),
    "input_audio_buffer.clear": (),
    "output_audio_buffer.clear": (),
    "conversation.item.create": ("item", "previous_item_id"),
    "conversation.item.retrieve": ("item_id",),
    "conversation.item.truncate": ("item_id", "content_index", "audio_end_ms"),
    "conversation.item.delete": ("item_id",),
    "response.create": ("response",),
    "response.cancel": ("response_id",),
}

#: The client events of the GA dialect.
GA_CLIENT_EVENTS = tuple(_CLIENT_FIELDS)


def check_client_event(event: Mapping[str, Any]) -> None:
    """Refuse top-level fields a GA client event does not have, and an ``event_id`` that is not a string.

    Raises:
        ClientError: ``unknown_parameter`` or ``invalid_type`` naming the field.
    """
    allowed = _CLIENT_FIELDS.get(str(event.get("type")), ())
    for key, value in event.items():
        if key == "event_id":
            if value is not None and not isinstance(value, str):
                raise invalid_type("event_id", "a string", value)
        elif key != "type" and key not in allowed:
            raise unknown(key)


class Wire:
    """One dialect (``"ga"`` or ``"beta"``) of the Realtime protocol, as the simulator speaks it."""

    def __init__(self, protocol: str) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be 'ga' or 'beta', not {protocol!r}")
        self.protocol = protocol
        self.ga = protocol == "ga"
        self.client_events: Tuple[str, ...] = GA_CLIENT_EVENTS if self.ga else BETA_CLIENT_EVENTS
        self.default_model = GA_DEFAULT_MODEL if self.ga else DEFAULT_MODEL

    def __repr__(self) -> str:
        return f"<Wire {self.protocol}>"

    def default_session(self, model: str, expires_at: int) -> Dict[str, Any]:
        """The internal session a new connection starts with."""
        return default_ga_session(model, expires_at) if self.ga else default_session(model)

    def render(self, event: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        """The wire form of an internal server event; None when this dialect has no such event."""
        if self.ga:
            rendered = event_to_ga(event)
            session = event.get("session")
            if isinstance(session, dict) and is_transcription(session) and event["type"].startswith("session."):
                rendered["session"] = transcription_session_to_ga(session)
            return rendered
        if event["type"] in GA_ONLY_EVENTS:
            return None
        rendered = dict(event)
        if event["type"] == "response.function_call_arguments.done":
            rendered.pop("name", None)  # GA only
        return rendered

    def check_event(self, event: Mapping[str, Any]) -> None:
        """Refuse fields a client event of this dialect does not have (GA; beta ignores them)."""
        if self.ga:
            check_client_event(event)

    def session_update(self, session: Mapping[str, Any], update: Any, *, audio_sent: bool) -> Dict[str, Any]:
        """The new internal session after a ``session.update`` (the old one is not changed)."""
        if self.ga and is_transcription(session):
            return apply_transcription_update(session, update)
        if self.ga:
            return apply_ga_session_update(session, update, audio_sent=audio_sent)
        return apply_session_update(session, update, audio_sent=audio_sent)

    def response_config(self, session: Mapping[str, Any], overrides: Any) -> Dict[str, Any]:
        """The effective internal configuration of a ``response.create``."""
        if self.ga:
            return ga_response_config(session, overrides)
        return response_config(session, overrides)

    def item(self, raw: Any, where: str = "item") -> Dict[str, Any]:
        """Validate an item a client sends; return it in the internal form (a new dict)."""
        if self.ga:
            return item_from_ga(raw, where)
        try:
            validate_item(raw)
        except ClientError as exc:
            exc.param = (exc.param or "").replace("item", where, 1)
            raise
        assert isinstance(raw, dict)  # validate_item checked it
        return dict(raw)
