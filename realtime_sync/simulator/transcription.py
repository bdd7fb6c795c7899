"""Transcription sessions of the simulator (GA ``session.type: "transcription"``).

A client opens one by connecting with ``?intent=transcription`` (no model), as
on OpenAI's live service: ``session.created`` then carries a transcription
session, and ``session.update`` must say ``"type": "transcription"``. Such a
session only listens: audio appended to the input buffer is cut into turns by
the energy VAD (or committed by the client), each turn becomes a user item
(``input_audio_buffer.committed``, ``conversation.item.added`` / ``.done``)
and is transcribed: ``conversation.item.input_audio_transcription.delta``
events, word by word, then ``.completed`` (or ``.failed`` when the
simulator's transcriber returns None). With ``include:
["item.input_audio_transcription.logprobs"]`` the deltas and the completion
carry ``logprobs``. Responses and conversation items are refused.

The session keeps the simulator's internal session form (so the rest of the
session code runs unchanged) with ``type: "transcription"``; this module
validates GA transcription ``session.update`` payloads, renders the session
as the live service does (``object: "realtime.transcription_session"``), and
builds the transcription events. Pure functions, no threads.
"""

from __future__ import annotations

import copy
import re
import zlib
from typing import Any, Dict, List, Mapping, Optional

from .checks import ClientError, check_object, check_string, invalid_type, invalid_value, missing, unknown
from .ga import apply_audio_input, audio_input_to_ga, default_ga_session

__all__ = [
    "TRANSCRIPTION_MODELS",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "LOGPROBS",
    "default_transcription_session",
    "is_transcription",
    "apply_transcription_update",
    "transcription_session_to_ga",
    "check_transcription_event",
    "transcription_events",
]

#: The models a transcription session accepts (``audio.input.transcription.model``).
TRANSCRIPTION_MODELS = (
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe-diarize",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-realtime-whisper",
)
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-transcribe"
#: The one value ``include`` takes.
LOGPROBS = "item.input_audio_transcription.logprobs"

_DEFAULT_TURN_DETECTION: Dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
}
# client events a transcription session has no use for
_REFUSED_EVENTS = (
    "response.create",
    "response.cancel",
    "conversation.item.create",
    "conversation.item.truncate",
    "output_audio_buffer.clear",
)
_WORDS = re.compile(r"\s*\S+\s*")
_TRANSCRIPTION_KEYS = ("model", "language", "prompt", "delay", "keywords", "languages")


def is_transcription(session: Mapping[str, Any]) -> bool:
    """Whether an internal session is a transcription session."""
    return session.get("type") == "transcription"


def default_transcription_session(expires_at: int) -> Dict[str, Any]:
    """The internal form of a new transcription session (``?intent=transcription``)."""
    session = default_ga_session(DEFAULT_TRANSCRIPTION_MODEL, expires_at)
    session.update(
        type="transcription",
        input_audio_transcription={"model": DEFAULT_TRANSCRIPTION_MODEL, "language": None, "prompt": ""},
        turn_detection=dict(_DEFAULT_TURN_DETECTION),
        modalities=["text"],
    )
    return session


def transcription_session_to_ga(session: Mapping[str, Any]) -> Dict[str, Any]:
    """The GA transcription session object of ``session.created`` / ``session.updated``."""
    return {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": session["id"],
        "expires_at": session.get("expires_at"),
        "audio": {"input": audio_input_to_ga(session)},
        "include": copy.deepcopy(session.get("include")),
    }


def _transcription(param: str, value: Any, current: Any) -> Optional[Dict[str, Any]]:
    """A transcription config: checked, merged into the current one."""
    if value is None:
        return None
    value = check_object(param, value, _TRANSCRIPTION_KEYS)
    merged = dict(current) if isinstance(current, dict) else {"model": DEFAULT_TRANSCRIPTION_MODEL}
    for key, entry in value.items():
        where = f"{param}.{key}"
        if key in ("keywords", "languages"):
            if entry is not None:
                if not isinstance(entry, list):
                    raise invalid_type(where, "an array", entry)
                for index, word in enumerate(entry):
                    check_string(f"{where}[{index}]", word)
        elif entry is not None:
            check_string(where, entry)
        if key == "model" and entry not in TRANSCRIPTION_MODELS:
            raise invalid_value(where, entry, TRANSCRIPTION_MODELS)
        if key == "delay" and entry is not None and entry not in ("minimal", "low", "medium", "high", "xhigh"):
            raise invalid_value(where, entry, ("minimal", "low", "medium", "high", "xhigh"))
        merged[key] = copy.deepcopy(entry)
    return merged


