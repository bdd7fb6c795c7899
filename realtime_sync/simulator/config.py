"""Session configuration for the simulator: defaults, ids, and validation.

The session's internal form is the beta protocol's flat one (``modalities``,
``voice``, ``input_audio_format``, ``turn_detection``...); this module
validates beta ``session.update`` / ``response.create`` payloads and items
against it, and holds the checks of tools and limits the GA dialect
(:mod:`.ga`) reuses. The error shapes themselves live in :mod:`.checks`.

Validation follows the real server's error shapes: an ``error`` event with
``type: "invalid_request_error"``, a ``code`` (``invalid_value``,
``invalid_type``, ``unknown_parameter``, ``missing_required_parameter``,
``decimal_below_min_value``...), a ``param`` naming the field
(``session.temperature``) and the client's ``event_id``. A rejected update
changes nothing: values are checked on a copy that replaces the session only
when everything is valid.

Pure functions, no threads.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
import string
from typing import Any, Dict, List, Mapping, Optional

from .checks import (
    ClientError,
    check_modalities,
    check_range,
    check_string,
    invalid_type,
    invalid_value,
    missing,
    overrides_of,
    unknown,
)

__all__ = [
    "new_id",
    "default_session",
    "apply_session_update",
    "response_config",
    "VOICES",
    "AUDIO_FORMATS",
    "DEFAULT_MODEL",
    "DEFAULT_TURN_DETECTION",
    "validate_item",
    "check_mcp_tool",
    "check_tools",
    "check_tool_choice",
    "check_max_tokens",
]

DEFAULT_MODEL = "gpt-4o-realtime-preview-2024-10-01"
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
AUDIO_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
DEFAULT_TURN_DETECTION: Dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "create_response": True,
    "interrupt_response": True,
}
DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly assistant. This session is served by the "
    "realtime_sync simulator, which answers with canned, deterministic replies."
)
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ALNUM = string.ascii_letters + string.digits
# ids are a random stem (one per process) ending in a serial number: unique, and cheap on every event
_STEM = "".join(random.Random().choices(_ALNUM, k=32))
_serial = itertools.count(1)
_SERIAL_WIDTH = 10  # hex digits: unique for the first 16**10 ids of a process


def new_id(prefix: str, length: int = 21) -> str:
    """An id like the real server's: ``prefix`` + ``_`` + ``length`` letters and digits, unique in this process."""
    # a serial of fixed width: "…1" + "3" and "…" + "13" would be one id
    serial = format(next(_serial), "0" + str(min(_SERIAL_WIDTH, length)) + "x")
    return prefix + "_" + _STEM[: max(0, length - len(serial))] + serial


