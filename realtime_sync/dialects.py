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
  for a server that wants to speak GA (the simulator) and for round trips.

For ``protocol="beta"`` every function returns its argument itself. For
``"ga"`` they never modify their argument: they copy only the dicts and lists
on the path to what changes and share the rest, so the result may alias parts
of the input. Events with no counterpart in the other dialect pass through
unchanged, as do events whose shape is not what the dialect says (the
conversation reports malformed events; this layer does not).

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
``conversation.item.done``                  (none: keeps its name, item translated)
``session.update`` with ``type: realtime``  ``session.update`` (flat session)
``output_audio_buffer.*``, ``mcp_*``,       (none: pass through unchanged)
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

import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

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
]

logger = logging.getLogger(__name__)

Event = Dict[str, Any]

#: The wire dialects, as accepted by the ``protocol`` argument.
PROTOCOLS: Tuple[str, ...] = ("beta", "ga")

#: The model each dialect connects to unless told otherwise.
DEFAULT_MODELS: Dict[str, str] = {
    "beta": "gpt-4o-realtime-preview-2024-10-01",
    "ga": "gpt-realtime",
}

_BETA_HEADERS: Dict[str, str] = {"OpenAI-Beta": "realtime=v1"}

# The beta default temperature: dropping it on GA changes nothing worth a warning.
_BETA_DEFAULT_TEMPERATURE = 0.8


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


# -- audio formats --------------------------------------------------------------

_FORMAT_TO_GA: Dict[str, Dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_FROM_GA: Dict[str, str] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}


def audio_format_to_ga(audio_format: Any) -> Any:
    """``"pcm16"`` -> ``{"type": "audio/pcm", "rate": 24000}`` (a new dict), and so on.

    A dict (already a GA format) and ``None`` pass through.

    Raises:
        ConfigurationError: a string that is not a beta audio format.
    """
    if isinstance(audio_format, str):
        ga = _FORMAT_TO_GA.get(audio_format)
        if ga is None:
            raise ConfigurationError(
                f"unknown audio format {audio_format!r}: use one of {', '.join(_FORMAT_TO_GA)}"
            )
        return dict(ga)
    return audio_format


def audio_format_from_ga(audio_format: Any) -> Any:
    """``{"type": "audio/pcm", "rate": 24000}`` -> ``"pcm16"``, and so on.

    A format with no beta name (another rate, an unknown type) is returned as
    it is, and so is anything that is not a dict.
    """
    if isinstance(audio_format, dict):
        name = _FORMAT_FROM_GA.get(audio_format.get("type"))  # type: ignore[arg-type]
        if name == "pcm16" and audio_format.get("rate", 24000) != 24000:
            return audio_format
        if name is not None:
            return name
    return audio_format


# -- small helpers ----------------------------------------------------------------

def _same(value: Any) -> Any:
    return value


def _modalities_to_ga(modalities: Any) -> Any:
    if isinstance(modalities, list):
        if "audio" in modalities:
            return ["audio"]
        if modalities == ["text"]:
            return ["text"]
    return modalities


def _modalities_from_ga(modalities: Any) -> Any:
    if isinstance(modalities, list) and modalities == ["audio"]:
        return ["text", "audio"]
    return modalities


_TOOL_CHOICE_MODES = ("auto", "none", "required")


def _tool_choice_to_ga(choice: Any) -> Any:
    if isinstance(choice, str) and choice not in _TOOL_CHOICE_MODES:
        return {"type": "function", "name": choice}
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" not in choice:
        function = choice.get("function")  # the Chat Completions spelling
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "function", "name": function["name"]}
    return choice


def _tool_choice_from_ga(choice: Any) -> Any:
    if (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance(choice.get("name"), str)
        and len(choice) == 2
    ):
        return choice["name"]
    return choice


