"""Items of the GA dialect: what a GA client may send as an item, and how an item looks on the GA wire.

The simulator's internal items are the beta protocol's (assistant content parts
``text`` / ``audio``); GA names assistant content ``output_text`` /
``output_audio`` and adds ``input_image`` parts and ``mcp_approval_response``
items. :func:`item_from_ga` validates a GA item with the live service's error
shapes (``param`` like ``item.content[0].type``) and converts it;
:func:`item_to_ga` renders an internal item for the GA wire.

Pure functions, no threads.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping

from .checks import ClientError, check_boolean, check_kind, check_object, check_string, invalid_type, invalid_value, missing

__all__ = ["item_from_ga", "item_to_ga"]

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


def _content_part(where: str, part: Any, role: str) -> Dict[str, Any]:
    kind = check_kind(where, part, _ROLE_CONTENT[role])
    check_object(where, part, _CONTENT_KEYS[kind])
    if kind in ("input_text", "output_text"):
        if "text" not in part:
            raise missing(f"{where}.text")
        check_string(f"{where}.text", part["text"])
    elif kind == "input_image":
        if "image_url" not in part:
            raise missing(f"{where}.image_url")
        url = check_string(f"{where}.image_url", part["image_url"])
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
                check_string(f"{where}.{key}", part[key])
    converted = dict(part)
    converted["type"] = _ASSISTANT_FROM_GA.get(kind, kind)
    return converted


def item_from_ga(raw: Any, where: str = "item") -> Dict[str, Any]:
    """Validate a GA item a client sends and return it in the internal form (a new dict).

    Raises:
        ClientError: missing, unknown or ill-typed fields, with ``param`` like ``item.content[0].type``.
    """
    if raw is None:
        raise missing(where)
    kind = check_kind(where, raw, tuple(_ITEM_KEYS))
    check_object(where, raw, _ITEM_KEYS[kind])
    if raw.get("id") is not None:
        check_string(f"{where}.id", raw["id"])
    if raw.get("object") not in (None, "realtime.item"):
        raise invalid_value(f"{where}.object", raw["object"], ("realtime.item",))
    if raw.get("status") not in (None, "completed", "incomplete", "in_progress"):
        raise invalid_value(f"{where}.status", raw["status"], ("completed", "incomplete", "in_progress"))
    item: Dict[str, Any] = copy.deepcopy(raw)
    if kind == "message":
        role = raw.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if role not in _ROLE_CONTENT:
            raise invalid_value(f"{where}.role", role, tuple(_ROLE_CONTENT))
        content = raw.get("content")
        if not isinstance(content, list):
            raise invalid_type(f"{where}.content", "an array", content)
        item["content"] = [_content_part(f"{where}.content[{i}]", part, role) for i, part in enumerate(content)]
    elif kind == "function_call":
        for key in ("name", "call_id"):
            if key not in raw:
                raise missing(f"{where}.{key}")
            check_string(f"{where}.{key}", raw[key])
        check_string(f"{where}.arguments", raw.get("arguments", ""))
    elif kind == "function_call_output":
        for key in ("call_id", "output"):
            if key not in raw:
                raise missing(f"{where}.{key}")
            check_string(f"{where}.{key}", raw[key])
    else:
        for key in ("approval_request_id", "approve"):
            if key not in raw:
                raise missing(f"{where}.{key}")
        check_string(f"{where}.approval_request_id", raw["approval_request_id"])
        check_boolean(f"{where}.approve", raw["approve"])
        if raw.get("reason") is not None:
            check_string(f"{where}.reason", raw["reason"])
    return item


def item_to_ga(item: Mapping[str, Any]) -> Dict[str, Any]:
    """The GA form of an internal item (a new dict): assistant content ``output_text`` / ``output_audio``."""
    converted = copy.deepcopy(dict(item))
    if converted.get("type") == "message" and converted.get("role") == "assistant":
        for part in converted.get("content") or []:
            part["type"] = _ASSISTANT_TO_GA.get(part.get("type"), part.get("type"))
    return converted
