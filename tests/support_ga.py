"""GA wire helpers for the tests: strict validation by the ``openai`` models, GA server events.

Expected GA shapes come from ``openai.types.realtime`` (the SDK generated
from OpenAI's published schema), never from ``realtime_sync.dialects``:

* :func:`check_ga_client_event` / :func:`check_ga_server_event` validate a
  frame with ``RealtimeClientEvent`` / ``RealtimeServerEvent`` and refuse any
  field the model does not declare, at any depth (``model_extra``).
* :func:`ga_session` is a GA ``session`` object as a GA server sends it in
  ``session.created`` (server VAD on, voice ``marin``, model ``gpt-realtime``).
* :func:`ga_user_audio_item` and friends build GA items by hand.

The module imports ``openai`` and ``pydantic`` only when a check runs (they
are optional): the item builders work without them.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Dict, List, Optional

__all__ = [
    "check_ga_client_event",
    "check_ga_server_event",
    "undeclared_fields",
    "ga_session",
    "ga_user_audio_item",
    "ga_user_text_item",
    "user_item",
    "ga_event",
    "GaModels",
]

Event = Dict[str, Any]
_ADAPTERS: Dict[str, Any] = {}
_ids = itertools.count(1)


def _adapter(kind: str) -> Any:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
        from pydantic import TypeAdapter

        adapter = TypeAdapter(RealtimeClientEvent if kind == "client" else RealtimeServerEvent)
        _ADAPTERS[kind] = adapter
    return adapter


def undeclared_fields(value: Any, path: str = "") -> List[str]:
    """The paths of every field a parsed model holds that its class does not declare."""
    from pydantic import BaseModel

    found: List[str] = []
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}" if path else key)
        for name in type(value).model_fields:
            found.extend(undeclared_fields(getattr(value, name), f"{path}.{name}" if path else name))
    elif isinstance(value, (list, tuple)):
        for index, entry in enumerate(value):
            found.extend(undeclared_fields(entry, f"{path}[{index}]"))
    elif isinstance(value, dict):
        for key, entry in value.items():
            found.extend(undeclared_fields(entry, f"{path}.{key}"))
    return found


# GA's session object (``RealtimeSessionCreateResponseGA`` in OpenAI's GA schema) has
# these fields, which the openai models of session.created / .updated do not declare.
_SCHEMA_ONLY_SERVER_FIELDS = {"session.id", "session.object", "session.expires_at"}


def _check(kind: str, frame: Event) -> Any:
    model = _adapter(kind).validate_python(frame)
    extra = undeclared_fields(model)
    if kind == "server":
        extra = [path for path in extra if path not in _SCHEMA_ONLY_SERVER_FIELDS]
    assert not extra, f"GA {kind} event {frame.get('type')!r} has undeclared fields {extra}: {frame}"
    return model


def check_ga_client_event(frame: Event) -> Any:
    """Validate a client frame as GA (``RealtimeClientEvent``), undeclared fields refused."""
    return _check("client", frame)


def check_ga_server_event(frame: Event) -> Any:
    """Validate a server frame as GA (``RealtimeServerEvent``), undeclared fields refused."""
    return _check("server", frame)


def ga_session(**overrides: Any) -> Event:
    """A GA realtime ``session`` object with the live service's defaults (``overrides`` replace keys)."""
    session: Event = {
        "type": "realtime",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "The server's own default instructions.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
        },
    }
    session.update(copy.deepcopy(overrides))
    return session


def ga_event(event_type: str, **fields: Any) -> Event:
    """A GA server event with a fresh ``event_id``, checked against the GA models."""
    event: Event = {"event_id": f"event_ga{next(_ids):06d}", "type": event_type}
    event.update(fields)
    check_ga_server_event(event)
    return event


def user_item(item_id: str, content: List[Event]) -> Event:
    """A completed user message item as a server echoes it (the same shape in GA and beta)."""
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": content,
    }


def ga_user_audio_item(item_id: str, transcript: Optional[str] = None) -> Event:
    """The user item a GA server creates for committed audio."""
    return user_item(item_id, [{"type": "input_audio", "transcript": transcript}])


def ga_user_text_item(item_id: str, text: str) -> Event:
    """A user text item as a GA server echoes it."""
    return user_item(item_id, [{"type": "input_text", "text": text}])


class GaModels:
    """The strict GA checks as an object, for tests that pass a validator around (needs ``openai``)."""

    def server_event(self, event: Event) -> Any:
        model = check_ga_server_event(event)
        assert event["event_id"].startswith("event_")
        return model

    def client_event(self, event: Event) -> Any:
        return check_ga_client_event(event)

    def refuses_client_event(self, event: Event) -> bool:
        """True when the GA models refuse ``event`` (invalid, or a field they do not declare)."""
        try:
            check_ga_client_event(event)
        except Exception:
            return True
        return False
