"""Value converters between the beta and GA spellings of session settings.

Audio formats, output modalities, tool choices, turn detection and the
dropped ``temperature``: each a small function of one value, used by the
session and response translation in :mod:`realtime_sync._dialect_session`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Tuple

from .errors import ConfigurationError

__all__ = [
    "audio_format_to_ga",
    "audio_format_from_ga",
    "same",
    "modalities_to_ga",
    "modalities_from_ga",
    "tool_choice_to_ga",
    "tool_choice_from_ga",
    "drop_temperature",
    "VAD_FIELDS",
    "turn_detection_to_ga",
    "turn_detection_from_ga",
]

logger = logging.getLogger(__name__)

# The beta default temperature: dropping it on GA changes nothing worth a warning.
_BETA_DEFAULT_TEMPERATURE = 0.8

# -- audio formats --------------------------------------------------------------

_FORMAT_TO_GA: Dict[str, Dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_FROM_GA: Dict[str, str] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}


def audio_format_to_ga(audio_format: Any) -> Any:
    """``"pcm16"`` -> ``{"type": "audio/pcm", "rate": 24000}`` (a new dict), and so on.

    A dict (already a GA format) and ``None`` pass through.

    Raises:
        ConfigurationError: a string that is not a beta audio format.
    """
    if isinstance(audio_format, str):
        ga = _FORMAT_TO_GA.get(audio_format)
        if ga is None:
            raise ConfigurationError(
                f"unknown audio format {audio_format!r}: use one of {', '.join(_FORMAT_TO_GA)}"
            )
        return dict(ga)
    return audio_format


def audio_format_from_ga(audio_format: Any) -> Any:
    """``{"type": "audio/pcm", "rate": 24000}`` -> ``"pcm16"``, and so on.

    A format with no beta name (another rate, an unknown type) is returned as
    it is, and so is anything that is not a dict.
    """
    if isinstance(audio_format, dict):
        name = _FORMAT_FROM_GA.get(audio_format.get("type"))  # type: ignore[arg-type]
        if name == "pcm16" and audio_format.get("rate", 24000) != 24000:
            return audio_format
        if name is not None:
            return name
    return audio_format


# -- small helpers ----------------------------------------------------------------

def same(value: Any) -> Any:
    return value


def modalities_to_ga(modalities: Any) -> Any:
    if isinstance(modalities, list):
        if "audio" in modalities:
            return ["audio"]
        if modalities == ["text"]:
            return ["text"]
    return modalities


def modalities_from_ga(modalities: Any) -> Any:
    if isinstance(modalities, list) and modalities == ["audio"]:
        return ["text", "audio"]
    return modalities


_TOOL_CHOICE_MODES = ("auto", "none", "required")


def tool_choice_to_ga(choice: Any) -> Any:
    if isinstance(choice, str) and choice not in _TOOL_CHOICE_MODES:
        return {"type": "function", "name": choice}
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" not in choice:
        function = choice.get("function")  # the Chat Completions spelling
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "function", "name": function["name"]}
    return choice


def tool_choice_from_ga(choice: Any) -> Any:
    if (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance(choice.get("name"), str)
        and len(choice) == 2
    ):
        return choice["name"]
    return choice


def drop_temperature(config: Dict[str, Any], where: str) -> None:
    value = config.pop("temperature")
    if value is None or value == _BETA_DEFAULT_TEMPERATURE:
        logger.debug("%s.temperature=%r dropped: the GA protocol has no temperature", where, value)
    else:
        logger.warning(
            "%s.temperature=%r ignored: the GA Realtime protocol has no sampling temperature", where, value
        )


# VAD fields each GA turn detection type accepts (GA rejects the others).
VAD_FIELDS: Dict[str, Tuple[str, ...]] = {
    "server_vad": (
        "type", "threshold", "prefix_padding_ms", "silence_duration_ms",
        "create_response", "interrupt_response", "idle_timeout_ms",
    ),
    "semantic_vad": ("type", "eagerness", "create_response", "interrupt_response"),
}


def turn_detection_to_ga(config: Any) -> Any:
    if not isinstance(config, dict):
        return config
    kind = config.get("type") or "server_vad"
    allowed = VAD_FIELDS.get(kind)
    if allowed is None:
        return config
    result = {key: value for key, value in config.items() if key in allowed}
    result["type"] = kind
    dropped = [key for key in config if key not in allowed]
    if dropped:
        logger.debug("turn_detection: %s does not take %s on GA; dropped", kind, ", ".join(dropped))
    return result


def turn_detection_from_ga(config: Any) -> Any:
    if isinstance(config, dict) and "idle_timeout_ms" in config and config["idle_timeout_ms"] is None:
        return {key: value for key, value in config.items() if key != "idle_timeout_ms"}
    return config
