"""The GA dialect of the simulator: its session, items, responses and events on the wire.

The simulator keeps one internal form of a session (the flat keys of the beta
protocol: ``modalities``, ``voice``, ``input_audio_format``, ``turn_detection``
...) plus the GA-only settings (``tracing``, ``truncation``, ``prompt``...), and
one internal form of items (assistant content parts ``text``/``audio``). This
module converts between that form and the GA wire, as OpenAI's GA schema
describes it: nested ``session.audio.input`` / ``session.audio.output`` with
format objects (``{"type": "audio/pcm", "rate": 24000}``), ``output_modalities``,
``max_output_tokens``, and the renamed events (``response.output_text.delta``,
``conversation.item.added``...). Items (assistant content ``output_text`` /
``output_audio``, MCP items) live in :mod:`.ga_items`.

It validates what a GA client sends with the live service's error shapes:
``invalid_request_error`` with a ``code`` (``unknown_parameter``,
``invalid_type``, ``invalid_value``, ``missing_required_parameter``...) and a
``param`` naming the GA path (``session.audio.output.voice``).

Pure functions, no threads.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Mapping, Optional

from .checks import (
    ClientError,
    check_boolean,
    check_kind,
    check_modalities,
    check_object,
    check_range,
    check_string,
    invalid_type,
    invalid_value,
    missing,
    overrides_of,
    unknown,
)
from .config import VOICES, check_max_tokens, check_tool_choice, check_tools, default_session, response_config
from .ga_items import item_to_ga

__all__ = [
    "GA_DEFAULT_MODEL",
    "GA_VOICES",
    "GA_ONLY_EVENTS",
    "default_ga_session",
    "apply_ga_session_update",
    "ga_response_config",
    "event_to_ga",
    "session_to_ga",
    "CheckTranscription",
    "apply_audio_input",
    "audio_input_to_ga",
    "format_to_ga",
]

GA_DEFAULT_MODEL = "gpt-realtime"
GA_VOICES = VOICES + ("marin", "cedar")

#: Events only the GA dialect sends (a beta session leaves them out).
GA_ONLY_EVENTS = frozenset(
    {
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.input_audio_transcription.delta",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)

_RENAMED = {
    "conversation.item.created": "conversation.item.added",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
}
#: Checks a ``transcription`` setting: ``(param, value, current) -> the new setting``.
CheckTranscription = Callable[[str, Any, Any], Optional[Dict[str, Any]]]

_FORMATS: Dict[str, Dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_NAMES = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_TURN_DETECTION_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "server_vad": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    },
    "semantic_vad": {"type": "semantic_vad", "eagerness": "auto", "create_response": True, "interrupt_response": True},
}


# -- sessions ------------------------------------------------------------------


def format_to_ga(name: str) -> Dict[str, Any]:
    """The GA format object of an internal format name (``pcm16`` -> ``audio/pcm`` at 24 kHz)."""
    return dict(_FORMATS.get(name, _FORMATS["pcm16"]))


def _format_from_ga(param: str, value: Any) -> str:
    """The internal format name of a checked GA format object (``audio/pcm`` -> ``pcm16``)."""
    value = check_object(param, value, ("type", "rate"))
    kind = check_kind(param, value, tuple(_FORMAT_NAMES))
    if "rate" in value:
        if kind != "audio/pcm":
            raise unknown(f"{param}.rate")
        if value["rate"] != 24000:
            raise invalid_value(f"{param}.rate", value["rate"], (24000,))
    return _FORMAT_NAMES[kind]


def _modalities_to_ga(modalities: Any) -> List[str]:
    return ["audio"] if "audio" in (modalities or []) else ["text"]


def default_ga_session(model: str, expires_at: int) -> Dict[str, Any]:
    """The internal form of a new GA session: GA defaults (voice ``marin``, server VAD on)."""
    session = default_session(model)
    del session["temperature"]  # GA sessions have none
    session.update(
        voice="marin",
        turn_detection=dict(_TURN_DETECTION_DEFAULTS["server_vad"]),
        type="realtime",
        expires_at=expires_at,
        tracing=None,
        prompt=None,
        include=None,
        truncation="auto",
        input_audio_noise_reduction=None,
        speed=1.0,
    )
    return session


def audio_input_to_ga(session: Mapping[str, Any]) -> Dict[str, Any]:
    """The GA ``session.audio.input`` object of an internal session (realtime and transcription sessions)."""
    return {
        "format": format_to_ga(session["input_audio_format"]),
        "transcription": copy.deepcopy(session["input_audio_transcription"]),
        "noise_reduction": copy.deepcopy(session.get("input_audio_noise_reduction")),
        "turn_detection": copy.deepcopy(session["turn_detection"]),
    }


def session_to_ga(session: Mapping[str, Any]) -> Dict[str, Any]:
    """The GA ``session`` object (``session.created`` / ``session.updated``) of an internal session."""
    ga: Dict[str, Any] = {
        "type": "realtime",
        "object": "realtime.session",
        "id": session["id"],
        "model": session["model"],
        "output_modalities": _modalities_to_ga(session["modalities"]),
        "instructions": session["instructions"],
        "tools": copy.deepcopy(session["tools"]),
        "tool_choice": copy.deepcopy(session["tool_choice"]),
        "max_output_tokens": session["max_response_output_tokens"],
        "tracing": copy.deepcopy(session.get("tracing")),
        "truncation": copy.deepcopy(session.get("truncation")),
        "prompt": copy.deepcopy(session.get("prompt")),
        "expires_at": session.get("expires_at"),
        "audio": {
            "input": audio_input_to_ga(session),
            "output": {
                "format": format_to_ga(session["output_audio_format"]),
                "voice": session["voice"],
                "speed": session.get("speed", 1.0),
            },
        },
        "include": copy.deepcopy(session.get("include")),
    }
    for key in ("reasoning", "parallel_tool_calls"):
        if key in session:
            ga[key] = copy.deepcopy(session[key])
    return ga


def _turn_detection(param: str, value: Any, current: Any) -> Optional[Dict[str, Any]]:
    """A GA ``turn_detection``: merged into the current one of the same type, else into the type's defaults."""
    if value is None:
        return None
    kind = check_kind(param, value, tuple(_TURN_DETECTION_DEFAULTS))
    defaults = _TURN_DETECTION_DEFAULTS[kind]
    same = isinstance(current, dict) and current.get("type") == kind
    merged = dict(current) if same else dict(defaults)
    for key, entry in value.items():
        where = f"{param}.{key}"
        if key not in defaults:
            raise unknown(where)
        if key == "threshold":
            check_range(where, entry, 0.0, 1.0)
        elif key in ("prefix_padding_ms", "silence_duration_ms"):
            check_range(where, entry, 0, 10000, integer=True)
        elif key == "idle_timeout_ms":
            if entry is not None:
                check_range(where, entry, 5000, 30000, integer=True)
        elif key in ("create_response", "interrupt_response"):
            check_boolean(where, entry)
        elif key == "eagerness" and entry not in ("low", "medium", "high", "auto"):
            raise invalid_value(where, entry, ("low", "medium", "high", "auto"))
        merged[key] = entry
    return merged


