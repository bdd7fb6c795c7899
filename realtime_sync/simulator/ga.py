"""The GA dialect of the simulator: its session, items, responses and events on the wire.

The simulator keeps one internal form of a session (the flat keys of the beta
protocol: ``modalities``, ``voice``, ``input_audio_format``, ``turn_detection``
...) plus the GA-only settings (``tracing``, ``truncation``, ``prompt``...), and
one internal form of items (assistant content parts ``text``/``audio``). This
module converts between that form and the GA wire, as OpenAI's GA schema
describes it: nested ``session.audio.input`` / ``session.audio.output`` with
format objects (``{"type": "audio/pcm", "rate": 24000}``), ``output_modalities``,
``max_output_tokens``, assistant content ``output_text`` / ``output_audio``,
MCP items, and the renamed events (``response.output_text.delta``,
``conversation.item.added``...).

It validates what a GA client sends with the live service's error shapes:
``invalid_request_error`` with a ``code`` (``unknown_parameter``,
``invalid_type``, ``invalid_value``, ``missing_required_parameter``...) and a
``param`` naming the GA path (``session.audio.output.voice``).

Pure functions, no threads.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .config import (
    VOICES,
    ClientError,
    check_max_tokens,
    check_range,
    check_tool_choice,
    check_tools,
    default_session,
    invalid_type,
    invalid_value,
    response_config,
)

__all__ = [
    "GA_DEFAULT_MODEL",
    "GA_VOICES",
    "GA_ONLY_EVENTS",
    "default_ga_session",
    "apply_ga_session_update",
    "ga_response_config",
    "item_from_ga",
    "item_to_ga",
    "event_to_ga",
    "session_to_ga",
    "noise_reduction",
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
_ASSISTANT_TO_GA = {"text": "output_text", "audio": "output_audio"}
_ASSISTANT_FROM_GA = {"output_text": "text", "output_audio": "audio"}
_CONTENT_KEYS = {
    "input_text": ("type", "text"),
    "output_text": ("type", "text"),
    "input_audio": ("type", "audio", "transcript"),
    "output_audio": ("type", "audio", "transcript"),
    "input_image": ("type", "image_url", "detail"),
}
_ROLE_CONTENT = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}
_ITEM_KEYS = {
    "message": ("id", "type", "object", "status", "role", "content"),
    "function_call": ("id", "type", "object", "status", "name", "call_id", "arguments"),
    "function_call_output": ("id", "type", "object", "status", "call_id", "output"),
    "mcp_approval_response": ("id", "type", "approval_request_id", "approve", "reason"),
}



def _missing(param: str) -> ClientError:
    return ClientError("missing_required_parameter", f"Missing required parameter: '{param}'.", param)


def _unknown(param: str) -> ClientError:
    return ClientError("unknown_parameter", f"Unknown parameter: '{param}'.", param)


def _object(param: str, value: Any, allowed: Tuple[str, ...]) -> Dict[str, Any]:
    """``value`` as an object whose keys are all in ``allowed``."""
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    for key in value:
        if key not in allowed:
            raise _unknown(f"{param}.{key}")
    return value


def _string(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    return value


def _boolean(param: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid_type(param, "a boolean", value)
    return value


# -- sessions ------------------------------------------------------------------


def format_to_ga(name: str) -> Dict[str, Any]:
    """The GA format object of an internal format name (``pcm16`` -> ``audio/pcm`` at 24 kHz)."""
    return dict(_FORMATS.get(name, _FORMATS["pcm16"]))


def _format_from_ga(param: str, value: Any) -> str:
    value = _object(param, value, ("type", "rate"))
    kind = value.get("type")
    if kind is None:
        raise _missing(f"{param}.type")
    if kind not in _FORMAT_NAMES:
        raise invalid_value(f"{param}.type", kind, tuple(_FORMAT_NAMES))
    if "rate" in value:
        if kind != "audio/pcm":
            raise _unknown(f"{param}.rate")
        if value["rate"] != 24000:
            raise invalid_value(f"{param}.rate", value["rate"], (24000,))
    return _FORMAT_NAMES[kind]


def _modalities_to_ga(modalities: Any) -> List[str]:
    return ["audio"] if "audio" in (modalities or []) else ["text"]


def _modalities_from_ga(param: str, value: Any) -> List[str]:
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    for index, entry in enumerate(value):
        if entry not in ("text", "audio"):
            raise invalid_value(f"{param}[{index}]", entry, ("text", "audio"))
    if set(value) == {"text"}:
        return ["text"]
    if set(value) == {"audio"}:
        return ["text", "audio"]
    raise ClientError(
        "invalid_value",
        f"Invalid modalities: {value!r}. Supported combinations are: ['text'] and ['audio'].",
        param,
    )


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
            "input": {
                "format": format_to_ga(session["input_audio_format"]),
                "transcription": copy.deepcopy(session["input_audio_transcription"]),
                "noise_reduction": copy.deepcopy(session.get("input_audio_noise_reduction")),
                "turn_detection": copy.deepcopy(session["turn_detection"]),
            },
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
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    kind = value.get("type")
    if kind is None:
        raise _missing(f"{param}.type")
    if kind not in _TURN_DETECTION_DEFAULTS:
        raise invalid_value(f"{param}.type", kind, tuple(_TURN_DETECTION_DEFAULTS))
    defaults = _TURN_DETECTION_DEFAULTS[kind]
    same = isinstance(current, dict) and current.get("type") == kind
    merged = dict(current) if same else dict(defaults)
    for key, entry in value.items():
        where = f"{param}.{key}"
        if key not in defaults:
            raise _unknown(where)
        if key == "threshold":
            check_range(where, entry, 0.0, 1.0)
        elif key in ("prefix_padding_ms", "silence_duration_ms"):
            check_range(where, entry, 0, 10000, integer=True)
        elif key == "idle_timeout_ms":
            if entry is not None:
                check_range(where, entry, 5000, 30000, integer=True)
        elif key in ("create_response", "interrupt_response"):
            _boolean(where, entry)
        elif key == "eagerness" and entry not in ("low", "medium", "high", "auto"):
            raise invalid_value(where, entry, ("low", "medium", "high", "auto"))
        merged[key] = entry
    return merged


def _transcription(param: str, value: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    value = _object(param, value, ("model", "language", "prompt", "delay", "keywords", "languages"))
    for key in ("model", "language", "prompt", "delay"):
        if key in value and value[key] is not None:
            _string(f"{param}.{key}", value[key])
    return dict(value)


def noise_reduction(param: str, value: Any) -> Any:
    """A checked ``audio.input.noise_reduction``: ``None`` or ``{"type": "near_field" | "far_field"}`` (a copy)."""
    if value is not None:
        value = _object(param, value, ("type",))
        if value.get("type") not in ("near_field", "far_field"):
            raise invalid_value(f"{param}.type", value.get("type"), ("near_field", "far_field"))
    return copy.deepcopy(value)


def _apply_audio(new: Dict[str, Any], old: Mapping[str, Any], value: Any, audio_sent: bool) -> None:
    audio = _object("session.audio", value, ("input", "output"))
    if "input" in audio:
        param = "session.audio.input"
        given = _object(param, audio["input"], ("format", "transcription", "noise_reduction", "turn_detection"))
        if "format" in given:
            new["input_audio_format"] = _format_from_ga(f"{param}.format", given["format"])
        if "transcription" in given:
            new["input_audio_transcription"] = _transcription(f"{param}.transcription", given["transcription"])
        if "noise_reduction" in given:
            new["input_audio_noise_reduction"] = noise_reduction(f"{param}.noise_reduction", given["noise_reduction"])
        if "turn_detection" in given:
            new["turn_detection"] = _turn_detection(f"{param}.turn_detection", given["turn_detection"], old["turn_detection"])
    if "output" in audio:
        param = "session.audio.output"
        given = _object(param, audio["output"], ("format", "voice", "speed"))
        if "format" in given:
            new["output_audio_format"] = _format_from_ga(f"{param}.format", given["format"])
        if "voice" in given:
            voice = _string(f"{param}.voice", given["voice"])
            if voice not in GA_VOICES:
                raise invalid_value(f"{param}.voice", voice, GA_VOICES)
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
            _object(param, value, ("workflow_name", "group_id", "metadata"))
    elif key == "truncation":
        if value not in ("auto", "disabled"):
            value = _object(param, value, ("type", "retention_ratio", "token_limits"))
            if value.get("type") != "retention_ratio":
                raise invalid_value(f"{param}.type", value.get("type"), ("retention_ratio",))
            check_range(f"{param}.retention_ratio", value.get("retention_ratio"), 0.0, 1.0)
    elif key == "prompt":
        if value is not None:
            value = _object(param, value, ("id", "version", "variables"))
            if "id" not in value:
                raise _missing(f"{param}.id")
            _string(f"{param}.id", value["id"])
    elif key == "reasoning":
        if value is not None:
            _object(param, value, ("effort",))
    else:  # parallel_tool_calls
        _boolean(param, value)
    new[key] = copy.deepcopy(value)


def apply_ga_session_update(session: Mapping[str, Any], update: Any, *, audio_sent: bool = False) -> Dict[str, Any]:
    """Return a new internal session: ``session`` with a GA ``session.update`` payload merged in.

    Raises:
        ClientError: any invalid value (``param`` names its GA path); ``session`` is left untouched.
    """
    if not isinstance(update, dict):
        raise invalid_type("session", "an object", update)
    if "type" not in update:
        raise _missing("session.type")
    if update["type"] != "realtime":
        raise invalid_value("session.type", update["type"], ("realtime",))
    new = copy.deepcopy(dict(session))
    for key, value in update.items():
        param = f"session.{key}"
        if key == "type":
            continue
        if key == "model":
            _string(param, value)
        elif key == "output_modalities":
            new["modalities"] = _modalities_from_ga(param, value)
        elif key == "instructions":
            new["instructions"] = _string(param, value)
        elif key == "tools":
            new["tools"] = check_tools(param, value, mcp=True)
        elif key == "tool_choice":
            new["tool_choice"] = check_tool_choice(param, value, mcp=True)
        elif key == "max_output_tokens":
            new["max_response_output_tokens"] = check_max_tokens(param, value)
        elif key == "audio":
            _apply_audio(new, session, value, audio_sent)
        elif key in ("include", "tracing", "truncation", "prompt", "reasoning", "parallel_tool_calls"):
            _apply_other(new, key, value, param)
        else:
            raise _unknown(param)
    return new


def ga_response_config(session: Mapping[str, Any], overrides: Any) -> Dict[str, Any]:
    """The internal configuration of one response: session plus GA ``response.create`` overrides.

    ``input`` entries are kept as given (the session validates them as items).

    Raises:
        ClientError: any invalid override, named by its GA path.
    """
    config = response_config(session, None)
    if overrides is None:
        return config
    if not isinstance(overrides, dict):
        raise invalid_type("response", "an object", overrides)
    for key, value in overrides.items():
        param = f"response.{key}"
        if key == "output_modalities":
            config["modalities"] = _modalities_from_ga(param, value)
        elif key == "instructions":
            config["instructions"] = _string(param, value)
        elif key == "tools":
            config["tools"] = check_tools(param, value, mcp=True)
        elif key == "tool_choice":
            config["tool_choice"] = check_tool_choice(param, value, mcp=True)
        elif key == "max_output_tokens":
            config["max_response_output_tokens"] = check_max_tokens(param, value)
        elif key == "audio":
            output = _object(param, value, ("output",)).get("output", {})
            output = _object(f"{param}.output", output, ("format", "voice"))
            if "format" in output:
                config["output_audio_format"] = _format_from_ga(f"{param}.output.format", output["format"])
            if "voice" in output:
                voice = _string(f"{param}.output.voice", output["voice"])
                if voice not in GA_VOICES:
                    raise invalid_value(f"{param}.output.voice", voice, GA_VOICES)
                config["voice"] = voice
        elif key == "conversation":
            if value not in ("auto", "none"):
                raise invalid_value(param, value, ("auto", "none"))
            config["conversation"] = value
        elif key == "metadata":
            if value is not None:
                if not isinstance(value, dict):
                    raise invalid_type(param, "an object", value)
                for name, entry in value.items():
                    _string(f"{param}.{name}", entry)
            config["metadata"] = copy.deepcopy(value)
        elif key == "input":
            if not isinstance(value, list):
                raise invalid_type(param, "an array", value)
            config["input"] = copy.deepcopy(value)
        elif key in ("prompt", "reasoning", "parallel_tool_calls"):
            _apply_other(config, key, value, param)
        else:
            raise _unknown(param)
    return config


# -- items -----------------------------------------------------------------------


def _content_part(where: str, part: Any, role: str) -> Dict[str, Any]:
    if not isinstance(part, dict):
        raise invalid_type(where, "an object", part)
    kind = part.get("type")
    if kind is None:
        raise _missing(f"{where}.type")
    if kind not in _ROLE_CONTENT[role]:
        raise invalid_value(f"{where}.type", kind, _ROLE_CONTENT[role])
    _object(where, part, _CONTENT_KEYS[kind])
    if kind in ("input_text", "output_text"):
        if "text" not in part:
            raise _missing(f"{where}.text")
        _string(f"{where}.text", part["text"])
    elif kind == "input_image":
        if "image_url" not in part:
            raise _missing(f"{where}.image_url")
        url = _string(f"{where}.image_url", part["image_url"])
        if not url.startswith(("data:image/", "https://", "http://")):
            raise ClientError(
                "invalid_value",
                f"Invalid '{where}.image_url'. Expected a base64-encoded data URL with an image MIME type "
                "(e.g. 'data:image/png;base64,...') or an image URL.",
                f"{where}.image_url",
            )
        if "detail" in part and part["detail"] not in ("auto", "low", "high"):
            raise invalid_value(f"{where}.detail", part["detail"], ("auto", "low", "high"))
    else:
        for key in ("audio", "transcript"):
            if part.get(key) is not None:
                _string(f"{where}.{key}", part[key])
    converted = dict(part)
    converted["type"] = _ASSISTANT_FROM_GA.get(kind, kind)
    return converted


def item_from_ga(raw: Any, where: str = "item") -> Dict[str, Any]:
    """Validate a GA item a client sends and return it in the internal form (a new dict).

    Raises:
        ClientError: missing, unknown or ill-typed fields, with ``param`` like ``item.content[0].type``.
    """
    if raw is None:
        raise _missing(where)
    if not isinstance(raw, dict):
        raise invalid_type(where, "an object", raw)
    kind = raw.get("type")
    if kind is None:
        raise _missing(f"{where}.type")
    if kind not in _ITEM_KEYS:
        raise invalid_value(f"{where}.type", kind, tuple(_ITEM_KEYS))
    _object(where, raw, _ITEM_KEYS[kind])
    if raw.get("id") is not None:
        _string(f"{where}.id", raw["id"])
    if raw.get("object") not in (None, "realtime.item"):
        raise invalid_value(f"{where}.object", raw["object"], ("realtime.item",))
    if raw.get("status") not in (None, "completed", "incomplete", "in_progress"):
        raise invalid_value(f"{where}.status", raw["status"], ("completed", "incomplete", "in_progress"))
    item = copy.deepcopy(raw)
    if kind == "message":
        role = raw.get("role")
        if role is None:
            raise _missing(f"{where}.role")
        if role not in _ROLE_CONTENT:
            raise invalid_value(f"{where}.role", role, tuple(_ROLE_CONTENT))
        content = raw.get("content")
        if not isinstance(content, list):
            raise invalid_type(f"{where}.content", "an array", content)
        item["content"] = [_content_part(f"{where}.content[{i}]", part, role) for i, part in enumerate(content)]
    elif kind == "function_call":
        for key in ("name", "call_id"):
            if key not in raw:
                raise _missing(f"{where}.{key}")
            _string(f"{where}.{key}", raw[key])
        _string(f"{where}.arguments", raw.get("arguments", ""))
    elif kind == "function_call_output":
        for key in ("call_id", "output"):
            if key not in raw:
                raise _missing(f"{where}.{key}")
            _string(f"{where}.{key}", raw[key])
    else:
        for key in ("approval_request_id", "approve"):
            if key not in raw:
                raise _missing(f"{where}.{key}")
        _string(f"{where}.approval_request_id", raw["approval_request_id"])
        _boolean(f"{where}.approve", raw["approve"])
        if raw.get("reason") is not None:
            _string(f"{where}.reason", raw["reason"])
    return item


def item_to_ga(item: Mapping[str, Any]) -> Dict[str, Any]:
    """The GA form of an internal item (a new dict): assistant content ``output_text`` / ``output_audio``."""
    converted = copy.deepcopy(dict(item))
    if converted.get("type") == "message" and converted.get("role") == "assistant":
        for part in converted.get("content") or []:
            part["type"] = _ASSISTANT_TO_GA.get(part.get("type"), part.get("type"))
    return converted


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
