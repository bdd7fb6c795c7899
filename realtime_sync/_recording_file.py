"""The file format of recordings: its constants and the audio elision.

Private: the public face, with the format's description, is
:mod:`realtime_sync.recording`.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Union

from .errors import RealtimeError

__all__ = [
    "FORMAT",
    "VERSION",
    "PathLike",
    "ReplayDivergenceError",
    "elide_audio",
    "restore_audio",
    "audio_bytes",
]

#: The ``format`` of the header line.
FORMAT = "realtime-sync-recording"
#: The format version this module writes and reads.
VERSION = 1

PathLike = Union[str, "os.PathLike[str]"]


class ReplayDivergenceError(RealtimeError):
    """A client did not send what the recording it is replayed against holds.

    The message names the connection, the client event's position, the line
    of the recording, what was expected and what came.
    """


# -- audio ----------------------------------------------------------------------


def audio_bytes(text: str) -> int:
    """How many bytes a base64 string decodes to (computed from its length)."""
    stripped = text.rstrip()
    if not stripped:
        return 0
    return len(stripped) * 3 // 4 - (len(stripped) - len(stripped.rstrip("=")))


def _is_audio_delta(event: Dict[str, Any]) -> bool:
    event_type = event.get("type")
    return isinstance(event_type, str) and event_type.endswith("audio.delta")


def _map_audio(value: Any, change: Callable[[Any], Any]) -> Any:
    """``value`` with ``change`` applied to every field named ``audio`` that is not a dict (a copy when changed)."""
    if isinstance(value, dict):
        out = None
        for key, inner in value.items():
            new = change(inner) if key == "audio" and not isinstance(inner, (dict, list)) else _map_audio(inner, change)
            if new is not inner:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        items = [_map_audio(inner, change) for inner in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    return value


def elide_audio(event: Dict[str, Any]) -> Dict[str, Any]:
    """``event`` with each base64 audio string replaced by its length in bytes (a copy when changed)."""

    def change(value: Any) -> Any:
        return audio_bytes(value) if isinstance(value, str) else value

    out = _map_audio(event, change)
    if _is_audio_delta(event) and isinstance(event.get("delta"), str):
        out = dict(out)
        out["delta"] = audio_bytes(event["delta"])
    return out  # type: ignore[no-any-return]


def restore_audio(event: Dict[str, Any]) -> Dict[str, Any]:
    """``event`` with elided audio (an integer byte count) replaced by that many zero bytes, base64."""
    import base64

    def silence(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return base64.b64encode(bytes(value)).decode("ascii")
        return value

    out = _map_audio(event, silence)
    if _is_audio_delta(event) and not isinstance(event.get("delta"), str):
        out = dict(out)
        out["delta"] = silence(event.get("delta"))
    return out  # type: ignore[no-any-return]
