"""Which Conversation method folds in which server event.

:class:`~realtime_sync.conversation.Conversation` routes an event with one
dict lookup in a table built from :data:`_PROCESSORS` (method names, so a
subclass that overrides a processor is routed to its override).
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Optional

__all__ = ["HANDLED_EVENTS", "processor_table"]

# Event type -> Conversation method. input_audio_buffer.speech_stopped is routed
# in process_event because it also takes the input audio buffer.
_PROCESSORS: Dict[str, str] = {
    "conversation.item.created": "_on_item_created",
    "conversation.item.done": "_on_item_done",
    "conversation.item.truncated": "_on_item_truncated",
    "conversation.item.deleted": "_on_item_deleted",
    "conversation.item.input_audio_transcription.delta": "_on_transcription_delta",
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
    "response.mcp_call_arguments.delta": "_on_arguments_delta",
    "response.mcp_call_arguments.done": "_on_arguments_done",
    **{f"{prefix}.{outcome}": "_on_mcp_status" for prefix in ("response.mcp_call", "mcp_list_tools")
       for outcome in ("in_progress", "completed", "failed")},
}

#: Every server event type ``Conversation.process_event`` folds in (in the
#: beta model's names, as :func:`realtime_sync.dialects.server_from_wire` gives
#: them); the client routes these to the conversation.
HANDLED_EVENTS: FrozenSet[str] = frozenset(_PROCESSORS) | {"input_audio_buffer.speech_stopped"}



def processor_table(cls: type) -> Dict[str, Any]:
    """Event type -> processor function of ``cls`` (subclass overrides included), cached on the class.

    Functions, not bound methods: the conversation holds this table, and
    bound methods would make a reference cycle that keeps a dropped
    conversation's audio alive until the next garbage collection.
    """
    table: Optional[Dict[str, Any]] = cls.__dict__.get("_processor_table")
    if table is None:
        table = {event_type: getattr(cls, name) for event_type, name in _PROCESSORS.items()}
        setattr(cls, "_processor_table", table)
    return table
