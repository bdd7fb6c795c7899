"""Client-side cache of a Realtime conversation: items, responses and their audio.

:class:`Conversation` folds the server's events into a list of *items* (plain
dicts shaped like the server's JSON) and a list of *responses*, the way the
JavaScript reference client's ``RealtimeConversation`` does, and adds what a
long-running Python program needs on top.

Every item carries ``item["formatted"]``, a plain dict with:

* ``"audio"``: a 1-D ``numpy.int16`` array, mono, at the rate of the audio
  format it came in (``pcm16``: 24 kHz; ``g711_ulaw`` / ``g711_alaw``: 8 kHz,
  decoded to int16). Input audio sliced by speech detection uses the input
  format's rate, assistant audio the output format's rate.
* ``"text"``: the text of the ``text`` / ``input_text`` content parts.
* ``"transcript"``: the transcript of the audio (a single space stands for an
  empty input transcription, so "empty" and "not transcribed yet" differ).
* ``"tool"`` (function calls): ``{"type": "function", "name", "call_id",
  "arguments"}``; ``"output"`` (function call outputs): the output string.
* ``"transcript_error"`` (only after
  ``conversation.item.input_audio_transcription.failed``): the server's
  ``error`` object for that input transcription.

How audio is stored
-------------------
Concatenating arrays on every ``response.audio.delta`` copies the whole item
each time, which is quadratic over a long reply. Each item that is receiving
audio owns a private int16 buffer that grows geometrically (it quadruples: an
append costs amortized O(delta), growing copies about a third of a long
reply's samples in all, and the spare part of a large buffer is address space
that the operating system backs with memory only once it is written), and
after each append
``formatted["audio"]`` is reassigned to a view of the filled part. A user who
reads ``item["formatted"]["audio"]`` therefore always gets a plain
``numpy.ndarray`` of int16 holding exactly the samples received so far, and an
array read earlier keeps its contents: later appends only write past its end,
and growing allocates a new buffer. When the audio is done
(``response.audio.done``, ``response.output_item.done``, or the
``response.done`` of its response) the spare capacity is released. If a user
replaces ``formatted["audio"]`` with an array of their own, the next delta is
appended to that array.

Threads
-------
:meth:`Conversation.process_event` normally runs on the socket thread, while
user threads call :meth:`~Conversation.get_items` / :meth:`~Conversation.get_item`.
All state changes happen under one lock, and the ``items`` and ``responses``
lists are replaced, never mutated in place, so a list obtained from any of
them never changes under the reader's feet. The item dicts themselves are
updated in place as deltas arrive (that is the point of the cache).
"""

from __future__ import annotations

import collections.abc
import copy
import logging
import math
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple, Type

import numpy as np

from . import audio as _audio
from ._conversation_audio import AudioBuffer
from ._conversation_fields import field as _field
from ._conversation_fields import milliseconds as _milliseconds
from ._conversation_fields import park as _park
from ._conversation_fields import text_or_empty as _text
from ._conversation_items import (
    apply_parked_transcription,
    find_part,
    new_item,
    reconcile,
    refresh_text,
    refresh_transcript,
    tool_of,
)
from ._conversation_responses import ResponseBook
from ._conversation_speech import SpeechQueue
from .errors import ProtocolError, UnknownItemError

__all__ = ["Conversation"]

logger = logging.getLogger(__name__)

Item = Dict[str, Any]
Delta = Dict[str, Any]
ProcessResult = Tuple[Optional[Item], Optional[Delta]]

_NONE: ProcessResult = (None, None)

