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
* MCP items: ``"tool"`` (``{"type": "mcp_call"`` or ``"mcp_approval_request"``,
  ``"server_label", "name", "arguments"}``, an MCP call's also
  ``"approval_request_id"``), ``"output"`` and ``"error"`` (MCP calls),
  ``"approval_request_id"`` (approval requests: the id to answer;
  approval responses: the request answered), ``"approve"`` / ``"reason"``
  (approval responses), ``"tool"`` (``{"type": "mcp_list_tools",
  "server_label"}``) and ``"tools"`` (tool lists).

Every delta costs time in proportion to the delta, not to the item: audio
grows in place (:mod:`realtime_sync._conversation_audio`), text, transcripts
and arguments are appended in place (:mod:`realtime_sync._conversation_items`),
and adding or deleting an item costs O(1). Each ``formatted`` value is a plain
``str`` or int16 array after every delta.

Out-of-band responses (``conversation: "none"``) and any response output that
never joins the conversation are kept on the response record:
``get_response(id)["output_items"]`` holds the response's output items, with
``formatted`` fields, whether or not they are in :attr:`Conversation.items`.

Layout
------
:class:`Conversation` holds the state and routes each event (the table is in
``_conversation_routes``); the work is done by small parts it owns or calls:
``_conversation_items`` (building items, growing text, reconciling final
items), ``_conversation_audio`` (audio buffers), ``_conversation_responses``
(responses and their detached output items), ``_conversation_speech``
(speech boundaries and input slicing), ``_conversation_transcripts`` (input
transcription, parked until its item exists) and ``_conversation_fields``
(field checks that turn malformed values into ProtocolError).

