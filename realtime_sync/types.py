"""Shapes of the dicts realtime_sync hands to your code, for type checkers.

Payloads stay plain ``dict`` objects at run time: these ``TypedDict`` classes
cost nothing and change nothing, they let mypy or pyright check the keys you
read. Annotate a callback with them::

    from realtime_sync import RealtimeClient
    from realtime_sync.types import ConversationUpdatedEvent

    def show(event: ConversationUpdatedEvent) -> None:
        delta = event["delta"]
        if delta and "text" in delta:
            print(delta["text"], end="")

    client.on("conversation.updated", show)

Items are shaped like the server's JSON (beta model, whatever the wire
dialect) plus ``formatted``; keys the server may leave out are optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional, TypedDict, Union

from .errors import RealtimeError

if TYPE_CHECKING:
    import numpy as np
else:
    from ._lazy import numpy as np  # imported when audio is first touched

__all__ = [
    "ContentPart",
    "ToolCallInfo",
    "Formatted",
    "Item",
    "Delta",
    "ConversationUpdatedEvent",
    "ItemEvent",
    "ErrorEvent",
    "CloseEvent",
    "RealtimeEvent",
    "ServerEvent",
    "ClientEvent",
    "ToolHandler",
    "ConversationUpdatedCallback",
    "ItemCallback",
    "ErrorCallback",
    "CloseCallback",
    "RealtimeEventCallback",
]

#: A wire event (server or client), as parsed from JSON.
ServerEvent = Dict[str, Any]
#: A client event as the client asked to send it (beta model, with ``event_id`` and ``type``).
ClientEvent = Dict[str, Any]


class ContentPart(TypedDict, total=False):
    """One part of a message's ``content``: ``input_text``, ``input_audio``, ``text``, ``audio``..."""

    type: str
    text: str
    audio: str
    transcript: Optional[str]


class ToolCallInfo(TypedDict):
    """``item["formatted"]["tool"]`` of a ``function_call`` item."""

    type: str
    name: str
    call_id: str
    arguments: str


class Formatted(TypedDict, total=False):
    """``item["formatted"]``: the item's content, ready to show or play."""

    audio: np.ndarray  # int16 samples at the output (or input) format's rate
    text: str
    transcript: str
    tool: ToolCallInfo
    output: str


class Item(TypedDict, total=False):
    """A conversation item (``client.conversation.get_items()``, ``ask()``'s reply)."""

    id: str
    object: str
    type: str  # "message", "function_call", "function_call_output"
    status: str  # "in_progress", "completed", "incomplete"
    role: str  # "user", "assistant", "system"
    content: List[ContentPart]
    name: str
    call_id: str
    arguments: str
    output: str
    formatted: Formatted


class Delta(TypedDict, total=False):
    """What one event added to an item: exactly one key is present."""

    text: str
    transcript: str
    arguments: str
    audio: np.ndarray


class ConversationUpdatedEvent(TypedDict):
    """Payload of ``conversation.updated``: the live item and what changed (or ``None``)."""

    item: Item
    delta: Optional[Delta]


class ItemEvent(TypedDict):
    """Payload of ``conversation.item.appended`` and ``conversation.item.completed``."""

    item: Item


class ErrorEvent(TypedDict):
    """Payload of ``error``.

    ``error`` is the exception (a :class:`~realtime_sync.errors.ServerError`
    for the server's ``error`` event), ``event`` the server event at fault,
    ``client_event`` the client event a server error names (audio as a
    placeholder), ``raw`` the start of a frame that could not be parsed.
    """

    error: RealtimeError
    event: Optional[ServerEvent]
    client_event: Optional[ClientEvent]
    raw: Optional[str]


class CloseEvent(TypedDict):
    """Payload of ``close``: ``error`` is ``False`` for a normal close."""

    error: bool
    code: Optional[int]
    reason: Optional[str]


class RealtimeEvent(TypedDict):
    """Payload of ``realtime.event``: every event sent or received, in the beta model."""

    time: str  # ISO 8601, UTC, milliseconds
    source: Literal["client", "server"]
    event: Union[ServerEvent, ClientEvent]


#: A tool handler: the parsed arguments in, a JSON-serialisable result out.
ToolHandler = Callable[[Dict[str, Any]], Any]
ConversationUpdatedCallback = Callable[[ConversationUpdatedEvent], Any]
ItemCallback = Callable[[ItemEvent], Any]
ErrorCallback = Callable[[ErrorEvent], Any]
CloseCallback = Callable[[CloseEvent], Any]
RealtimeEventCallback = Callable[[RealtimeEvent], Any]
