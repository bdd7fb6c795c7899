"""Item-level bookkeeping for the conversation: building, finding parts, reconciling.

Pure functions over one item dict (the server's JSON plus ``formatted``);
:class:`~realtime_sync.conversation.Conversation` calls them with its lock
held and keeps all cross-item state itself.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Dict, Mapping

import numpy as np

from ._conversation_fields import field, text_or_empty
from .errors import ProtocolError

__all__ = [
    "TEXT_PART_TYPES",
    "new_item",
    "find_part",
    "tool_of",
    "refresh_text",
    "refresh_transcript",
    "reconcile",
    "apply_parked_transcription",
]

logger = logging.getLogger(__name__)

Item = Dict[str, Any]

TEXT_PART_TYPES = ("text", "input_text")


def new_item(source: Mapping[str, Any]) -> Item:
    """A deep copy of the server's ``item`` with ``formatted`` and the reference's status.

    User messages become ``completed``, other messages and function calls
    ``in_progress``, function outputs ``completed``; ``formatted.text`` holds
    the text of the ``text`` / ``input_text`` parts.
    """
    item: Item = copy.deepcopy(dict(source))
    formatted: Dict[str, Any] = {
        "audio": np.zeros(0, dtype=np.int16),
        "text": "",
        "transcript": "",
    }
    item["formatted"] = formatted
    content = item.get("content")
    if isinstance(content, list):
        formatted["text"] = "".join(
            text_or_empty(part.get("text"))
            for part in content
            if isinstance(part, dict) and part.get("type") in TEXT_PART_TYPES
        )
    item_type = item.get("type")
    if item_type == "message":
        item["status"] = "completed" if item.get("role") == "user" else "in_progress"
    elif item_type == "function_call":
        if not isinstance(item.get("arguments"), str):
            item["arguments"] = ""
        formatted["tool"] = {
            "type": "function",
            "name": item.get("name"),
            "call_id": item.get("call_id"),
            "arguments": item["arguments"],
        }
        item["status"] = "in_progress"
    elif item_type == "function_call_output":
        item["status"] = "completed"
        formatted["output"] = item.get("output")
    return item


def find_part(event: Mapping[str, Any], item: Item) -> Dict[str, Any]:
    """The content part ``event["content_index"]`` names in ``item``, or raise ProtocolError."""
    index = event.get("content_index")
    content = item.get("content")
    if index.__class__ is int and content.__class__ is list and 0 <= index < len(content):
        found: Dict[str, Any] = content[index]
        if found.__class__ is dict:  # the common case, checked without the helpers
            return found
    index = field(event, event, "content_index", int)
    content = item.get("content")
    if not isinstance(content, list):
        content = []
    if not 0 <= index < len(content) or not isinstance(content[index], dict):
        raise ProtocolError(
            f'{event.get("type")}: content_index {index} is out of range for item '
            f'"{item.get("id")}", which has {len(content)} content part(s)',
            event=dict(event),
        )
    part: Dict[str, Any] = content[index]
    return part


def tool_of(event: Mapping[str, Any], item: Item) -> Dict[str, Any]:
    """``item["formatted"]["tool"]``, or raise ProtocolError if ``item`` is not a function call."""
    tool = item["formatted"].get("tool")
    if not isinstance(tool, dict):
        raise ProtocolError(
            f'{event.get("type")}: item "{item["id"]}" is a {item.get("type")}, '
            "not a function_call",
            event=dict(event),
        )
    return tool


def refresh_text(item: Item) -> None:
    """Rebuild ``formatted.text`` from the item's text parts."""
    content = item.get("content") or []
    item["formatted"]["text"] = "".join(
        text_or_empty(part.get("text"))
        for part in content
        if isinstance(part, dict) and part.get("type") in TEXT_PART_TYPES
    )


def refresh_transcript(item: Item, truncated: bool) -> None:
    """Rebuild ``formatted.transcript`` from the audio parts, unless ``truncated``.

    A truncated item keeps an empty transcript: the user never heard the rest.
    """
    if truncated:
        return
    content = item.get("content") or []
    item["formatted"]["transcript"] = "".join(
        text_or_empty(part.get("transcript"))
        for part in content
        if isinstance(part, dict) and part.get("type") == "audio"
    )


def reconcile(item: Item, final: Mapping[str, Any], truncated: bool) -> None:
    """Take an item's final state from the server where it is complete.

    The server's final item omits audio, and may carry ``None`` for a
    transcript it does not have: only strings replace what the deltas built.
    """
    if isinstance(final.get("status"), str):
        item["status"] = final["status"]
    final_content = final.get("content")
    if isinstance(final_content, list):
        content = item.get("content")
        if not isinstance(content, list):
            content = item["content"] = []
        for index, final_part in enumerate(final_content):
            if not isinstance(final_part, dict):
                continue
            if index < len(content) and isinstance(content[index], dict):
                for key in ("text", "transcript"):
                    if isinstance(final_part.get(key), str):
                        content[index][key] = final_part[key]
            elif index == len(content):
                part = {k: copy.deepcopy(v) for k, v in final_part.items() if k != "audio"}
                content.append(part)
        refresh_text(item)
        refresh_transcript(item, truncated)
    tool = item["formatted"].get("tool")
    if isinstance(final.get("arguments"), str):
        item["arguments"] = final["arguments"]
        if tool is not None:
            tool["arguments"] = final["arguments"]


def apply_parked_transcription(item: Item, parked: Mapping[str, Any]) -> None:
    """Give a new item the transcription (or its failure) that arrived before it."""
    formatted = item["formatted"]
    if "error" in parked:
        formatted["transcript_error"] = parked["error"]
    if "transcript" not in parked:
        return
    formatted["transcript"] = parked["formatted"]
    content = item.get("content")
    index = parked["content_index"]
    if isinstance(content, list) and 0 <= index < len(content) and isinstance(content[index], dict):
        content[index]["transcript"] = parked["transcript"]
    else:
        logger.warning("item %s has no content part %d for its early transcript", item.get("id"), index)