def _apply_input(new: Dict[str, Any], old: Mapping[str, Any], value: Any) -> None:
    apply_audio_input(new, old, value, _transcription)
    transcription = new.get("input_audio_transcription") or {}
    if transcription.get("model") == "gpt-realtime-whisper" and new.get("turn_detection") is not None:
        raise ClientError(
            "invalid_value",
            "Turn detection is not supported with 'gpt-realtime-whisper': set 'session.audio.input.turn_detection' "
            "to null and commit the input audio buffer yourself.",
            "session.audio.input.turn_detection",
        )


def apply_transcription_update(session: Mapping[str, Any], update: Any) -> Dict[str, Any]:
    """A new internal session: a GA transcription ``session.update`` payload merged into ``session``.

    Raises:
        ClientError: any invalid value, named by its GA path (``session.audio.input.transcription.model``);
            ``session`` is left untouched.
    """
    if not isinstance(update, dict):
        raise invalid_type("session", "an object", update)
    if "type" not in update:
        raise missing("session.type")
    if update["type"] != "transcription":
        raise ClientError(
            "invalid_value",
            f"Invalid value: '{update['type']}'. Supported values are: 'transcription'. This connection was "
            "opened with ?intent=transcription: it is a transcription session.",
            "session.type",
        )
    new = copy.deepcopy(dict(session))
    for key, value in update.items():
        param = f"session.{key}"
        if key == "type":
            continue
        if key == "audio":
            audio = check_object(param, value, ("input",))
            if "input" in audio:
                _apply_input(new, session, audio["input"])
        elif key == "include":
            if value is not None:
                if not isinstance(value, list):
                    raise invalid_type(param, "an array", value)
                for index, entry in enumerate(value):
                    if entry != LOGPROBS:
                        raise invalid_value(f"{param}[{index}]", entry, (LOGPROBS,))
            new["include"] = copy.deepcopy(value)
        else:
            raise unknown(param)
    return new


def check_transcription_event(event_type: str) -> None:
    """Refuse a client event a transcription session does not serve.

    Raises:
        ClientError: ``invalid_request_error`` naming the event type.
    """
    if event_type in _REFUSED_EVENTS:
        raise ClientError(
            "invalid_value",
            f"'{event_type}' is not supported in a transcription session: it only transcribes input audio. "
            "Send input_audio_buffer.append (and input_audio_buffer.commit without turn detection).",
            "type",
        )


def _logprobs(text: str) -> List[Dict[str, Any]]:
    """Deterministic stand-in log probabilities, one per token of ``text``."""
    entries = []
    for token in re.findall(r"\s*\S+", text):
        spread = zlib.crc32(token.encode("utf-8")) % 1000 / 1000.0
        entries.append({"token": token, "bytes": list(token.encode("utf-8")), "logprob": round(-0.01 - 0.5 * spread, 4)})
    return entries


def _usage(model: str, transcript: str, seconds: float) -> Dict[str, Any]:
    """Usage as the live service reports it: by duration for whisper-1, by tokens otherwise."""
    if model == "whisper-1":
        return {"type": "duration", "seconds": round(seconds, 3)}
    audio_tokens = max(1, int(seconds * 10))
    output_tokens = len(_WORDS.findall(transcript))
    return {
        "type": "tokens",
        "input_tokens": audio_tokens,
        "output_tokens": output_tokens,
        "total_tokens": audio_tokens + output_tokens,
        "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0},
    }


def transcription_events(
    session: Mapping[str, Any], item_id: str, transcript: Optional[str], seconds: float
) -> List[Dict[str, Any]]:
    """The events that transcribe one committed turn, in order (internal form).

    ``transcript`` None: one ``...input_audio_transcription.failed``. Otherwise
    a delta per word (with ``logprobs`` when the session includes them), then
    ``...completed`` with the whole text and the usage. A realtime session
    gets ``duration`` usage; a transcription session the model's kind.
    """
    if transcript is None:
        return [
            {
                "type": "conversation.item.input_audio_transcription.failed",
                "item_id": item_id,
                "content_index": 0,
                "error": {
                    "type": "transcription_error",
                    "code": "audio_unintelligible",
                    "message": "The audio could not be transcribed.",
                    "param": None,
                },
            }
        ]
    with_logprobs = LOGPROBS in (session.get("include") or [])
    events: List[Dict[str, Any]] = []
    for word in _WORDS.findall(transcript):
        delta: Dict[str, Any] = {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": item_id,
            "content_index": 0,
            "delta": word,
        }
        if with_logprobs:
            delta["logprobs"] = _logprobs(word)
        events.append(delta)
    model = str((session.get("input_audio_transcription") or {}).get("model") or "")
    usage = (
        _usage(model, transcript, seconds)
        if is_transcription(session)
        else {"type": "duration", "seconds": round(seconds, 3)}
    )
    completed: Dict[str, Any] = {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": item_id,
        "content_index": 0,
        "transcript": transcript,
        "usage": usage,
    }
    if with_logprobs:
        completed["logprobs"] = _logprobs(transcript)
    events.append(completed)
    return events
