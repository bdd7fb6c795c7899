"""Session configs and response options between the beta model and the GA wire.

A beta session is flat (``modalities``, ``voice``, ``input_audio_format``,
``turn_detection``...); a GA realtime session nests the audio settings under
``audio.input`` / ``audio.output`` and has ``type: "realtime"``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Tuple

from ._dialect_items import item_from_ga, item_to_ga, items
from ._dialect_values import (
    audio_format_from_ga,
    audio_format_to_ga,
    drop_temperature,
    modalities_from_ga,
    modalities_to_ga,
    same,
    tool_choice_from_ga,
    tool_choice_to_ga,
    turn_detection_from_ga,
    turn_detection_to_ga,
)

__all__ = [
    "session_to_ga",
    "session_from_ga",
    "response_options_to_ga",
    "response_from_ga",
    "response_options_from_ga",
]


def _audio_section(config: Dict[str, Any], direction: str) -> Dict[str, Any]:
    """A private copy of ``config["audio"][direction]`` to fill in (``config`` is a copy)."""
    audio = config.get("audio")
    audio = dict(audio) if isinstance(audio, dict) else {}
    config["audio"] = audio
    section = audio.get(direction)
    section = dict(section) if isinstance(section, dict) else {}
    audio[direction] = section
    return section


# beta key -> (GA audio direction, GA key, value converter)
_SESSION_AUDIO_TO_GA: Dict[str, Tuple[str, str, Callable[[Any], Any]]] = {
    "input_audio_format": ("input", "format", audio_format_to_ga),
    "input_audio_transcription": ("input", "transcription", same),
    "input_audio_noise_reduction": ("input", "noise_reduction", same),
    "turn_detection": ("input", "turn_detection", turn_detection_to_ga),
    "output_audio_format": ("output", "format", audio_format_to_ga),
    "voice": ("output", "voice", same),
    "speed": ("output", "speed", same),
}
_AUDIO_VALUE_FROM_GA: Dict[str, Callable[[Any], Any]] = {
    "input_audio_format": audio_format_from_ga,
    "output_audio_format": audio_format_from_ga,
    "turn_detection": turn_detection_from_ga,
}
# (GA audio direction, GA key) -> (beta key, value converter)
_SESSION_AUDIO_FROM_GA: Dict[Tuple[str, str], Tuple[str, Callable[[Any], Any]]] = {
    (direction, ga_key): (beta_key, _AUDIO_VALUE_FROM_GA.get(beta_key, same))
    for beta_key, (direction, ga_key, _) in _SESSION_AUDIO_TO_GA.items()
}
# GA session fields with no beta counterpart, left out of a beta session when null.
_GA_ONLY_SESSION_KEYS = (
    "include", "prompt", "truncation", "reasoning", "parallel_tool_calls", "expires_at",
)


def session_to_ga(session: Mapping[str, Any], *, where: str = "session") -> Dict[str, Any]:
    """A flat beta session config as a GA realtime session (a new dict).

    Keys already in GA form (``audio``, ``output_modalities``, ``type``...)
    are kept and the beta keys are merged into them; ``temperature`` is
    dropped. ``where`` names the config in log messages.

    Raises:
        ConfigurationError: an unknown audio format name.
    """
    result: Dict[str, Any] = dict(session)
    if "temperature" in result:
        drop_temperature(result, where)
    if "modalities" in result:
        result["output_modalities"] = modalities_to_ga(result.pop("modalities"))
    if "max_response_output_tokens" in result:
        result["max_output_tokens"] = result.pop("max_response_output_tokens")
    if "tool_choice" in result:
        result["tool_choice"] = tool_choice_to_ga(result["tool_choice"])
    sections: Dict[str, Dict[str, Any]] = {}
    for beta_key, (direction, ga_key, convert) in _SESSION_AUDIO_TO_GA.items():
        if beta_key in result:
            section = sections.get(direction)
            if section is None:
                section = sections[direction] = _audio_section(result, direction)
            section[ga_key] = convert(result.pop(beta_key))
    result.setdefault("type", "realtime")
    return result


def session_from_ga(session: Mapping[str, Any]) -> Dict[str, Any]:
    """A GA realtime session as a flat beta session (a new dict).

    A transcription session (``type: "transcription"``) comes back as a
    shallow copy, untranslated.
    """
    result: Dict[str, Any] = dict(session)
    if result.get("type", "realtime") != "realtime":
        return result
    result.pop("type", None)
    if "output_modalities" in result:
        result["modalities"] = modalities_from_ga(result.pop("output_modalities"))
    if "max_output_tokens" in result:
        result["max_response_output_tokens"] = result.pop("max_output_tokens")
    if "tool_choice" in result:
        result["tool_choice"] = tool_choice_from_ga(result["tool_choice"])
    audio = result.get("audio")
    if isinstance(audio, dict):
        leftover: Dict[str, Any] = {}
        for direction, section in audio.items():
            if not isinstance(section, dict):
                leftover[direction] = section
                continue
            kept: Dict[str, Any] = {}
            for key, value in section.items():
                target = _SESSION_AUDIO_FROM_GA.get((direction, key))
                if target is None:
                    kept[key] = value
                else:
                    result[target[0]] = target[1](value)
            if kept:
                leftover[direction] = kept
        if leftover:
            result["audio"] = leftover
        else:
            del result["audio"]
    for key in _GA_ONLY_SESSION_KEYS:
        if key in result and result[key] is None:
            del result[key]
    return result


def response_options_to_ga(options: Mapping[str, Any]) -> Dict[str, Any]:
    """``response.create``'s beta ``response`` options, or a beta response, as GA."""
    result: Dict[str, Any] = dict(options)
    if "temperature" in result:
        drop_temperature(result, "response")
    if "modalities" in result:
        result["output_modalities"] = modalities_to_ga(result.pop("modalities"))
    if "max_response_output_tokens" in result:
        result["max_output_tokens"] = result.pop("max_response_output_tokens")
    if "tool_choice" in result:
        result["tool_choice"] = tool_choice_to_ga(result["tool_choice"])
    if "voice" in result or "output_audio_format" in result:
        output = _audio_section(result, "output")
        if "voice" in result:
            output["voice"] = result.pop("voice")
        if "output_audio_format" in result:
            output["format"] = audio_format_to_ga(result.pop("output_audio_format"))
    for key in ("input", "output"):
        if key in result:
            result[key] = items(result[key], item_to_ga)
    return result


def response_from_ga(response: Mapping[str, Any]) -> Dict[str, Any]:
    """A GA response object (or ``response.create`` options) in beta form."""
    result: Dict[str, Any] = dict(response)
    if "output_modalities" in result:
        result["modalities"] = modalities_from_ga(result.pop("output_modalities"))
    if "tool_choice" in result:
        result["tool_choice"] = tool_choice_from_ga(result["tool_choice"])
    audio = result.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("output"), dict):
        output = dict(audio["output"])
        if "voice" in output:
            result["voice"] = output.pop("voice")
        if "format" in output:
            result["output_audio_format"] = audio_format_from_ga(output.pop("format"))
        rest = {key: value for key, value in audio.items() if key != "output"}
        if output:
            rest["output"] = output
        if rest:
            result["audio"] = rest
        else:
            del result["audio"]
    for key in ("input", "output"):
        if key in result:
            result[key] = items(result[key], item_from_ga)
    return result


def response_options_from_ga(options: Mapping[str, Any]) -> Dict[str, Any]:
    """``response.create``'s GA ``response`` options in beta form."""
    result = response_from_ga(options)
    if "max_output_tokens" in result:
        result["max_response_output_tokens"] = result.pop("max_output_tokens")
    return result