def _drop_temperature(config: Dict[str, Any], where: str) -> None:
    value = config.pop("temperature")
    if value is None or value == _BETA_DEFAULT_TEMPERATURE:
        logger.debug("%s.temperature=%r dropped: the GA protocol has no temperature", where, value)
    else:
        logger.warning(
            "%s.temperature=%r ignored: the GA Realtime protocol has no sampling temperature", where, value
        )


# VAD fields each GA turn detection type accepts (GA rejects the others).
_VAD_FIELDS: Dict[str, Tuple[str, ...]] = {
    "server_vad": (
        "type", "threshold", "prefix_padding_ms", "silence_duration_ms",
        "create_response", "interrupt_response", "idle_timeout_ms",
    ),
    "semantic_vad": ("type", "eagerness", "create_response", "interrupt_response"),
}


def _turn_detection_to_ga(config: Any) -> Any:
    if not isinstance(config, dict):
        return config
    kind = config.get("type") or "server_vad"
    allowed = _VAD_FIELDS.get(kind)
    if allowed is None:
        return config
    result = {key: value for key, value in config.items() if key in allowed}
    result["type"] = kind
    dropped = [key for key in config if key not in allowed]
    if dropped:
        logger.debug("turn_detection: %s does not take %s on GA; dropped", kind, ", ".join(dropped))
    return result


def _turn_detection_from_ga(config: Any) -> Any:
    if isinstance(config, dict) and "idle_timeout_ms" in config and config["idle_timeout_ms"] is None:
        return {key: value for key, value in config.items() if key != "idle_timeout_ms"}
    return config


# -- items --------------------------------------------------------------------------

_PART_TO_GA: Dict[str, Dict[str, str]] = {
    "assistant": {"text": "output_text", "audio": "output_audio"},
    "user": {"text": "input_text", "audio": "input_audio"},
    "system": {"text": "input_text"},
}
_PART_FROM_GA: Dict[str, str] = {"output_text": "text", "output_audio": "audio"}


def _map_parts(content: Any, mapping: Mapping[str, str]) -> Any:
    """``content`` with part types renamed, copying only the parts that change."""
    if not isinstance(content, list):
        return content
    result: Optional[List[Any]] = None
    for index, part in enumerate(content):
        if isinstance(part, dict):
            renamed = mapping.get(part.get("type"))  # type: ignore[arg-type]
            if renamed is not None:
                if result is None:
                    result = list(content)
                new_part = dict(part)
                new_part["type"] = renamed
                result[index] = new_part
    return content if result is None else result


