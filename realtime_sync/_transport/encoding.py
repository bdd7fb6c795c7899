"""Client events to JSON text frames: one encoder, with a fast path for audio appends.

``input_audio_buffer.append`` is most of what a voice client sends (ten or
fifty a second, each a few kilobytes of base64). ``json.dumps`` scans every
character of that base64 for escapes; when the audio holds only base64
characters (as everything :mod:`realtime_sync.audio` encodes does) nothing
needs escaping, so the frame is put together from bytes instead, at about a
third of the cost. Any other event, or audio with any other character, goes
through ``json.dumps``, so the bytes on the wire are the same either way.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from ..errors import ConfigurationError

__all__ = ["encode_event"]

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_APPEND_KEYS = frozenset({"event_id", "type", "audio"})


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The UTF-8 JSON of ``event``: compact, no NaN/Infinity, non-ASCII kept as is.

    Raises:
        ConfigurationError: a value JSON cannot encode, or text that cannot be
            encoded as UTF-8 (a lone surrogate).
    """
    if event.get("type") == "input_audio_buffer.append":
        fast = _append_frame(event)
        if fast is not None:
            return fast
    event_type = event.get("type")
    try:
        return json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"event {event_type!r} holds text that cannot be encoded as UTF-8 "
            f"(a lone surrogate at position {exc.start}?)"
        ) from None
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"event {event_type!r} cannot be encoded as JSON: {exc}") from exc
    except RecursionError:
        raise ConfigurationError(f"event {event_type!r} is nested too deeply to be encoded as JSON") from None


def _append_frame(event: Mapping[str, Any]) -> Optional[bytes]:
    """``input_audio_buffer.append`` built from bytes, or ``None`` when it needs the general encoder."""
    if event.keys() != _APPEND_KEYS:
        return None
    audio, event_id = event["audio"], event["event_id"]
    if type(audio) is not str or type(event_id) is not str or not audio.isascii() or not event_id.isascii():
        return None
    data = audio.encode("ascii")
    if data.translate(None, _BASE64_ALPHABET):  # a character that is not base64
        return None
    head = json.dumps(event_id).encode("ascii")
    return b"".join((b'{"event_id":', head, b',"type":"input_audio_buffer.append","audio":"', data, b'"}'))  # one copy