Threads
-------
:meth:`Conversation.process_event` normally runs on the socket thread, while
user threads call :meth:`~Conversation.get_items` / :meth:`~Conversation.get_item`.
All state changes happen under one lock. A list obtained from ``items`` or
``responses`` never changes under the reader's feet (a new one is built, on
the next read, after a change). The item dicts themselves are updated in
place as deltas arrive (that is the point of the cache); a growing value is
replaced by the longer one only once that is complete, so a thread that reads
an item without the lock never sees a value shorter than it was (but for a
text past a million characters, see ``_conversation_items``).
"""

from __future__ import annotations

import collections.abc
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from . import audio as _audio
from ._conversation_audio import AudioStore
from ._conversation_fields import field as _field
from ._conversation_fields import milliseconds as _milliseconds
from ._conversation_fields import samples_at
from ._conversation_items import (
    Texts,
    add_part,
    find_part,
    new_item,
    reconcile,
    refresh_text,
    refresh_transcript,
    tool_of,
)
from ._conversation_responses import ResponseBook
from ._conversation_routes import HANDLED_EVENTS, processor_table
from ._conversation_speech import SpeechQueue
from ._conversation_transcripts import TranscriptQueue
from .errors import ProtocolError, UnknownItemError

if TYPE_CHECKING:
    import numpy as np
else:
    from ._lazy import numpy as np  # imported when audio is first touched

__all__ = ["Conversation", "HANDLED_EVENTS"]

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
        items: the conversation's items in creation order.
        responses: the responses in creation order; each is the server's
            response dict with ``"output"`` as a list of item ids,
            ``"output_items"`` the output items themselves, and the final
            ``status``, ``status_details`` and ``usage`` once ``response.done``
            arrived.
    """

    def __init__(self, *, input_audio_format: str = "pcm16", output_audio_format: str = "pcm16") -> None:
        self._lock = threading.RLock()
        self._input_audio_format = "pcm16"
        self._output_audio_format = "pcm16"
        self.input_audio_format = input_audio_format
        self.output_audio_format = output_audio_format
        self._item_lookup: Dict[str, Item] = {}  # in creation order
        self._items_snapshot: Optional[List[Item]] = []
        self._responses = ResponseBook()
        self._speech = SpeechQueue()
        self._audio = AudioStore()
        self._texts = Texts()
        self._transcripts = TranscriptQueue(self._texts)
        self._queued_input_audio: Optional[np.ndarray] = None
        self._truncated: Set[str] = set()
        self._completions: Set[str] = set()
        # Event type -> processor function of this class, so routing an event is
        # one dict lookup (functions, not bound methods: no reference cycle
        # keeps a dropped conversation's audio alive until the next GC pass).
        self._processors: Dict[str, Callable[[Any, Mapping[str, Any]], ProcessResult]] = processor_table(type(self))

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
    def items(self) -> List[Item]:
        """The items in creation order: a list that is never changed once returned."""
        with self._lock:
            snapshot = self._items_snapshot
            if snapshot is None:
                snapshot = self._items_snapshot = list(self._item_lookup.values())
            return snapshot

    @property
    def responses(self) -> List[Dict[str, Any]]:
        """The responses in creation order: a list that is never changed once returned."""
        with self._lock:
            return self._responses.responses

    # -- public API ----------------------------------------------------------------

    def clear(self) -> None:
        """Forget every item, response and queued piece of audio or transcript."""
        with self._lock:
            self._item_lookup = {}
            self._items_snapshot = []
            self._responses.clear()
            self._speech.clear()
            self._audio.clear()
            self._transcripts.clear()
            self._texts = Texts()  # the spares of the fields grown last go with their items
            self._queued_input_audio = None
            self._truncated = set()
            self._completions = set()

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
            return list(self._item_lookup.values())

    def get_response(self, response_id: str) -> Optional[Dict[str, Any]]:
        """Return the response with this id, or ``None``. Safe from any thread.

        Its ``"output_items"`` holds the response's output items (for an
        out-of-band response, the only place they are kept).
        """
        with self._lock:
            return self._responses.get(response_id)

    def speech_start_ms(self, item_id: str) -> Optional[float]:
        """The ``audio_start_ms`` of ``input_audio_buffer.speech_started`` for this item.

        A finite number (an event with NaN or infinity was refused with a
        :class:`~realtime_sync.errors.ProtocolError`), or ``None`` if none was
        seen or the item was created since. Safe from any thread.
        """
        with self._lock:
            return self._speech.start_ms(item_id)

    def claim_completion(self, item_id: str) -> bool:
        """True once per item: the first call after its status became ``"completed"``.

        An item is completed by ``conversation.item.created`` (user messages,
        function outputs), ``response.output_item.done`` or (GA)
        ``conversation.item.done``, often by two of them; the client calls this
        before dispatching ``conversation.item.completed`` so that the
        dispatch happens exactly once. Safe from any thread.
        """
        with self._lock:
            item = self._item_lookup.get(item_id) or self._responses.detached(item_id)
            if item is None or item.get("status") != "completed" or item_id in self._completions:
                return False
            self._completions.add(item_id)
            return True

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
        :data:`HANDLED_EVENTS` lists the event types it folds in (beta model
        names, plus GA's ``conversation.item.done``, input transcription
        deltas and MCP events); others return ``(None, None)``.

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
            The item may be an output item of a response that is not in
            :attr:`items` (an out-of-band response).

        Raises:
            ProtocolError: the event is not a dict, lacks ``event_id`` or
                ``type``, lacks a field it needs, has a value of the wrong type
                or out of range (NaN, infinity...), or names a content part
                that does not exist.
            UnknownItemError: the event names an item or response that the
                conversation does not hold.
        """
        # Exact-type checks first (what json.loads makes), the general ones only
        # when they fail: this runs for every delta.
        if event.__class__ is not dict and not isinstance(event, collections.abc.Mapping):
            raise ProtocolError(f"a server event must be a JSON object, got {type(event).__name__}")
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
            try:
                return processor(self, event)
            except RecursionError:  # copying a value nested hundreds deep
                raise ProtocolError(f"{event_type}: a value is nested too deeply", event=dict(event)) from None

    # -- helpers -------------------------------------------------------------------

    def _item(self, event: Mapping[str, Any], item_id: str) -> Item:
        item = self._item_lookup.get(item_id) or self._responses.detached(item_id)
        if item is None:
            raise UnknownItemError(f'{event.get("type")}: item "{item_id}" not found', event=dict(event))
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

    def _finish_audio(self, item: Item) -> None:
        """The item's audio is complete: trim its buffer."""
        self._audio.finish(item["id"], item["formatted"])

    def _reconcile(self, item: Item, final: Mapping[str, Any]) -> None:
        reconcile(item, final, item.get("id") in self._truncated)

    def _settle(self, item: Item, final: Mapping[str, Any]) -> None:
        """The item is final: an item still ``in_progress`` (MCP items carry no status) is done."""
        if item.get("status") in (None, "in_progress"):
            item["status"] = "incomplete" if final.get("error") else "completed"
        self._finish_audio(item)

    def _delta(self, event: Mapping[str, Any]) -> str:
        delta = event.get("delta")
        if delta.__class__ is not str:
            delta = _field(event, event, "delta", str)
        return delta

    def _add_item(self, source: Mapping[str, Any]) -> Item:
        """Store a new item built from the server's ``source`` (its id is new)."""
        item_id = source["id"]
        item = new_item(source)
        formatted = item["formatted"]
        speech = self._speech.take(item_id)
        if speech is not None and speech.get("audio") is not None:
            formatted["audio"] = speech["audio"]
        self._transcripts.apply(item)
        if item.get("type") == "message" and item.get("role") == "user" and self._queued_input_audio is not None:
            formatted["audio"] = self._queued_input_audio
            self._queued_input_audio = None
        self._item_lookup[item_id] = item
        self._items_snapshot = None
        self._responses.adopt(item)
        return item

    # -- processors ----------------------------------------------------------------

    def _on_item_created(self, event: Mapping[str, Any]) -> ProcessResult:
        source = _field(event, event, "item", dict)
        item_id = _field(event, source, "id", str)
        existing = self._item_lookup.get(item_id)
        if existing is not None:
            logger.debug("conversation.item.created repeated for item %s", item_id)
            return existing, None
        return self._add_item(source), None

    def _on_item_done(self, event: Mapping[str, Any]) -> ProcessResult:
        # GA: the item is final. One the conversation missed is added first.
        final = _field(event, event, "item", dict)
        item_id = _field(event, final, "id", str)
        item = self._item_lookup.get(item_id) or self._add_item(final)
        self._reconcile(item, final)
        self._settle(item, final)
        return item, None

    def _on_item_truncated(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        audio_end_ms = _milliseconds(event, "audio_end_ms")
        if audio_end_ms < 0:
            raise ProtocolError(f"conversation.item.truncated: audio_end_ms must be >= 0, got {audio_end_ms}",
                                event=dict(event))
        item_id = item["id"]
        rate = _audio.sample_rate(self._audio.formats.get(item_id, self._output_audio_format))
        self._audio.truncate(item_id, item["formatted"], samples_at(audio_end_ms, rate))
        item["formatted"]["transcript"] = ""
        self._truncated.add(item_id)
        return item, None

    def _on_item_deleted(self, event: Mapping[str, Any]) -> ProcessResult:
        item_id = _field(event, event, "item_id", str)
        item = self._item_lookup.pop(item_id, None)
        if item is None:
            raise UnknownItemError(f'conversation.item.deleted: item "{item_id}" not found', event=dict(event))
        self._items_snapshot = None
        self._audio.forget(item_id)
        self._truncated.discard(item_id)
        self._completions.discard(item_id)
        return item, None

    def _on_transcription_delta(self, event: Mapping[str, Any]) -> ProcessResult:
        # GA streams the user's words while the input is transcribed.
        item = self._item_lookup.get(_field(event, event, "item_id", str))
        delta = self._transcripts.delta(event, item, self._delta(event))
        return (item, delta) if item is not None else _NONE

    def _on_transcription_completed(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._item_lookup.get(_field(event, event, "item_id", str))
        delta = self._transcripts.completed(event, item)
        return (item, delta) if item is not None else _NONE

    def _on_transcription_failed(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._item_lookup.get(_field(event, event, "item_id", str))
        self._transcripts.failed(event, item)
        return (item, None) if item is not None else _NONE

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
        source = event.get("item")
        item_id = source.get("id") if isinstance(source, dict) else None
        known = self._item_lookup.get(item_id) if isinstance(item_id, str) else None
        self._responses.output_item_added(event, known)
        return _NONE

    def _on_output_item_done(self, event: Mapping[str, Any]) -> ProcessResult:
        final = _field(event, event, "item", dict)
        item = self._item(event, _field(event, final, "id", str))
        self._reconcile(item, final)
        self._settle(item, final)
        return item, None

    def _on_response_done(self, event: Mapping[str, Any]) -> ProcessResult:
        response, final_output = self._responses.done(event)
        for entry in final_output:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                item = self._item_lookup.get(entry["id"]) or self._responses.detached(entry["id"])
                if item is None:  # never announced (no output_item.added): kept on the response
                    self._responses.attach_final(response, entry)
                else:
                    self._reconcile(item, entry)
        # A cancelled response can end here with no audio.done / output_item.done.
        for item in response["output_items"]:
            self._finish_audio(item)
        for item_id in response["output"]:
            item = self._item_lookup.get(item_id)
            if item is not None:
                self._finish_audio(item)
        return _NONE

    def _on_content_part_added(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        add_part(event, item)
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
        delta = self._delta(event)
        self._texts.grow_pair(part, "text", item["formatted"], "text", delta)
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
        delta = self._delta(event)
        self._texts.grow_pair(part, "transcript", item["formatted"], "transcript", delta)
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
        store = self._audio
        audio_format = store.formats.get(item_id) or store.format_of(item_id, self._output_audio_format)
        samples = store.decode(event, payload, audio_format)
        formatted = item["formatted"]
        buffer = store.buffers.get(item_id)
        if buffer is not None and buffer.view is formatted.get("audio"):
            buffer.append(samples, formatted)
        else:
            store.append(item_id, formatted, samples)
        return item, {"audio": samples}

    def _on_audio_done(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        self._finish_audio(item)
        return item, None

    def _on_arguments_delta(self, event: Mapping[str, Any]) -> ProcessResult:
        # Function calls and (GA) MCP calls: response.mcp_call_arguments.delta.
        item = self._event_item(event)
        delta = self._delta(event)
        self._texts.grow_pair(item, "arguments", tool_of(event, item), "arguments", delta)
        return item, {"arguments": delta}

    def _on_arguments_done(self, event: Mapping[str, Any]) -> ProcessResult:
        item = self._event_item(event)
        arguments = _field(event, event, "arguments", str)
        tool = tool_of(event, item)
        item["arguments"] = arguments
        tool["arguments"] = arguments
        return item, None

    def _on_mcp_status(self, event: Mapping[str, Any]) -> ProcessResult:
        # response.mcp_call.* and mcp_list_tools.*: in_progress, completed or failed.
        item = self._event_item(event)
        outcome = str(event["type"]).rsplit(".", 1)[-1]
        item["status"] = {"failed": "incomplete"}.get(outcome, outcome)
        return item, None
