"""Session settings as the client keeps them: merging updates, reading the effective session.

The client stores its session config in one form, the reference's flat keys
(``voice``, ``turn_detection``, ``input_audio_format``...), whatever the wire
dialect; the socket layer translates it for GA (``session_to_ga``). Users may
write either form, copied from either documentation:
:func:`merge_session_update` folds an update of either form into the stored
config, so that a value the caller gave is never shadowed by a stored default
spelled the other way, and returns only what changed (what to send).
:func:`effective_session` reads what a server's ``session`` object (of either
dialect) says about the settings the client acts on.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Dict, Mapping, Tuple

from ._dialect_session import session_from_ga
from ._dialect_values import audio_format_from_ga

__all__ = ["SESSION_KEYS", "merge_session_update", "effective_session"]

logger = logging.getLogger(__name__)

#: The session keys :func:`merge_session_update` knows, in the stored (flat)
#: form: the reference's beta keys and the GA-only ones. Any other key is
#: passed on with a warning (the server will say what it thinks of it).
SESSION_KEYS = frozenset({
    # both dialects (flat spelling)
    "modalities", "instructions", "voice", "speed", "input_audio_format", "output_audio_format",
    "input_audio_transcription", "input_audio_noise_reduction", "turn_detection", "tools", "tool_choice",
    "temperature", "max_response_output_tokens", "tracing", "model",
    # GA only
    "include", "prompt", "truncation", "reasoning", "parallel_tool_calls", "audio",
})


def _merge_audio(stored: Any, update: Mapping[str, Any]) -> Dict[str, Any]:
    """Stored GA ``audio`` leftovers (settings with no flat key) updated by ``update``, per direction."""
    merged: Dict[str, Any] = copy.deepcopy(dict(stored)) if isinstance(stored, dict) else {}
    for direction, section in update.items():
        old = merged.get(direction)
        if isinstance(section, dict) and isinstance(old, dict):
            merged[direction] = {**old, **copy.deepcopy(section)}
        else:
            merged[direction] = copy.deepcopy(section)
    return merged


def merge_session_update(
    stored: Mapping[str, Any], update: Mapping[str, Any]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Fold a user's session update into the stored config; return ``(merged, changed)``.

    ``update`` may use the reference's flat keys (``voice="cedar"``), GA-native
    keys (``audio={"output": {"voice": "cedar"}}``, ``output_modalities``,
    ``max_output_tokens``, ``type: "realtime"``...) or both; it is first
    brought to the flat form (GA-native wins where one setting is given both
    ways), so it replaces the stored value of each setting it names, whatever
    spelling the stored config used. A turn detection without ``type`` stays
    as given (on the GA wire it becomes ``server_vad``, and
    :func:`effective_session` reads it so). Nested objects (``turn_detection``,
    ``input_audio_transcription``...) are replaced whole, as the server does;
    GA ``audio`` settings with no flat key are merged per direction. A
    ``None`` the caller gave is kept (it clears the setting).

    Args:
        stored: the session config kept so far (flat form; not modified).
        update: the caller's update (not modified).

    Returns:
        ``merged``: a new stored config (flat form); ``changed``: the settings
        of the update whose value differs from the stored one (flat form, what
        a ``session.update`` needs to carry; empty when nothing changed).
    """
    flat = session_from_ga(update, keep_nulls=True)
    merged: Dict[str, Any] = dict(stored)
    changed: Dict[str, Any] = {}
    for key, value in flat.items():
        if key not in SESSION_KEYS:
            logger.warning("session setting %r is not one realtime_sync knows; it is sent as given", key)
        if key == "audio" and isinstance(value, dict):
            value = _merge_audio(stored.get("audio"), value)
        if key in stored and stored[key] == value:
            continue
        merged[key] = changed[key] = copy.deepcopy(value)
    return merged, changed


def effective_session(session: Mapping[str, Any]) -> Dict[str, Any]:
    """What a session says about the settings the client acts on, in either dialect.

    ``session`` is a server's ``session`` object (``session.created`` /
    ``session.updated``, GA nested or beta flat) or a stored config. Returns a
    new dict with those of these keys the session states (a key it does not
    state is left out, so the caller keeps what it knew):

    * ``"turn_detection"``: the turn detection object, or ``None`` (off);
    * ``"turn_detection_type"``: ``"server_vad"``, ``"semantic_vad"``... or
      ``None`` when turn detection is off; an object without ``type`` means
      ``"server_vad"`` (the servers' default);
    * ``"input_audio_format"`` / ``"output_audio_format"``: ``"pcm16"``,
      ``"g711_ulaw"`` or ``"g711_alaw"`` (a GA format with no such name, say
      PCM at another rate, is returned as its GA object);
    * ``"voice"``, ``"modalities"`` (flat: ``["text"]`` or ``["text",
      "audio"]``), ``"input_audio_transcription"``.
    """
    flat = session_from_ga(session)
    result: Dict[str, Any] = {}
    if "turn_detection" in flat:
        detection = flat["turn_detection"]
        result["turn_detection"] = copy.deepcopy(detection) if isinstance(detection, dict) else None
        if isinstance(detection, dict):
            kind = detection.get("type")
            result["turn_detection_type"] = kind if isinstance(kind, str) and kind else "server_vad"
        else:
            result["turn_detection_type"] = None
    for key in ("input_audio_format", "output_audio_format"):
        if key in flat and flat[key] is not None:
            result[key] = audio_format_from_ga(flat[key])
    for key in ("voice", "modalities", "input_audio_transcription"):
        if key in flat:
            result[key] = copy.deepcopy(flat[key])
    return result
