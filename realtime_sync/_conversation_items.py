"""Item-level bookkeeping for the conversation: building, growing, reconciling.

Pure functions over one item dict (the server's JSON plus ``formatted``);
:class:`~realtime_sync.conversation.Conversation` calls them with its lock
held and keeps all cross-item state itself.

Growing text in linear time
---------------------------
Text, transcript and argument deltas are appended to two places: the content
part (or ``item["arguments"]``) and ``formatted``. ``s = s + delta`` on a
string that a dict also holds copies the whole string, so a long reply costs
quadratic time. CPython appends in place (``realloc``) when the string has one
reference, the local variable that ``+=`` stores back to; but the dicts that
show the text must never let go of it for that instant (a reader without the
conversation's lock would see the text empty). So :class:`Texts` keeps a
spare for each field it grows: the value before the latest delta, which only
it holds. The next delta is appended to the spare in place (with the delta it
missed), and the spare is shown: each key goes from the old value straight to
the longer one, and the old value becomes the spare. That costs a second copy
of each growing text; the spares of the fields grown last are kept (a field
whose spare was dropped, or whose value was replaced, costs one copy). Two
strings growing in turn defeat the C library's in-place ``realloc`` (each is
in the other's way, so each append may move the string): that stays cheap up
to :attr:`Texts.SPARE_UP_TO` characters, far beyond a reply's text (its
output tokens bound it), and beyond that a text grows alone, in place, as
before: an empty string stands in for it for that instant. A part
and ``formatted`` share one string object while they hold the same text (one
text part, one audio part), so one append serves both. If a user keeps a
reference to an earlier string the next append copies once, which is correct,
just not free. Other Python implementations get correct, if slower, results.
:func:`grow` is the plain in-place append, for values no reader sees.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple

from ._conversation_fields import field, text_or_empty
from .errors import ProtocolError

if TYPE_CHECKING:
    import numpy as np
else:
    from ._lazy import numpy as np  # imported when audio is first touched

__all__ = [
    "TEXT_PART_TYPES",
    "MCP_ITEM_TYPES",
    "grow",
    "Texts",
    "grow_input_transcript",
    "add_part",
    "new_item",
    "find_part",
    "tool_of",
    "refresh_text",
    "refresh_transcript",
    "reconcile",
]

logger = logging.getLogger(__name__)

Item = Dict[str, Any]

TEXT_PART_TYPES = ("text", "input_text")
MCP_ITEM_TYPES = ("mcp_call", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response")

# Fields a final item (conversation.item.done, response.output_item.done) may
# complete on a tool or MCP item, and the formatted fields built from them.
_FINAL_FIELDS = ("name", "call_id", "server_label", "output", "error", "tools", "approve", "reason",
                 "approval_request_id")


def grow(holder: Dict[str, Any], key: str, delta: str) -> None:
    """``holder[key] += delta`` without copying ``holder[key]`` (see the module docs)."""
    value = holder.get(key)
    if value.__class__ is not str:
        value = ""
    holder[key] = ""
    value += delta  # in place: the local is the only reference
    holder[key] = value


class _Spare:
    """One field's spare: the value shown, and the one before it (held only here) with the delta it missed."""

    __slots__ = ("holder", "shown", "spare", "missed")

    def __init__(self, holder: Dict[str, Any]) -> None:
        self.holder = holder
        self.shown: Any = None
        self.spare: Any = None
        self.missed = ""


class Texts:
    """Grows text fields in linear time without ever showing a shorter value (see the module docs).

    One per conversation, called under its lock.
    """

    __slots__ = ("_spares",)

    #: the fields whose spares are kept (the ones grown last): a conversation grows a few at a time
    KEPT = 8
    #: the longest text grown with a spare (characters); a longer one grows alone, in place (module docs)
    SPARE_UP_TO = 1 << 20

    def __init__(self) -> None:
        self._spares: Dict[Tuple[int, str], _Spare] = {}

    def grow(self, holder: Dict[str, Any], key: str, delta: str) -> None:
        """``holder[key] += delta``, the key never holding less than before."""
        self.grow_pair(holder, key, None, "", delta)

    def grow_pair(
        self, first: Dict[str, Any], first_key: str, second: Optional[Dict[str, Any]], second_key: str, delta: str
    ) -> None:
        """Append ``delta`` to ``first[first_key]`` and ``second[second_key]``, sharing one string if they do."""
        current = first.get(first_key)
        if current.__class__ is not str:
            current = ""
        if second is not None and second.get(second_key) is not current:
            self.grow_pair(first, first_key, None, "", delta)
            self.grow_pair(second, second_key, None, "", delta)
            return
        spares = self._spares
        slot_key = (id(first), first_key)
        slot = spares.pop(slot_key, None)
        if len(current) > self.SPARE_UP_TO:
            del current, slot
            _grow_alone(first, first_key, second, second_key, delta)
            return
        if slot is not None and slot.holder is first and slot.shown is current:
            value = slot.spare
            slot.spare = None  # the local is now its only reference: += extends it in place
            value += slot.missed + delta
        else:  # its first delta here, or its value was replaced: one copy
            value = current + delta
            slot = _Spare(first)
        first[first_key] = value
        if second is not None:
            second[second_key] = value
        slot.shown, slot.spare, slot.missed = value, current, delta
        spares[slot_key] = slot  # the latest last
        if len(spares) > self.KEPT:
            del spares[next(iter(spares))]


