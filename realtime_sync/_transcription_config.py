"""The session a :class:`~realtime_sync.transcriber.RealtimeTranscriber` asks for (private).

The checks of the transcriber's arguments and the GA transcription
``session`` built from them. The public face is :mod:`realtime_sync.transcriber`.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, Optional

from ._utterance import SAMPLE_RATE
from .errors import ConfigurationError

__all__ = ["TRANSCRIPTION_MODELS", "SERVER_VAD", "transcription_session"]

#: Transcription models known to accept ``session.type: "transcription"`` (others are sent as given).
TRANSCRIPTION_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1", "gpt-realtime-whisper")
#: The default turn detection: the server's VAD cuts the audio into utterances.
SERVER_VAD: Mapping[str, Any] = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500}
_LOGPROBS = "item.input_audio_transcription.logprobs"


def transcription_session(
    model: str,
    language: Optional[str],
    prompt: Optional[str],
    turn_detection: Optional[Mapping[str, Any]],
    noise_reduction: Optional[str],
    include_logprobs: bool,
    session: Optional[Mapping[str, Any]],
) -> Dict[str, Any]:
    """The ``session`` of ``session.update`` for these arguments (see ``RealtimeTranscriber``).

    Raises:
        ConfigurationError: an invalid argument (a conversation model, say).
    """
    if not isinstance(model, str) or not model:
        raise ConfigurationError("model must be a transcription model name such as 'gpt-4o-transcribe'")
    if model.startswith("gpt-realtime") and model != "gpt-realtime-whisper" or "realtime-preview" in model:
        raise ConfigurationError(
            f"{model!r} is a conversation model; a transcription session needs a transcription model: "
            + ", ".join(TRANSCRIPTION_MODELS)
        )
    if noise_reduction not in (None, "near_field", "far_field"):
        raise ConfigurationError(f"noise_reduction must be 'near_field', 'far_field' or None, not {noise_reduction!r}")
    if turn_detection is not None and (
        not isinstance(turn_detection, Mapping) or turn_detection.get("type") not in ("server_vad", "semantic_vad")
    ):
        raise ConfigurationError("turn_detection must be a dict with type 'server_vad' or 'semantic_vad', or None")
    for name, value in (("language", language), ("prompt", prompt)):
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a str or None")
    transcription: Dict[str, Any] = {"model": model}
    if language is not None:
        transcription["language"] = language
    if prompt is not None:
        transcription["prompt"] = prompt
    config: Dict[str, Any] = {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                "transcription": transcription,
                "noise_reduction": None if noise_reduction is None else {"type": noise_reduction},
                "turn_detection": None if turn_detection is None else dict(turn_detection),
            }
        },
    }
    if include_logprobs:
        config["include"] = [_LOGPROBS]
    _merge(config, session or {})
    return config


def _merge(target: Dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Merge ``extra`` into ``target`` in place, dicts recursively."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
