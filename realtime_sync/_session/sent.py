"""The record of recently sent client events, by ``event_id``.

A server ``error`` names the client event that caused it by ``event_id``; the
client looks the event up here to put it in the ``error`` payload, and finds
the request handle (an :class:`~.requests.Ask`) registered under that id
before the event was sent. The record is bounded (oldest dropped) and keeps
base64 audio only as its length, so it stays small however long the session
and however much audio was sent; handles are kept until their request ends.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Dict, Mapping, Optional, TypeVar

from ..events import Waiter

__all__ = ["SentEvents", "without_audio", "audio_placeholder"]

Event = Dict[str, Any]
T = TypeVar("T")


def audio_placeholder(length: int) -> str:
    """What the record keeps of ``length`` characters of base64 audio."""
    return f"<{length} base64 chars>"


def _placeholder(audio: Any) -> str:
    return audio_placeholder(len(audio) if isinstance(audio, str) else 0)


def without_audio(event: Event) -> Event:
    """``event`` with its base64 audio replaced by a placeholder (a shallow copy when changed).

    Covers ``input_audio_buffer.append``, the ``input_audio`` / ``audio``
    content parts of ``conversation.item.create`` and the data URLs of its
    ``input_image`` parts.
    """
    event_type = event.get("type")
    if event_type == "input_audio_buffer.append":
        kept = dict(event)
        kept["audio"] = _placeholder(kept.get("audio"))
        return kept
    if event_type == "conversation.item.create":
        item = event.get("item")
        if not isinstance(item, dict):
            return event
        content = item.get("content")
        if isinstance(content, list) and any(_bulky(part) for part in content):
            return dict(event, item=dict(item, content=[_slim(part) if _bulky(part) else part for part in content]))
    return event


def _is_data_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:")


def _bulky(part: Any) -> bool:
    """Whether a content part carries base64 audio or an image data URL."""
    return isinstance(part, dict) and (isinstance(part.get("audio"), str) or _is_data_url(part.get("image_url")))


def _slim(part: Dict[str, Any]) -> Dict[str, Any]:
    slim = dict(part)
    if isinstance(slim.get("audio"), str):
        slim["audio"] = _placeholder(slim["audio"])
    if _is_data_url(slim.get("image_url")):
        url = slim["image_url"]
        slim["image_url"] = f"<{url[: url.find(',') if ',' in url else 0][:40]} data URL, {len(url)} chars>"
    return slim


class SentEvents:
    """The last ``limit`` client events sent, by ``event_id`` (audio left out), and request handles. Thread-safe."""

    def __init__(self, limit: int = 256) -> None:
        self._limit = limit
        self._events: "collections.OrderedDict[str, Event]" = collections.OrderedDict()
        self._handles: Dict[str, Waiter] = {}
        self._lock = threading.Lock()

    def add(self, event: Event, handle: Optional[Waiter] = None) -> None:
        """Remember ``event`` (it must carry a string ``event_id``), sent for ``handle`` if given."""
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            return
        self.keep(event_id, without_audio(event), handle)

    def keep(self, event_id: str, kept: Event, handle: Optional[Waiter] = None) -> None:
        """Remember ``kept``, an event already without its audio (:func:`without_audio`), under ``event_id``."""
        with self._lock:
            self._events[event_id] = kept
            if len(self._events) > self._limit:
                self._events.popitem(last=False)
            if handle is not None:
                self._handles[event_id] = handle

    def handle_for(self, event_id: Any) -> Optional[Waiter]:
        """The request handle ``event_id`` was sent for, while it is registered."""
        return self._lookup(self._handles, event_id)

    def forget_handle(self, handle: Waiter) -> None:
        """Drop every event id registered for ``handle`` (its request has ended)."""
        with self._lock:
            for event_id in [key for key, value in self._handles.items() if value is handle]:
                del self._handles[event_id]

    def get(self, event_id: Any) -> Optional[Event]:
        """The event sent with ``event_id`` (audio as a placeholder), or ``None``."""
        return self._lookup(self._events, event_id)

    def _lookup(self, table: Mapping[str, T], event_id: Any) -> Optional[T]:
        """``table[event_id]`` under the lock; ``None`` when absent or not a str id."""
        if not isinstance(event_id, str):
            return None
        with self._lock:
            return table.get(event_id)

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            return event_id in self._events

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._handles.clear()