def _item_to_ga(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    result = item
    if "type" not in item and "role" in item:
        result = dict(item)
        result["type"] = "message"
    mapping = _PART_TO_GA.get(item.get("role"))  # type: ignore[arg-type]
    if mapping is not None and result.get("type") == "message":
        content = _map_parts(item.get("content"), mapping)
        if content is not item.get("content"):
            if result is item:
                result = dict(item)
            result["content"] = content
    return result


def _item_from_ga(item: Any) -> Any:
    if not isinstance(item, dict) or item.get("type") != "message":
        return item
    content = _map_parts(item.get("content"), _PART_FROM_GA)
    if content is item.get("content"):
        return item
    result = dict(item)
    result["content"] = content
    return result


def _items(items: Any, convert: Callable[[Any], Any]) -> Any:
    if not isinstance(items, list):
        return items
    converted = [convert(item) for item in items]
    if all(new is old for new, old in zip(converted, items)):
        return items
    return converted


# -- sessions and responses -----------------------------------------------------

def _audio_section(config: Dict[str, Any], direction: str) -> Dict[str, Any]:
    """A private copy of ``config["audio"][direction]`` to fill in (``config`` is a copy)."""
    audio = config.get("audio")
    audio = dict(audio) if isinstance(audio, dict) else {}
    config["audio"] = audio
    section = audio.get(direction)
    section = dict(section) if isinstance(section, dict) else {}
    audio[direction] = section
    return section


# beta key -> (GA audio direction, GA key, value converter)
_SESSION_AUDIO_TO_GA: Dict[str, Tuple[str, str, Callable[[Any], Any]]] = {
    "input_audio_format": ("input", "format", audio_format_to_ga),
    "input_audio_transcription": ("input", "transcription", _same),
    "input_audio_noise_reduction": ("input", "noise_reduction", _same),
    "turn_detection": ("input", "turn_detection", _turn_detection_to_ga),
    "output_audio_format": ("output", "format", audio_format_to_ga),
    "voice": ("output", "voice", _same),
    "speed": ("output", "speed", _same),
}
_AUDIO_VALUE_FROM_GA: Dict[str, Callable[[Any], Any]] = {
    "input_audio_format": audio_format_from_ga,
    "output_audio_format": audio_format_from_ga,
    "turn_detection": _turn_detection_from_ga,
}
# (GA audio direction, GA key) -> (beta key, value converter)
_SESSION_AUDIO_FROM_GA: Dict[Tuple[str, str], Tuple[str, Callable[[Any], Any]]] = {
    (direction, ga_key): (beta_key, _AUDIO_VALUE_FROM_GA.get(beta_key, _same))
    for beta_key, (direction, ga_key, _) in _SESSION_AUDIO_TO_GA.items()
}
# GA session fields with no beta counterpart, left out of a beta session when null.
_GA_ONLY_SESSION_KEYS = (
    "include", "prompt", "truncation", "reasoning", "parallel_tool_calls", "expires_at",
)


def session_to_ga(session: Mapping[str, Any], *, where: str = "session") -> Dict[str, Any]:
    """A flat beta session config as a GA realtime session (a new dict).

    Keys already in GA form (``audio``, ``output_modalities``, ``type``...)
    are kept and the beta keys are merged into them; ``temperature`` is
    dropped. ``where`` names the config in log messages.

    Raises:
        ConfigurationError: an unknown audio format name.
    """
    result: Dict[str, Any] = dict(session)
    if "temperature" in result:
        _drop_temperature(result, where)
    if "modalities" in result:
        result["output_modalities"] = _modalities_to_ga(result.pop("modalities"))
    if "max_response_output_tokens" in result:
        result["max_output_tokens"] = result.pop("max_response_output_tokens")
    if "tool_choice" in result:
        result["tool_choice"] = _tool_choice_to_ga(result["tool_choice"])
    sections: Dict[str, Dict[str, Any]] = {}
    for beta_key, (direction, ga_key, convert) in _SESSION_AUDIO_TO_GA.items():
        if beta_key in result:
            section = sections.get(direction)
            if section is None:
                section = sections[direction] = _audio_section(result, direction)
            section[ga_key] = convert(result.pop(beta_key))
    result.setdefault("type", "realtime")
    return result


def session_from_ga(session: Mapping[str, Any]) -> Dict[str, Any]:
    """A GA realtime session as a flat beta session (a new dict).

    A transcription session (``type: "transcription"``) comes back as a
    shallow copy, untranslated.
    """
    result: Dict[str, Any] = dict(session)
    if result.get("type", "realtime") != "realtime":
        return result
    result.pop("type", None)
    if "output_modalities" in result:
        result["modalities"] = _modalities_from_ga(result.pop("output_modalities"))
    if "max_output_tokens" in result:
        result["max_response_output_tokens"] = result.pop("max_output_tokens")
    if "tool_choice" in result:
        result["tool_choice"] = _tool_choice_from_ga(result["tool_choice"])
    audio = result.get("audio")
    if isinstance(audio, dict):
        leftover: Dict[str, Any] = {}
        for direction, section in audio.items():
            if not isinstance(section, dict):
                leftover[direction] = section
                continue
            kept: Dict[str, Any] = {}
            for key, value in section.items():
                target = _SESSION_AUDIO_FROM_GA.get((direction, key))
                if target is None:
                    kept[key] = value
                else:
                    result[target[0]] = target[1](value)
            if kept:
                leftover[direction] = kept
        if leftover:
            result["audio"] = leftover
        else:
            del result["audio"]
    for key in _GA_ONLY_SESSION_KEYS:
        if key in result and result[key] is None:
            del result[key]
    return result


def _response_options_to_ga(options: Mapping[str, Any]) -> Dict[str, Any]:
    """``response.create``'s beta ``response`` options, or a beta response, as GA."""
    result: Dict[str, Any] = dict(options)
    if "temperature" in result:
        _drop_temperature(result, "response")
    if "modalities" in result:
        result["output_modalities"] = _modalities_to_ga(result.pop("modalities"))
    if "max_response_output_tokens" in result:
        result["max_output_tokens"] = result.pop("max_response_output_tokens")
    if "tool_choice" in result:
        result["tool_choice"] = _tool_choice_to_ga(result["tool_choice"])
    if "voice" in result or "output_audio_format" in result:
        output = _audio_section(result, "output")
        if "voice" in result:
            output["voice"] = result.pop("voice")
        if "output_audio_format" in result:
            output["format"] = audio_format_to_ga(result.pop("output_audio_format"))
    for key in ("input", "output"):
        if key in result:
            result[key] = _items(result[key], _item_to_ga)
    return result


def _response_from_ga(response: Mapping[str, Any]) -> Dict[str, Any]:
    """A GA response object (or ``response.create`` options) in beta form."""
    result: Dict[str, Any] = dict(response)
    if "output_modalities" in result:
        result["modalities"] = _modalities_from_ga(result.pop("output_modalities"))
    if "tool_choice" in result:
        result["tool_choice"] = _tool_choice_from_ga(result["tool_choice"])
    audio = result.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("output"), dict):
        output = dict(audio["output"])
        if "voice" in output:
            result["voice"] = output.pop("voice")
        if "format" in output:
            result["output_audio_format"] = audio_format_from_ga(output.pop("format"))
        rest = {key: value for key, value in audio.items() if key != "output"}
        if output:
            rest["output"] = output
        if rest:
            result["audio"] = rest
        else:
            del result["audio"]
    for key in ("input", "output"):
        if key in result:
            result[key] = _items(result[key], _item_from_ga)
    return result