def _transcription(param: str, value: Any, current: Any = None) -> Optional[Dict[str, Any]]:
    """A realtime session's ``transcription`` setting (replaces the current one)."""
    if value is None:
        return None
    value = check_object(param, value, ("model", "language", "prompt", "delay", "keywords", "languages"))
    for key in ("model", "language", "prompt", "delay"):
        if key in value and value[key] is not None:
            check_string(f"{param}.{key}", value[key])
    return dict(value)


def _noise_reduction(param: str, value: Any) -> Any:
    """A checked ``audio.input.noise_reduction``: ``None`` or ``{"type": "near_field" | "far_field"}`` (a copy)."""
    if value is not None:
        value = check_object(param, value, ("type",))
        if value.get("type") not in ("near_field", "far_field"):
            raise invalid_value(f"{param}.type", value.get("type"), ("near_field", "far_field"))
    return copy.deepcopy(value)


def apply_audio_input(
    new: Dict[str, Any], old: Mapping[str, Any], value: Any, transcription: CheckTranscription = _transcription
) -> None:
    """Merge a GA ``session.audio.input`` into ``new`` (realtime and transcription sessions).

    ``transcription(param, value, current)`` checks the ``transcription``
    setting: the two kinds of session accept different ones.
    """
    param = "session.audio.input"
    given = check_object(param, value, ("format", "transcription", "noise_reduction", "turn_detection"))
    if "format" in given:
        new["input_audio_format"] = _format_from_ga(f"{param}.format", given["format"])
    if "transcription" in given:
        current = old.get("input_audio_transcription")
        new["input_audio_transcription"] = transcription(f"{param}.transcription", given["transcription"], current)
    if "noise_reduction" in given:
        new["input_audio_noise_reduction"] = _noise_reduction(f"{param}.noise_reduction", given["noise_reduction"])
    if "turn_detection" in given:
        new["turn_detection"] = _turn_detection(f"{param}.turn_detection", given["turn_detection"], old["turn_detection"])


