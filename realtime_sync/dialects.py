"""The two wire dialects of the Realtime API, translated at the socket boundary.

The library has one programming model: the beta protocol's events, items and
session fields (``response.text.delta``, ``conversation.item.created``,
content parts ``text`` / ``audio``, a flat session with ``modalities``,
``voice``, ``input_audio_format``...). OpenAI's live service speaks the GA
dialect instead (model ``gpt-realtime``, no ``OpenAI-Beta`` header). The pure
functions here translate between the two, so that :class:`RealtimeAPI` can
speak either wire while the client and the conversation stay unchanged:

* :func:`client_to_wire` - a beta-shaped client event, as the client builds
  it, to what goes on the wire;
* :func:`server_from_wire` - a server event as it came off the wire to the
  beta shape the conversation understands;
* :func:`client_from_wire` / :func:`server_to_wire` - the reverse directions,
  for a server that wants to speak GA (the simulator) and for round trips;
* :func:`session_to_ga` / :func:`session_from_ga` - a session config of
  either form (flat, GA-native or mixed) to one form;
* :func:`merge_session_update` - a user's session update (either form) folded
  into the client's stored config, returning only what changed;
* :func:`effective_session` - what a server's ``session`` object (either
  dialect) says about turn detection, audio formats, voice and modalities.

For ``protocol="beta"`` every function returns its argument itself. For
``"ga"`` they never modify their argument: they copy only the dicts and lists
on the path to what changes and share the rest, so the result may alias parts
of the input. Events with no counterpart in the other dialect pass through
unchanged, as do events whose shape is not what the dialect says (the
conversation reports malformed events; this layer does not).

The value converters live in ``_dialect_values``, items and content parts in
``_dialect_items``, sessions and response options in ``_dialect_session``, the
stored-config helpers in ``_dialect_config``; this module holds the event
tables and the public functions.

Threads: all functions are pure and thread-safe. :func:`server_from_wire` runs
on the socket thread for every event; for the hot events (audio, text and
transcript deltas) it costs a dict lookup and one shallow copy.

Event names (GA wire <-> beta model)
------------------------------------
==========================================  ===========================================
GA                                          beta
==========================================  ===========================================
``response.output_text.delta`` / ``.done``  ``response.text.delta`` / ``.done``
``response.output_audio.delta`` / ``.done`` ``response.audio.delta`` / ``.done``
``response.output_audio_transcript.*``      ``response.audio_transcript.*``
``conversation.item.added``                 ``conversation.item.created``
``conversation.item.done``                  (none: keeps its name, item translated;
                                            the conversation completes the item)
``session.update`` with ``type: realtime``  ``session.update`` (flat session)
``conversation.item.input_audio_           (none: pass through unchanged; the
transcription.delta``, ``mcp_list_tools.*``,  conversation folds them in)
``response.mcp_call*``
``output_audio_buffer.*``,                  (none: pass through unchanged)
``input_audio_buffer.timeout_triggered``,
``conversation.item.input_audio_transcription.segment``, DTMF
all other events                            the same name and shape
==========================================  ===========================================

Session fields (beta flat <-> GA nested, ``session.type`` is ``"realtime"``)
----------------------------------------------------------------------------
==================================  ==========================================
beta                                GA
==================================  ==========================================
``modalities`` ``["text","audio"]`` ``output_modalities`` ``["audio"]`` (GA
                                    audio always carries a transcript; it
                                    cannot ask for both)
``modalities`` ``["text"]``         ``output_modalities`` ``["text"]``
``input_audio_format``              ``audio.input.format``
``input_audio_transcription``       ``audio.input.transcription``
``input_audio_noise_reduction``     ``audio.input.noise_reduction``
``turn_detection``                  ``audio.input.turn_detection`` (``type``
                                    defaults to ``server_vad``; fields the GA
                                    VAD type does not take are dropped)
``output_audio_format``             ``audio.output.format``
``voice`` / ``speed``               ``audio.output.voice`` / ``.speed``
``max_response_output_tokens``      ``max_output_tokens``
``tool_choice`` ``"my_function"``   ``{"type": "function", "name": ...}``
``temperature``                     dropped: GA has no sampling temperature
                                    (logged as a warning unless it is the
                                    beta default 0.8)
``instructions``, ``tools``,        unchanged
``model``, ``tracing``
==================================  ==========================================

Audio formats: ``pcm16`` <-> ``{"type": "audio/pcm", "rate": 24000}``,
``g711_ulaw`` <-> ``{"type": "audio/pcmu"}``, ``g711_alaw`` <->
``{"type": "audio/pcma"}``. Response options (``response.create``,
``response.created`` / ``response.done``) map ``modalities``, ``voice``,
``output_audio_format`` and ``max_response_output_tokens`` the same way
(``response.audio.output.{voice,format}``).

Content part types: assistant items use ``output_text`` / ``output_audio``
on GA and ``text`` / ``audio`` in the beta model; incoming GA items and parts
accept both spellings. User and system parts are ``input_text`` /
``input_audio`` in both (a beta ``text`` / ``audio`` part in a user message
becomes ``input_text`` / ``input_audio``). ``response.content_part.*`` parts
stay ``text`` / ``audio``, as the GA schema says.

Not translated: transcription sessions (``session.type: "transcription"``)
pass through as they are.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ._dialect_config import SESSION_KEYS, effective_session, merge_session_update
from ._dialect_items import item_from_ga, item_to_ga, part_from_ga
from ._dialect_session import (
    response_from_ga,
    response_options_from_ga,
    response_options_to_ga,
    session_from_ga,
    session_to_ga,
)
from ._dialect_values import audio_format_from_ga, audio_format_to_ga
from .errors import ConfigurationError

__all__ = [
    "PROTOCOLS",
    "DEFAULT_MODELS",
    "check_protocol",
    "default_model",
    "handshake_headers",
    "client_to_wire",
    "client_from_wire",
    "server_from_wire",
    "server_to_wire",
    "session_to_ga",
    "session_from_ga",
    "audio_format_to_ga",
    "audio_format_from_ga",
    "SESSION_KEYS",
    "merge_session_update",
    "effective_session",
]

Event = Dict[str, Any]

#: The wire dialects, as accepted by the ``protocol`` argument.
PROTOCOLS: Tuple[str, ...] = ("beta", "ga")

#: The model each dialect connects to unless told otherwise.
DEFAULT_MODELS: Dict[str, str] = {
    "beta": "gpt-4o-realtime-preview-2024-10-01",
    "ga": "gpt-realtime",
}

_BETA_HEADERS: Dict[str, str] = {"OpenAI-Beta": "realtime=v1"}


def check_protocol(protocol: object) -> str:
    """Return ``protocol`` if it is one of :data:`PROTOCOLS`.

    Raises:
        ConfigurationError: anything else.
    """
    if protocol == "ga" or protocol == "beta":
        return protocol
    raise ConfigurationError(
        f"unknown Realtime protocol {protocol!r}: use 'ga' (the live OpenAI service, "
        f"model gpt-realtime) or 'beta' (older servers, relays and the simulator)"
    )


def default_model(protocol: str) -> str:
    """The model to connect to when the caller names none (``gpt-realtime`` on GA)."""
    return DEFAULT_MODELS[check_protocol(protocol)]


def handshake_headers(protocol: str) -> Dict[str, str]:
    """Extra HTTP headers the WebSocket handshake needs (a new dict each call).

    Beta servers want ``OpenAI-Beta: realtime=v1``; GA wants none (OpenAI
    answers a beta header with the beta protocol, which it has retired).
    """
    return dict(_BETA_HEADERS) if check_protocol(protocol) == "beta" else {}


# -- events -------------------------------------------------------------------------

def _with(event: Mapping[str, Any], key: str, value: Any) -> Event:
    """A shallow copy of ``event`` with ``key`` set, or ``event`` itself if unchanged."""
    if event.get(key, _MISSING) is value:
        return event  # type: ignore[return-value]
    result = dict(event)
    result[key] = value
    return result


_MISSING = object()


def _convert_field(key: str, convert: Callable[[Any], Any]) -> Callable[[Event], Event]:
    def handler(event: Event) -> Event:
        value = event.get(key, _MISSING)
        if value is _MISSING:
            return event
        return _with(event, key, convert(value))

    return handler


def _dict_field(key: str, convert: Callable[[Mapping[str, Any]], Any]) -> Callable[[Event], Event]:
    def handler(event: Event) -> Event:
        value = event.get(key)
        if not isinstance(value, dict):
            return event
        return _with(event, key, convert(value))

    return handler


def _renamed(new_type: str, then: Optional[Callable[[Event], Event]] = None) -> Callable[[Event], Event]:
    def handler(event: Event) -> Event:
        if then is not None:
            converted = then(event)
            result = dict(converted) if converted is event else converted
        else:
            result = dict(event)
        result["type"] = new_type
        return result

    return handler

def _client_session_update_to_ga(event: Event) -> Event:
    session = event.get("session")
    if not isinstance(session, dict):
        return event
    return _with(event, "session", session_to_ga(session, where="session.update session"))


def _client_session_update_from_ga(event: Event) -> Event:
    session = event.get("session")
    if not isinstance(session, dict):
        return event
    return _with(event, "session", session_from_ga(session))


_CLIENT_TO_GA: Dict[str, Callable[[Event], Event]] = {
    "session.update": _client_session_update_to_ga,
    "conversation.item.create": _convert_field("item", item_to_ga),
    "response.create": _dict_field("response", response_options_to_ga),
}
_CLIENT_FROM_GA: Dict[str, Callable[[Event], Event]] = {
    "session.update": _client_session_update_from_ga,
    "conversation.item.create": _convert_field("item", item_from_ga),
    "response.create": _dict_field("response", response_options_from_ga),
}

_item_field_from_ga = _convert_field("item", item_from_ga)
_item_field_to_ga = _convert_field("item", item_to_ga)
_session_field_from_ga = _dict_field("session", session_from_ga)
_session_field_to_ga = _dict_field("session", session_to_ga)
_response_field_from_ga = _dict_field("response", response_from_ga)
_response_field_to_ga = _dict_field("response", response_options_to_ga)
_part_field_from_ga = _convert_field("part", part_from_ga)

# Pure renames, GA -> beta; the hot path (deltas) is one of these.
_SERVER_RENAMES_FROM_GA: Dict[str, str] = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
}
_SERVER_RENAMES_TO_GA: Dict[str, str] = {beta: ga for ga, beta in _SERVER_RENAMES_FROM_GA.items()}

_SERVER_FROM_GA: Dict[str, Callable[[Event], Event]] = {
    **{ga: _renamed(beta) for ga, beta in _SERVER_RENAMES_FROM_GA.items()},
    "conversation.item.added": _renamed("conversation.item.created", _item_field_from_ga),
    "conversation.item.created": _item_field_from_ga,
    "conversation.item.done": _item_field_from_ga,
    "conversation.item.retrieved": _item_field_from_ga,
    "response.output_item.added": _item_field_from_ga,
    "response.output_item.done": _item_field_from_ga,
    "response.content_part.added": _part_field_from_ga,
    "response.content_part.done": _part_field_from_ga,
    "response.created": _response_field_from_ga,
    "response.done": _response_field_from_ga,
    "session.created": _session_field_from_ga,
    "session.updated": _session_field_from_ga,
}
_SERVER_TO_GA: Dict[str, Callable[[Event], Event]] = {
    **{beta: _renamed(ga) for beta, ga in _SERVER_RENAMES_TO_GA.items()},
    "conversation.item.created": _renamed("conversation.item.added", _item_field_to_ga),
    "conversation.item.done": _item_field_to_ga,
    "conversation.item.retrieved": _item_field_to_ga,
    "response.output_item.added": _item_field_to_ga,
    "response.output_item.done": _item_field_to_ga,
    "response.created": _response_field_to_ga,
    "response.done": _response_field_to_ga,
    "session.created": _session_field_to_ga,
    "session.updated": _session_field_to_ga,
}


def _translate(table: Mapping[str, Callable[[Event], Event]], event: Event) -> Event:
    if type(event) is not dict:  # passed through as it is: this layer reports nothing
        return event
    handler = table.get(event.get("type"))  # type: ignore[arg-type]
    return event if handler is None else handler(event)


def client_to_wire(event: Event, protocol: str) -> Event:
    """Translate a beta-shaped client event to the ``protocol`` wire shape.

    Runs on the thread that sends. For ``"beta"`` it returns ``event`` itself;
    for ``"ga"`` a translated event (``event`` is not modified; unchanged
    parts are shared), or ``event`` itself when nothing needs translating.

    Raises:
        ConfigurationError: an unknown protocol, or a session or response
            naming an unknown audio format.
    """
    if protocol == "ga":
        return _translate(_CLIENT_TO_GA, event)
    check_protocol(protocol)
    return event


def client_from_wire(event: Event, protocol: str) -> Event:
    """Translate a client event received in the ``protocol`` dialect to beta shape.

    The inverse of :func:`client_to_wire`, for a server that speaks GA. A
    ``temperature`` dropped on the way to GA does not come back.

    Raises:
        ConfigurationError: an unknown protocol.
    """
    if protocol == "ga":
        return _translate(_CLIENT_FROM_GA, event)
    check_protocol(protocol)
    return event


def server_from_wire(event: Event, protocol: str) -> Event:
    """Translate a server event off the ``protocol`` wire to the beta shape.

    Runs on the socket thread for every event: renamed deltas cost one dict
    lookup and one shallow copy; events with no translation come back as
    they are. ``event`` itself is never modified.

    Raises:
        ConfigurationError: an unknown protocol.
    """
    if protocol == "ga":
        if type(event) is not dict:
            return event
        handler = _SERVER_FROM_GA.get(event.get("type"))  # type: ignore[arg-type]
        return event if handler is None else handler(event)
    if protocol == "beta":
        return event
    check_protocol(protocol)
    return event


def server_to_wire(event: Event, protocol: str) -> Event:
    """Translate a beta-shaped server event to the ``protocol`` wire shape.

    The inverse of :func:`server_from_wire`, for a server (the simulator)
    that speaks GA: ``conversation.item.created`` goes out as
    ``conversation.item.added``. GA's extra ``conversation.item.done`` has no
    beta source; such a server sends it itself.

    Raises:
        ConfigurationError: an unknown protocol.
    """
    if protocol == "ga":
        return _translate(_SERVER_TO_GA, event)
    check_protocol(protocol)
    return event