class Conversation:
    """Client-side cache of a Realtime conversation, fed by server events.

    Args:
        input_audio_format: the session's ``input_audio_format`` (``"pcm16"``,
            ``"g711_ulaw"`` or ``"g711_alaw"``); it sets the sample rate used
            to slice input audio at speech boundaries.
        output_audio_format: the session's ``output_audio_format``; it sets how
            ``response.audio.delta`` payloads are decoded and the sample rate
            used to truncate assistant audio.

    Both are writable attributes: the client sets them from the session
    configuration. Setting an unknown format raises
    :class:`~realtime_sync.errors.ConfigurationError`.

    Attributes:
        items: the conversation's items in creation order (a list that is
            replaced, never mutated, when items are added or deleted).
        responses: the responses in creation order; each is the server's
            response dict with ``"output"`` as a list of item ids, and the final
            ``status``, ``status_details`` and ``usage`` once ``response.done``
            arrived.
    """

    def __init__(
        self, *, input_audio_format: str = "pcm16", output_audio_format: str = "pcm16"
    ) -> None:
        self._lock = threading.RLock()
        self._input_audio_format = "pcm16"
        self._output_audio_format = "pcm16"
        self.input_audio_format = input_audio_format
        self.output_audio_format = output_audio_format
        self.items: List[Item] = []
        self._item_lookup: Dict[str, Item] = {}
        self._responses = ResponseBook()
        self._speech = SpeechQueue()
        self._queued_transcripts: Dict[str, Dict[str, Any]] = {}
        self._queued_input_audio: Optional[np.ndarray] = None
        self._audio_buffers: Dict[str, AudioBuffer] = {}
        self._audio_formats: Dict[str, str] = {}
        self._truncated: Set[str] = set()
        # Event type -> processor function of this class, so routing an event is
        # one dict lookup (functions, not bound methods: no reference cycle
        # keeps a dropped conversation's audio alive until the next GC pass).
        self._processors = _processor_table(type(self))

    # -- configuration -------------------------------------------------------------

    @property
    def input_audio_format(self) -> str:
        """The session's input audio format; sets the rate for speech slicing."""
        return self._input_audio_format

    @input_audio_format.setter
    def input_audio_format(self, value: str) -> None:
        _audio.sample_rate(value)  # raises ConfigurationError for an unknown format
        self._input_audio_format = value

    @property
    def output_audio_format(self) -> str:
        """The session's output audio format; sets audio decoding and truncation rate."""
        return self._output_audio_format

    @output_audio_format.setter
    def output_audio_format(self, value: str) -> None:
        _audio.sample_rate(value)
        self._output_audio_format = value

    @property
    def responses(self) -> List[Dict[str, Any]]:
        """The responses in creation order (a list replaced, never mutated, when one is added)."""
        return self._responses.responses

    # -- public API ----------------------------------------------------------------

    def clear(self) -> None:
        """Forget every item, response and queued piece of audio or transcript."""
        with self._lock:
            self.items = []
            self._item_lookup = {}
            self._responses.clear()
            self._speech.clear()
            self._queued_transcripts = {}
            self._queued_input_audio = None
            self._audio_buffers = {}
            self._audio_formats = {}
            self._truncated = set()

    def queue_input_audio(self, array: Any) -> np.ndarray:
        """Hold input audio for the next user message item that gets created.

        The client calls this when it commits the input buffer itself (turn
        detection off): the user item the server then creates takes this audio
        as ``formatted["audio"]``. ``array`` (the public parameter name) is anything
        :func:`realtime_sync.audio.to_pcm16` accepts; a copy is kept.

        Returns:
            The int16 array that was queued.
        """
        queued = _audio.to_pcm16(array)  # always a new array
        with self._lock:
            self._queued_input_audio = queued
        return queued

    def get_item(self, id: str) -> Optional[Item]:  # noqa: A002 - the public parameter name
        """Return the item with this id, or ``None``. Safe from any thread."""
        with self._lock:
            return self._item_lookup.get(id)

    def get_items(self) -> List[Item]:
        """Return a new list of all items, in order. Safe from any thread."""
        with self._lock:
            return list(self.items)

    def get_response(self, response_id: str) -> Optional[Dict[str, Any]]:
        """Return the response with this id, or ``None``. Safe from any thread."""
        with self._lock:
            return self._responses.get(response_id)

    def process_event(
        self,
        event: Mapping[str, Any],
        input_audio_buffer: Optional[np.ndarray] = None,
        *,
        input_audio_offset: int = 0,
    ) -> ProcessResult:
        """Fold one server event into the conversation.

        Runs on the thread that receives events (the socket thread, in the
        client); it only does bookkeeping and never blocks on user code.

        Args:
            event: the server event (a dict with ``event_id`` and ``type``). It
                is not modified, and nothing in the cache aliases it.
            input_audio_buffer: the input audio the client kept (int16 at the
                input format's rate); used by ``input_audio_buffer.speech_stopped``
                to cut the user's speech out of it.
            input_audio_offset: the index, in the session's whole input stream,
                of ``input_audio_buffer[0]`` (the client keeps only a window).

        Returns:
            ``(item, delta)``: the item the event changed (or ``None``), and what
            changed (``{"text": str}``, ``{"transcript": str}``,
            ``{"arguments": str}`` or ``{"audio": int16 array}``) or ``None``.
            Events the conversation does not track return ``(None, None)``.

        Raises:
            ProtocolError: the event is not a dict, lacks ``event_id`` or
                ``type``, lacks a field it needs, or names a content part that
                does not exist.
            UnknownItemError: the event names an item or response that the
                conversation does not hold.
        """
        # Exact-type checks first (what json.loads makes), the general ones only
        # when they fail: this runs for every delta.
        if event.__class__ is not dict and not isinstance(event, collections.abc.Mapping):
            raise ProtocolError(
                f"a server event must be a JSON object, got {type(event).__name__}"
            )
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise ProtocolError('server event is missing "event_id"', event=dict(event))
        event_type = event.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise ProtocolError('server event is missing "type"', event=dict(event))
        processor = self._processors.get(event_type)
        if processor is None:
            if event_type == "input_audio_buffer.speech_stopped":
                with self._lock:
                    return self._on_speech_stopped(event, input_audio_buffer, input_audio_offset)
            return _NONE
        with self._lock:
            return processor(self, event)

    # -- helpers -------------------------------------------------------------------

    def _item(self, event: Mapping[str, Any], item_id: str) -> Item:
        item = self._item_lookup.get(item_id)
        if item is None:
            raise UnknownItemError(
                f'{event.get("type")}: item "{item_id}" not found', event=dict(event)
            )
        return item

    def _event_item(self, event: Mapping[str, Any]) -> Item:
        item_id = event.get("item_id")
        if item_id.__class__ is str:  # the common case: one lookup
            item = self._item_lookup.get(item_id)
            if item is not None:
                return item
        return self._item(event, _field(event, event, "item_id", str))

    def _part(self, event: Mapping[str, Any], item: Item) -> Dict[str, Any]:
        return find_part(event, item)

    def _refresh_transcript(self, item: Item) -> None:
        refresh_transcript(item, item.get("id") in self._truncated)

    def _append_audio(self, item: Item, chunk: np.ndarray) -> None:
        item_id = item["id"]
        formatted = item["formatted"]
        buffer = self._audio_buffers.get(item_id)
        if buffer is None or buffer.view is not formatted.get("audio"):
            current = formatted.get("audio")
            seed = None if current is None else np.asarray(current, dtype=np.int16)
            buffer = self._audio_buffers[item_id] = AudioBuffer(seed)
        formatted["audio"] = buffer.append(chunk)

    def _finish_audio(self, item: Item) -> None:
        """Release the spare capacity of an item's audio buffer."""
        buffer = self._audio_buffers.pop(item["id"], None)
        formatted = item["formatted"]
        if buffer is not None and formatted.get("audio") is buffer.view:
            formatted["audio"] = buffer.finish()

    def _reconcile(self, item: Item, final: Mapping[str, Any]) -> None:
        reconcile(item, final, item.get("id") in self._truncated)

    # -- processors ----------------------------------------------------------------

    def _on_item_created(self, event: Mapping[str, Any]) -> ProcessResult:
        source = _field(event, event, "item", dict)
        item_id = _field(event, source, "id", str)
        existing = self._item_lookup.get(item_id)
        if existing is not None:
            logger.debug("conversation.item.created repeated for item %s", item_id)
            return existing, None
        item = new_item(source)
        formatted = item["formatted"]
        speech = self._speech.take(item_id)
        if speech is not None and speech.get("audio") is not None:
            formatted["audio"] = speech["audio"]
        parked = self._queued_transcripts.pop(item_id, None)
        if parked is not None:
            apply_parked_transcription(item, parked)
        if item.get("type") == "message" and item.get("role") == "user" and self._queued_input_audio is not None:
            formatted["audio"] = self._queued_input_audio
            self._queued_input_audio = None
        self._item_lookup[item_id] = item
        self.items = self.items + [item]
        return item, None

    def _on_item_truncated(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        audio_end_ms = _milliseconds(event, "audio_end_ms")
        if audio_end_ms < 0:
            raise ProtocolError(
                f"conversation.item.truncated: audio_end_ms must be >= 0, got {audio_end_ms}",
                event=dict(event),
            )
        audio_format = self._audio_formats.get(item["id"], self._output_audio_format)
        end = math.floor(audio_end_ms * _audio.sample_rate(audio_format) / 1000)
        formatted = item["formatted"]
        self._audio_buffers.pop(item["id"], None)
        formatted["audio"] = np.array(formatted["audio"][:end], dtype=np.int16, copy=True)
        formatted["transcript"] = ""
        self._truncated.add(item["id"])
        return item, None

    def _on_item_deleted(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        item_id = item["id"]
        del self._item_lookup[item_id]
        self.items = [other for other in self.items if other is not item]
        self._audio_buffers.pop(item_id, None)
        self._audio_formats.pop(item_id, None)
        self._truncated.discard(item_id)
        return item, None

    def _on_transcription_completed(self, event: Mapping[str, Any]) -> ProcessResult:
        item_id = _field(event, event, "item_id", str)
        index = _field(event, event, "content_index", int)
        transcript = _field(event, event, "transcript", str, required=False) or ""
        # One space marks an empty transcription, so it differs from "none yet".
        shown = transcript or " "
        item = self._item_lookup.get(item_id)
        if item is None:
            # In server-VAD mode the transcription can beat conversation.item.created.
            parked = _park(self._queued_transcripts, item_id)
            parked.update(transcript=transcript, formatted=shown, content_index=index)
            return _NONE
        part = self._part(event, item)
        part["transcript"] = transcript
        item["formatted"]["transcript"] = shown
        return item, {"transcript": transcript}

    def _on_transcription_failed(self, event: Mapping[str, Any]) -> ProcessResult:
        item_id = _field(event, event, "item_id", str)
        error = copy.deepcopy(_field(event, event, "error", dict, required=False) or {})
        item = self._item_lookup.get(item_id)
        if item is None:
            _park(self._queued_transcripts, item_id)["error"] = error
            return _NONE
        if event.get("content_index") is not None:
            self._part(event, item)
        item["formatted"]["transcript_error"] = error
        return item, None

    def _on_speech_started(self, event: Mapping[str, Any]) -> ProcessResult:
        self._speech.started(event)
        return _NONE

    def _on_speech_stopped(
        self,
        event: Mapping[str, Any],
        input_audio_buffer: Optional[np.ndarray],
        input_audio_offset: int,
    ) -> ProcessResult:
        self._speech.stopped(event, input_audio_buffer, input_audio_offset, self._input_audio_format)
        return _NONE

    def _on_response_created(self, event: Mapping[str, Any]) -> ProcessResult:
        self._responses.created(event)
        return _NONE

    def _on_output_item_added(self, event: Mapping[str, Any]) -> ProcessResult:
        self._responses.output_item_added(event)
        return _NONE

    def _on_output_item_done(self, event: Mapping[str, Any]) -> ProcessResult:
        final = _field(event, event, "item", dict)
        item = self._item(event, _field(event, final, "id", str))
        self._reconcile(item, final)
        self._finish_audio(item)
        return item, None

    def _on_response_done(self, event: Mapping[str, Any]) -> ProcessResult:
        response, final_output = self._responses.done(event)
        for entry in final_output:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                item = self._item_lookup.get(entry["id"])
                if item is not None:
                    self._reconcile(item, entry)
        # A cancelled response can end here with no audio.done / output_item.done.
        for item_id in response["output"]:
            item = self._item_lookup.get(item_id)
            if item is not None:
                self._finish_audio(item)
        return _NONE

    def _on_content_part_added(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        part = _field(event, event, "part", dict)
        content = item.get("content")
        if content is None:
            content = item["content"] = []
        if not isinstance(content, list):
            raise ProtocolError(
                f'response.content_part.added: item "{item["id"]}" has no content list',
                event=dict(event),
            )
        index = _field(event, event, "content_index", int, required=False)
        if index is None or index == len(content):
            content.append(copy.deepcopy(dict(part)))
        elif index > len(content) or index < 0:
            raise ProtocolError(
                f"response.content_part.added: content_index {index} is out of range for "
                f'item "{item["id"]}", which has {len(content)} content part(s)',
                event=dict(event),
            )
        # index < len(content): the part arrived with the item already.
        return item, None

    def _on_content_part_done(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        part = self._part(event, item)
        final = _field(event, event, "part", dict)
        for key in ("text", "transcript"):
            if isinstance(final.get(key), str):
                part[key] = final[key]
        refresh_text(item)
        self._refresh_transcript(item)
        return item, None

    def _on_text_delta(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        part = self._part(event, item)
        delta = event.get("delta")
        if delta.__class__ is not str:
            delta = _field(event, event, "delta", str)
        part["text"] = _text(part.get("text")) + delta
        item["formatted"]["text"] += delta
        return item, {"text": delta}

    def _on_text_done(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        part = self._part(event, item)
        part["text"] = _field(event, event, "text", str)
        refresh_text(item)
        return item, None

    def _on_transcript_delta(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        part = self._part(event, item)
        delta = event.get("delta")
        if delta.__class__ is not str:
            delta = _field(event, event, "delta", str)
        part["transcript"] = _text(part.get("transcript")) + delta
        item["formatted"]["transcript"] += delta
        return item, {"transcript": delta}

    def _on_transcript_done(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        part = self._part(event, item)
        part["transcript"] = _field(event, event, "transcript", str)
        self._refresh_transcript(item)
        return item, None

    def _on_audio_delta(self, event: Mapping[str, Any]) -> ProcessResult:
        # The hottest path of all (one event per 20-100 ms of speech): the
        # json.loads shape is checked inline; anything else goes through the
        # helpers, which raise the errors.
        item_id = event.get("item_id")
        item = self._item_lookup.get(item_id) if item_id.__class__ is str else None
        if item is None:
            item = self._event_item(event)
        index = event.get("content_index")
        if index is not None:
            content = item.get("content")
            if not (
                index.__class__ is int
                and content.__class__ is list
                and 0 <= index < len(content)
                and content[index].__class__ is dict
            ):
                self._part(event, item)
        payload = event.get("delta")
        if payload.__class__ is not str:
            payload = _field(event, event, "delta", str)
        item_id = item["id"]
        audio_format = self._audio_formats.get(item_id)
        if audio_format is None:
            audio_format = self._audio_formats[item_id] = self._output_audio_format
        try:
            samples = _audio.decode_audio(payload, audio_format)
        except ValueError as exc:  # binascii.Error is a ValueError
            raise ProtocolError(
                f"response.audio.delta: audio payload is not valid base64 {audio_format}: {exc}",
                event=dict(event),
            ) from exc
        formatted = item["formatted"]
        buffer = self._audio_buffers.get(item_id)
        if buffer is not None and buffer.view is formatted.get("audio"):
            formatted["audio"] = buffer.append(samples)
        else:
            self._append_audio(item, samples)
        return item, {"audio": samples}

    def _on_audio_done(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        self._finish_audio(item)
        return item, None

    def _on_arguments_delta(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        delta = event.get("delta")
        if delta.__class__ is not str:
            delta = _field(event, event, "delta", str)
        tool = tool_of(event, item)
        item["arguments"] = _text(item.get("arguments")) + delta
        tool["arguments"] += delta
        return item, {"arguments": delta}

    def _on_arguments_done(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        arguments = _field(event, event, "arguments", str)
        tool = tool_of(event, item)
        item["arguments"] = arguments
        tool["arguments"] = arguments
        return item, None


# Event type -> Conversation method. input_audio_buffer.speech_stopped is routed
# in process_event because it also takes the input audio buffer.
_PROCESSORS: Dict[str, str] = {
    "conversation.item.created": "_on_item_created",
    "conversation.item.truncated": "_on_item_truncated",
    "conversation.item.deleted": "_on_item_deleted",
    "conversation.item.input_audio_transcription.completed": "_on_transcription_completed",
    "conversation.item.input_audio_transcription.failed": "_on_transcription_failed",
    "input_audio_buffer.speech_started": "_on_speech_started",
    "response.created": "_on_response_created",
    "response.done": "_on_response_done",
    "response.output_item.added": "_on_output_item_added",
    "response.output_item.done": "_on_output_item_done",
    "response.content_part.added": "_on_content_part_added",
    "response.content_part.done": "_on_content_part_done",
    "response.text.delta": "_on_text_delta",
    "response.text.done": "_on_text_done",
    "response.audio_transcript.delta": "_on_transcript_delta",
    "response.audio_transcript.done": "_on_transcript_done",
    "response.audio.delta": "_on_audio_delta",
    "response.audio.done": "_on_audio_done",
    "response.function_call_arguments.delta": "_on_arguments_delta",
    "response.function_call_arguments.done": "_on_arguments_done",
}


_Processor = Callable[[Conversation, Mapping[str, Any]], ProcessResult]


def _processor_table(cls: Type[Conversation]) -> Dict[str, _Processor]:
    """Event type -> processor function for ``cls`` (subclass overrides included), cached on the class."""
    table: Optional[Dict[str, _Processor]] = cls.__dict__.get("_processor_table")
    if table is None:
        table = {event_type: getattr(cls, name) for event_type, name in _PROCESSORS.items()}
        setattr(cls, "_processor_table", table)
    return table