def _grow_alone(
    first: Dict[str, Any], first_key: str, second: Optional[Dict[str, Any]], second_key: str, delta: str
) -> None:
    """Append ``delta`` in place: the keys hold ``""`` for that instant (a text beyond ``Texts.SPARE_UP_TO``)."""
    value = first.get(first_key)
    if value.__class__ is not str:
        value = ""
    first[first_key] = ""
    if second is not None:
        second[second_key] = ""
    value += delta  # in place: the local is the only reference
    first[first_key] = value
    if second is not None:
        second[second_key] = value


def _set_tool(formatted: Dict[str, Any], fields: Dict[str, Any]) -> None:
    """Update ``formatted["tool"]`` in place (a user may hold it), or create it."""
    tool = formatted.get("tool")
    if isinstance(tool, dict):
        tool.update(fields)
    else:
        formatted["tool"] = fields


def _format_tool(item: Item) -> None:
    """Set ``formatted["tool"]`` / ``"output"`` and friends for function and MCP items."""
    formatted = item["formatted"]
    item_type = item.get("type")
    if item_type == "function_call":
        _set_tool(formatted, {"type": "function", "name": item.get("name"), "call_id": item.get("call_id"),
                              "arguments": item["arguments"]})
    elif item_type == "function_call_output":
        formatted["output"] = item.get("output")
    elif item_type in ("mcp_call", "mcp_approval_request"):
        fields = {"type": item_type, "server_label": item.get("server_label"), "name": item.get("name"),
                  "arguments": item["arguments"]}
        if item_type == "mcp_call":
            fields["approval_request_id"] = item.get("approval_request_id")
            formatted["output"] = item.get("output")
            formatted["error"] = copy.deepcopy(item.get("error"))
        else:
            formatted["approval_request_id"] = item.get("id")
        _set_tool(formatted, fields)
    elif item_type == "mcp_list_tools":
        _set_tool(formatted, {"type": item_type, "server_label": item.get("server_label")})
        tools = item.get("tools")
        formatted["tools"] = copy.deepcopy(tools) if isinstance(tools, list) else []
    elif item_type == "mcp_approval_response":
        formatted["approval_request_id"] = item.get("approval_request_id")
        formatted["approve"] = item.get("approve")
        formatted["reason"] = item.get("reason")


def new_item(source: Mapping[str, Any]) -> Item:
    """A deep copy of the server's ``item`` with ``formatted`` and the reference's status.

    User messages become ``completed``, other messages and function calls
    ``in_progress``, function outputs ``completed`` (MCP calls and tool lists
    ``in_progress``, approval requests and responses ``completed``);
    ``formatted.text`` holds the text of the ``text`` / ``input_text`` parts.
    Other parts (``input_image``, ``input_audio``...) are kept as they are.
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
    elif item_type in ("function_call", "mcp_call", "mcp_approval_request"):
        if not isinstance(item.get("arguments"), str):
            item["arguments"] = ""
        item["status"] = "completed" if item_type == "mcp_approval_request" else "in_progress"
    elif item_type == "mcp_list_tools":
        item["status"] = "in_progress"
    elif item_type in ("function_call_output", "mcp_approval_response"):
        item["status"] = "completed"
    _format_tool(item)
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


def add_part(event: Mapping[str, Any], item: Item) -> None:
    """``response.content_part.added``: append a copy of ``event["part"]`` to the item's content.

    A ``content_index`` naming a part the item already has (it came with the
    item) changes nothing; one past the end appends; any other is an error.
    """
    part = field(event, event, "part", dict)
    content = item.get("content")
    if content is None:
        content = item["content"] = []
    if not isinstance(content, list):
        raise ProtocolError(
            f'response.content_part.added: item "{item["id"]}" has no content list', event=dict(event)
        )
    index = field(event, event, "content_index", int, required=False)
    if index is None or index == len(content):
        content.append(copy.deepcopy(dict(part)))
    elif index > len(content) or index < 0:
        raise ProtocolError(
            f"response.content_part.added: content_index {index} is out of range for "
            f'item "{item["id"]}", which has {len(content)} content part(s)',
            event=dict(event),
        )


def grow_input_transcript(texts: Texts, event: Mapping[str, Any], item: Item, delta: str) -> None:
    """Append an input transcription delta to the audio part and ``formatted.transcript``.

    ``content_index`` is optional on GA (0 when missing); an item with no
    content gets the delta in ``formatted`` only.
    """
    formatted = item["formatted"]
    content = item.get("content")
    if event.get("content_index") is None and not (isinstance(content, list) and content):
        texts.grow(formatted, "transcript", delta)
        return
    located = event if event.get("content_index") is not None else {**event, "content_index": 0}
    texts.grow_pair(find_part(located, item), "transcript", formatted, "transcript", delta)


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
    A user item's (``input_audio`` parts) belongs to the transcription events:
    it is only set here from a non-empty final transcript, never emptied (a
    GA ``conversation.item.done`` may come without it, or with ``null``).
    """
    if truncated:
        return
    parts = [part for part in item.get("content") or [] if isinstance(part, dict)]
    if any(part.get("type") == "audio" for part in parts):
        item["formatted"]["transcript"] = "".join(
            text_or_empty(part.get("transcript")) for part in parts if part.get("type") == "audio"
        )
        return
    heard = "".join(text_or_empty(part.get("transcript")) for part in parts if part.get("type") == "input_audio")
    if heard:
        item["formatted"]["transcript"] = heard


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
    if isinstance(final.get("arguments"), str):  # omitted: the streamed arguments stay
        item["arguments"] = final["arguments"]
    changed = False
    for key in _FINAL_FIELDS:
        if key in final and final[key] is not None and item.get(key) != final[key]:
            item[key] = copy.deepcopy(final[key])
            changed = True
    if changed or "arguments" in item:
        _format_tool(item)
