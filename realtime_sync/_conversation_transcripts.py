"""Input audio transcription: the user's words, streamed, completed or failed.

The server transcribes the user's input audio asynchronously: GA streams
``conversation.item.input_audio_transcription.delta`` events while it works,
then ``.completed`` (or ``.failed``). In server-VAD mode these can arrive
before ``conversation.item.created`` for their item, so :class:`TranscriptQueue`
parks them by item id (a bounded queue) and hands them to the item when it is
created.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Dict, Mapping, Optional

from ._conversation_fields import field, park
from ._conversation_items import Texts, find_part, grow, grow_input_transcript

__all__ = ["TranscriptQueue"]

logger = logging.getLogger(__name__)

Item = Dict[str, Any]


class TranscriptQueue:
    """Transcription events for items not created yet, and their effect on items.

    Each method takes the event and the item it names (``None`` when the
    conversation does not hold it yet) and returns the delta to report, if
    any. Not thread-safe on its own: the conversation calls it under its lock.
    """

    __slots__ = ("_queued", "_texts")

    def __init__(self, texts: Texts) -> None:
        self._queued: Dict[str, Dict[str, Any]] = {}
        self._texts = texts

    def clear(self) -> None:
        """Forget everything parked."""
        self._queued = {}

    def delta(self, event: Mapping[str, Any], item: Optional[Item], delta: str) -> Optional[Dict[str, Any]]:
        """``...input_audio_transcription.delta``: grow the transcript (or park the delta)."""
        if item is None:
            grow(park(self._queued, field(event, event, "item_id", str)), "partial", delta)
            return None
        grow_input_transcript(self._texts, event, item, delta)
        return {"transcript": delta}

    def completed(self, event: Mapping[str, Any], item: Optional[Item]) -> Optional[Dict[str, Any]]:
        """``...input_audio_transcription.completed``: set the final transcript (or park it).

        An empty transcript is shown as one space in ``formatted.transcript``,
        so "empty" and "not transcribed yet" differ.
        """
        item_id = field(event, event, "item_id", str)
        index = field(event, event, "content_index", int)
        transcript = field(event, event, "transcript", str, required=False) or ""
        shown = transcript or " "
        if item is None:
            park(self._queued, item_id).update(transcript=transcript, formatted=shown, content_index=index)
            return None
        find_part(event, item)["transcript"] = transcript
        item["formatted"]["transcript"] = shown
        return {"transcript": transcript}

    def failed(self, event: Mapping[str, Any], item: Optional[Item]) -> None:
        """``...input_audio_transcription.failed``: record the error on the item (or park it)."""
        item_id = field(event, event, "item_id", str)
        error = copy.deepcopy(field(event, event, "error", dict, required=False) or {})
        if item is None:
            park(self._queued, item_id)["error"] = error
            return
        if event.get("content_index") is not None:
            find_part(event, item)
        item["formatted"]["transcript_error"] = error

    def apply(self, item: Item) -> None:
        """Give a new item the transcription (streamed, final or failed) that arrived before it."""
        parked = self._queued.pop(item["id"], None)
        if parked is None:
            return
        formatted = item["formatted"]
        if "error" in parked:
            formatted["transcript_error"] = parked["error"]
        content = item.get("content")
        if "transcript" in parked:
            transcript, shown, index = parked["transcript"], parked["formatted"], parked["content_index"]
        elif "partial" in parked:
            transcript = shown = parked["partial"]
            index = 0
        else:
            return
        formatted["transcript"] = shown
        if isinstance(content, list) and 0 <= index < len(content) and isinstance(content[index], dict):
            content[index]["transcript"] = transcript
        elif "transcript" in parked:
            logger.warning("item %s has no content part %d for its early transcript", item.get("id"), index)