def _response_options_from_ga(options: Mapping[str, Any]) -> Dict[str, Any]:
    """``response.create``'s GA ``response`` options in beta form."""
    result = _response_from_ga(options)
    if "max_output_tokens" in result:
        result["max_response_output_tokens"] = result.pop("max_output_tokens")
    return result


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


def _part_from_ga(part: Any) -> Any:
    if isinstance(part, dict):
        renamed = _PART_FROM_GA.get(part.get("type"))  # type: ignore[arg-type]
        if renamed is not None:
            result = dict(part)
            result["type"] = renamed
            return result
    return part


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
    "conversation.item.create": _convert_field("item", _item_to_ga),
    "response.create": _dict_field("response", _response_options_to_ga),
}
_CLIENT_FROM_GA: Dict[str, Callable[[Event], Event]] = {
    "session.update": _client_session_update_from_ga,
    "conversation.item.create": _convert_field("item", _item_from_ga),
    "response.create": _dict_field("response", _response_options_from_ga),
}

_item_field_from_ga = _convert_field("item", _item_from_ga)
_item_field_to_ga = _convert_field("item", _item_to_ga)
_session_field_from_ga = _dict_field("session", session_from_ga)
_session_field_to_ga = _dict_field("session", session_to_ga)
_response_field_from_ga = _dict_field("response", _response_from_ga)
_response_field_to_ga = _dict_field("response", _response_options_to_ga)
_part_field_from_ga = _convert_field("part", _part_from_ga)

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


def _translate(table: Mapping[str, Callable[[Event], Event]], event: Any) -> Any:
    if type(event) is not dict:
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