def _apply_audio(new: Dict[str, Any], old: Mapping[str, Any], value: Any, audio_sent: bool) -> None:
    audio = check_object("session.audio", value, ("input", "output"))
    if "input" in audio:
        apply_audio_input(new, old, audio["input"])
    if "output" in audio:
        param = "session.audio.output"
        given = check_object(param, audio["output"], ("format", "voice", "speed"))
        if "format" in given:
            new["output_audio_format"] = _format_from_ga(f"{param}.format", given["format"])
        if "voice" in given:
            voice = _voice(f"{param}.voice", given["voice"])
            if audio_sent and voice != old.get("voice"):
                raise ClientError(
                    "cannot_update_voice",
                    "Cannot update a conversation's voice if assistant audio is present.",
                    f"{param}.voice",
                )
            new["voice"] = voice
        if "speed" in given:
            check_range(f"{param}.speed", given["speed"], 0.25, 1.5)
            new["speed"] = given["speed"]


def _apply_other(new: Dict[str, Any], key: str, value: Any, param: str) -> None:
    """The GA settings the simulator stores and echoes but does not act on."""
    if key == "include":
        if value is not None:
            if not isinstance(value, list):
                raise invalid_type(param, "an array", value)
            for index, entry in enumerate(value):
                if entry != "item.input_audio_transcription.logprobs":
                    raise invalid_value(f"{param}[{index}]", entry, ("item.input_audio_transcription.logprobs",))
    elif key == "tracing":
        if value is not None and value != "auto":
            check_object(param, value, ("workflow_name", "group_id", "metadata"))
    elif key == "truncation":
        if value not in ("auto", "disabled"):
            value = check_object(param, value, ("type", "retention_ratio", "token_limits"))
            if value.get("type") != "retention_ratio":
                raise invalid_value(f"{param}.type", value.get("type"), ("retention_ratio",))
            check_range(f"{param}.retention_ratio", value.get("retention_ratio"), 0.0, 1.0)
    elif key == "prompt":
        if value is not None:
            value = check_object(param, value, ("id", "version", "variables"))
            if "id" not in value:
                raise missing(f"{param}.id")
            check_string(f"{param}.id", value["id"])
    elif key == "reasoning":
        if value is not None:
            check_object(param, value, ("effort",))
    else:  # parallel_tool_calls
        check_boolean(param, value)
    new[key] = copy.deepcopy(value)


def _voice(param: str, value: Any) -> str:
    voice = check_string(param, value)
    if voice not in GA_VOICES:
        raise invalid_value(param, voice, GA_VOICES)
    return voice


def _apply_common(target: Dict[str, Any], key: str, value: Any, param: str) -> bool:
    """Check and store one setting sessions and responses share (GA names); False if ``key`` is not one."""
    if key == "output_modalities":
        target["modalities"] = check_modalities(param, value, ga=True)
    elif key == "instructions":
        target["instructions"] = check_string(param, value)
    elif key == "tools":
        target["tools"] = check_tools(param, value, mcp=True)
    elif key == "tool_choice":
        target["tool_choice"] = check_tool_choice(param, value, mcp=True)
    elif key == "max_output_tokens":
        target["max_response_output_tokens"] = check_max_tokens(param, value)
    else:
        return False
    return True