def default_session(model: str) -> Dict[str, Any]:
    """The session a new connection starts with (``session.created``)."""
    return {
        "id": new_id("sess"),
        "object": "realtime.session",
        "model": model,
        "modalities": ["text", "audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": None,
        "turn_detection": dict(DEFAULT_TURN_DETECTION),
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }


def check_tools(param: str, value: Any, *, mcp: bool = False) -> List[Dict[str, Any]]:
    """Validate a ``tools`` list; ``mcp``: MCP server tools (GA) are allowed too.

    Raises:
        ClientError: the first invalid entry, named by ``param[index]``.
    """
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    tools: List[Dict[str, Any]] = []
    names = set()
    for index, tool in enumerate(value):
        where = f"{param}[{index}]"
        if not isinstance(tool, dict):
            raise invalid_type(where, "an object", tool)
        if mcp and tool.get("type") == "mcp":
            tools.append(check_mcp_tool(where, tool))
            continue
        for key in tool:
            if key not in ("type", "name", "description", "parameters"):
                raise unknown(f"{where}.{key}")
        if tool.get("type", "function") != "function":
            raise invalid_value(f"{where}.type", tool.get("type"), ("function", "mcp") if mcp else ("function",))
        if "name" not in tool:
            raise ClientError(
                "missing_required_parameter", f"Missing required parameter: '{where}.name'.", f"{where}.name"
            )
        name = tool["name"]
        if not isinstance(name, str):
            raise invalid_type(f"{where}.name", "a string", name)
        if not _TOOL_NAME.match(name):
            raise ClientError(
                "invalid_value",
                f"Invalid '{where}.name': string does not match pattern. Expected a string that matches "
                f"the pattern '^[a-zA-Z0-9_-]+$'.",
                f"{where}.name",
            )
        if name in names:
            raise ClientError("invalid_value", f"Duplicate tool name: '{name}'.", f"{where}.name")
        names.add(name)
        if "description" in tool and not isinstance(tool["description"], str):
            raise invalid_type(f"{where}.description", "a string", tool["description"])
        if "parameters" in tool and not isinstance(tool["parameters"], dict):
            raise invalid_type(f"{where}.parameters", "an object", tool["parameters"])
        normalised = {"type": "function", "name": name}
        if "description" in tool:
            normalised["description"] = tool["description"]
        normalised["parameters"] = copy.deepcopy(tool.get("parameters", {"type": "object", "properties": {}}))
        tools.append(normalised)
    return tools


_MCP_TOOL_KEYS: Dict[str, Any] = {
    "type": None,
    "server_label": (str, "a string"),
    "server_url": (str, "a string"),
    "server_description": (str, "a string"),
    "connector_id": (str, "a string"),
    "authorization": (str, "a string"),
    "headers": (dict, "an object"),
    "allowed_tools": ((list, dict), "an array or an object"),
    "require_approval": ((str, dict), "a string or an object"),
    "allowed_callers": (list, "an array"),
    "defer_loading": (bool, "a boolean"),
    "tunnel_id": (str, "a string"),
}


def check_mcp_tool(where: str, tool: Dict[str, Any]) -> Dict[str, Any]:
    """Validate one MCP server tool (``{"type": "mcp", "server_label": ...}``, GA only)."""
    for key, expected in _MCP_TOOL_KEYS.items():
        if expected is not None and tool.get(key) is not None and not isinstance(tool[key], expected[0]):
            raise invalid_type(f"{where}.{key}", expected[1], tool[key])
    for key in tool:
        if key not in _MCP_TOOL_KEYS:
            raise unknown(f"{where}.{key}")
    if not isinstance(tool.get("server_label"), str) or not tool["server_label"]:
        raise missing(f"{where}.server_label")
    approval = tool.get("require_approval")
    if isinstance(approval, str) and approval not in ("always", "never"):
        raise invalid_value(f"{where}.require_approval", approval, ("always", "never"))
    return copy.deepcopy(tool)


def check_tool_choice(param: str, value: Any, *, mcp: bool = False) -> Any:
    """Validate ``tool_choice``: a mode, a function, or (``mcp``, GA) an MCP server's tool."""
    if isinstance(value, dict) and mcp and value.get("type") == "mcp":
        if not isinstance(value.get("server_label"), str):
            raise missing(f"{param}.server_label")
        return dict(value)
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise invalid_value(param, value, ("auto", "none", "required"))
        return value
    if isinstance(value, dict):
        function = value.get("function")
        name = value.get("name") or (function.get("name") if isinstance(function, dict) else None)
        if value.get("type") != "function" or not isinstance(name, str):
            raise ClientError(
                "invalid_value",
                f"Invalid '{param}': expected 'auto', 'none', 'required' or "
                "{'type': 'function', 'name': <name>}.",
                param,
            )
        return {"type": "function", "name": name}
    raise invalid_type(param, "a string or an object", value)


def _check_turn_detection(param: str, value: Any, current: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    merged = dict(current) if isinstance(current, dict) else dict(DEFAULT_TURN_DETECTION)
    for key, entry in value.items():
        where = f"{param}.{key}"
        if key == "type":
            if entry not in ("server_vad", "semantic_vad"):
                raise invalid_value(where, entry, ("server_vad", "semantic_vad"))
        elif key == "threshold":
            check_range(where, entry, 0.0, 1.0)
        elif key in ("prefix_padding_ms", "silence_duration_ms"):
            check_range(where, entry, 0, 10000, integer=True)
        elif key in ("create_response", "interrupt_response"):
            if not isinstance(entry, bool):
                raise invalid_type(where, "a boolean", entry)
        elif key == "eagerness":
            if entry not in ("low", "medium", "high", "auto"):
                raise invalid_value(where, entry, ("low", "medium", "high", "auto"))
        else:
            raise unknown(where)
        merged[key] = entry
    return merged


def check_max_tokens(param: str, value: Any) -> Any:
    if value == "inf":
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        check_range(param, value, 1, 4096, integer=True)
        return value
    raise ClientError(
        "invalid_value", f"Invalid '{param}': expected an integer between 1 and 4096, or 'inf'.", param
    )


def _apply_common(target: Dict[str, Any], key: str, value: Any, prefix: str) -> bool:
    """Validate and store one field shared by sessions and responses; False if unknown."""
    param = f"{prefix}.{key}"
    if key == "modalities":
        target[key] = check_modalities(param, value)
    elif key == "instructions":
        target[key] = check_string(param, value)
    elif key == "voice":
        if check_string(param, value) not in VOICES:
            raise invalid_value(param, value, VOICES)
        target[key] = value
    elif key == "output_audio_format":
        if value not in AUDIO_FORMATS:
            raise invalid_value(param, value, AUDIO_FORMATS)
        target[key] = value
    elif key == "tools":
        target[key] = check_tools(param, value)
    elif key == "tool_choice":
        target[key] = check_tool_choice(param, value)
    elif key == "temperature":
        check_range(param, value, 0.6, 1.2)
        target[key] = value
    elif key in ("max_response_output_tokens", "max_output_tokens"):
        target["max_response_output_tokens"] = check_max_tokens(param, value)
    else:
        return False
    return True


def apply_session_update(
    session: Mapping[str, Any], update: Any, *, audio_sent: bool = False
) -> Dict[str, Any]:
    """Return a new session: ``session`` with a ``session.update`` payload merged in.

    Raises:
        ClientError: any invalid value; ``session`` is left untouched.
    """
    if not isinstance(update, dict):
        raise invalid_type("session", "an object", update)
    new = copy.deepcopy(dict(session))
    for key, value in update.items():
        param = f"session.{key}"
        if key == "voice" and audio_sent and value != session.get("voice"):
            raise ClientError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                param,
            )
        if _apply_common(new, key, value, "session"):
            continue
        if key == "input_audio_format":
            if value not in AUDIO_FORMATS:
                raise invalid_value(param, value, AUDIO_FORMATS)
            new[key] = value
        elif key == "input_audio_transcription":
            if value is not None:
                if not isinstance(value, dict):
                    raise invalid_type(param, "an object", value)
                model = value.get("model", "whisper-1")
                if not isinstance(model, str):
                    raise invalid_type(f"{param}.model", "a string", model)
                value = dict(value, model=model)
            new[key] = value
        elif key == "turn_detection":
            new[key] = _check_turn_detection(param, value, session.get("turn_detection"))
        elif key == "model":
            check_string(param, value)
        elif key in ("id", "object", "input_audio_noise_reduction", "speed", "tracing"):
            continue  # accepted and ignored, as newer servers do
        else:
            raise unknown(param)
    return new


def response_config(session: Mapping[str, Any], overrides: Any) -> Dict[str, Any]:
    """The effective configuration of one response: session plus ``response.create`` overrides.

    Adds ``conversation`` (``"auto"``/``"none"``), ``metadata`` and ``input``
    (a list of items, or ``None`` to use the conversation).

    Raises:
        ClientError: any invalid override.
    """
    config = copy.deepcopy(dict(session))
    config.update(conversation="auto", metadata=None, input=None)
    for key, value in overrides_of("response", overrides).items():
        param = f"response.{key}"
        if _apply_common(config, key, value, "response"):
            continue
        if key == "conversation":
            if value not in ("auto", "none"):
                raise invalid_value(param, value, ("auto", "none"))
            config[key] = value
        elif key == "metadata":
            if value is not None and not isinstance(value, dict):
                raise invalid_type(param, "an object", value)
            config[key] = value
        elif key == "input":
            if not isinstance(value, list):
                raise invalid_type(param, "an array", value)
            config[key] = [copy.deepcopy(v) for v in value]
        else:
            raise unknown(param)
    return config


_CONTENT_TYPES = {
    "user": ("input_text", "input_audio"),
    "system": ("input_text",),
    "assistant": ("text", "audio"),
}


def validate_item(item: Any) -> None:
    """Check the shape of a ``conversation.item.create`` item.

    Raises:
        ClientError: missing or invalid fields, with ``param`` like ``item.role``.
    """
    if item is None:
        raise missing("item")
    if not isinstance(item, dict):
        raise invalid_type("item", "an object", item)
    item_type = item.get("type")
    if item_type is None:
        raise missing("item.type")
    if item_type not in ("message", "function_call", "function_call_output"):
        raise invalid_value("item.type", item_type, ("message", "function_call", "function_call_output"))
    if "id" in item and item["id"] is not None and not isinstance(item["id"], str):
        raise invalid_type("item.id", "a string", item["id"])
    if item_type == "message":
        role = item.get("role")
        if not isinstance(role, str) or role not in _CONTENT_TYPES:
            if role is None:
                raise missing("item.role")
            raise invalid_value("item.role", role, tuple(_CONTENT_TYPES))
        content = item.get("content")
        if not isinstance(content, list):
            raise invalid_type("item.content", "an array", content)
        for index, part in enumerate(content):
            where = f"item.content[{index}]"
            if not isinstance(part, dict):
                raise invalid_type(where, "an object", part)
            if part.get("type") not in _CONTENT_TYPES[role]:
                raise invalid_value(f"{where}.type", part.get("type"), _CONTENT_TYPES[role])
            if part["type"] in ("input_text", "text") and not isinstance(part.get("text"), str):
                raise invalid_type(f"{where}.text", "a string", part.get("text"))
            if part["type"] == "input_audio" and not isinstance(part.get("audio", ""), str):
                raise invalid_type(f"{where}.audio", "a string", part.get("audio"))
    elif item_type == "function_call":
        for key in ("name", "call_id"):
            if not isinstance(item.get(key), str):
                raise missing(f"item.{key}")
        if not isinstance(item.get("arguments", ""), str):
            raise invalid_type("item.arguments", "a string", item.get("arguments"))
    else:
        for key in ("call_id", "output"):
            if key not in item:
                raise missing(f"item.{key}")
            if not isinstance(item[key], str):
                raise invalid_type(f"item.{key}", "a string", item[key])