def apply_ga_session_update(session: Mapping[str, Any], update: Any, *, audio_sent: bool = False) -> Dict[str, Any]:
    """Return a new internal session: ``session`` with a GA ``session.update`` payload merged in.

    Raises:
        ClientError: any invalid value (``param`` names its GA path); ``session`` is left untouched.
    """
    if not isinstance(update, dict):
        raise invalid_type("session", "an object", update)
    if "type" not in update:
        raise missing("session.type")
    if update["type"] != "realtime":
        raise invalid_value("session.type", update["type"], ("realtime",))
    new = copy.deepcopy(dict(session))
    for key, value in update.items():
        param = f"session.{key}"
        if key == "type":
            continue
        if key == "model":
            check_string(param, value)
        elif _apply_common(new, key, value, param):
            continue
        elif key == "audio":
            _apply_audio(new, session, value, audio_sent)
        elif key in ("include", "tracing", "truncation", "prompt", "reasoning", "parallel_tool_calls"):
            _apply_other(new, key, value, param)
        else:
            raise unknown(param)
    return new


def ga_response_config(session: Mapping[str, Any], overrides: Any) -> Dict[str, Any]:
    """The internal configuration of one response: session plus GA ``response.create`` overrides.

    ``input`` entries are kept as given (the session validates them as items).

    Raises:
        ClientError: any invalid override, named by its GA path.
    """
    config = response_config(session, None)
    for key, value in overrides_of("response", overrides).items():
        param = f"response.{key}"
        if _apply_common(config, key, value, param):
            continue
        if key == "audio":
            output = check_object(param, value, ("output",)).get("output", {})
            output = check_object(f"{param}.output", output, ("format", "voice"))
            if "format" in output:
                config["output_audio_format"] = _format_from_ga(f"{param}.output.format", output["format"])
            if "voice" in output:
                config["voice"] = _voice(f"{param}.output.voice", output["voice"])
        elif key == "conversation":
            if value not in ("auto", "none"):
                raise invalid_value(param, value, ("auto", "none"))
            config["conversation"] = value
        elif key == "metadata":
            if value is not None:
                if not isinstance(value, dict):
                    raise invalid_type(param, "an object", value)
                for name, entry in value.items():
                    check_string(f"{param}.{name}", entry)
            config["metadata"] = copy.deepcopy(value)
        elif key == "input":
            if not isinstance(value, list):
                raise invalid_type(param, "an array", value)
            config["input"] = copy.deepcopy(value)
        elif key in ("prompt", "reasoning", "parallel_tool_calls"):
            _apply_other(config, key, value, param)
        else:
            raise unknown(param)
    return config


def _response_to_ga(body: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "id": body["id"],
        "object": "realtime.response",
        "status": body["status"],
        "status_details": copy.deepcopy(body["status_details"]),
        "output": [item_to_ga(item) for item in body["output"]],
        "conversation_id": body["conversation_id"],
        "output_modalities": _modalities_to_ga(body["modalities"]),
        "audio": {"output": {"format": format_to_ga(body["output_audio_format"] or "pcm16"), "voice": body["voice"]}},
        "max_output_tokens": body["max_output_tokens"],
        "metadata": copy.deepcopy(body["metadata"]),
        "usage": copy.deepcopy(body["usage"]),
    }


def event_to_ga(event: Mapping[str, Any]) -> Dict[str, Any]:
    """The GA wire form of an internal server event (a new dict)."""
    converted = dict(event)
    converted["type"] = _RENAMED.get(event["type"], event["type"])
    if "session" in event and event["type"] in ("session.created", "session.updated"):
        converted["session"] = session_to_ga(event["session"])
    if "response" in event and event["type"] in ("response.created", "response.done"):
        converted["response"] = _response_to_ga(event["response"])
    if isinstance(event.get("item"), dict):
        converted["item"] = item_to_ga(event["item"])
    return converted
