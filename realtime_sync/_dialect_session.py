"""Session configs and response options between the beta model and the GA wire.

A beta session is flat (``modalities``, ``voice``, ``input_audio_format``,
``turn_detection``...); a GA realtime session nests the audio settings under
``audio.input`` / ``audio.output`` and has ``type: "realtime"``.
"""

from __future__ import annotations

import logging
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

logger = logging.getLogger(__name__)


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


def _prefer(result: Dict[str, Any], beta_key: str, ga_key: str, convert: Callable[[Any], Any]) -> None:
    """Move ``result[beta_key]`` to ``result[ga_key]``; a GA-native value already there wins."""
    value = result.pop(beta_key)
    if ga_key in result:
        logger.debug("session: %s=%r ignored, %s given as well", beta_key, value, ga_key)
    else:
        result[ga_key] = convert(value)


def _generation_to_ga(config: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """A copy of a session config or response options with the settings both share in GA form.

    ``temperature`` is dropped; ``modalities``, ``max_response_output_tokens``
    and ``tool_choice`` move to (or are normalised as) their GA spelling, the
    GA-native value winning when a setting is given both ways.
    """
    result: Dict[str, Any] = dict(config)
    if "temperature" in result:
        drop_temperature(result, where)
    if "modalities" in result:
        _prefer(result, "modalities", "output_modalities", modalities_to_ga)
    if "max_response_output_tokens" in result:
        _prefer(result, "max_response_output_tokens", "max_output_tokens", same)
    if "tool_choice" in result:
        result["tool_choice"] = tool_choice_to_ga(result["tool_choice"])
    return result


def session_to_ga(session: Mapping[str, Any], *, where: str = "session") -> Dict[str, Any]:
    """A session config, flat (beta), GA-native or a mix, as a GA realtime session (a new dict).

    Flat keys move to their GA places; keys already in GA form (``audio``,
    ``output_modalities``, ``max_output_tokens``, ``type``...) are kept, and
    when a setting is given both ways the GA-native value wins. Values are
    normalised wherever they were given (an audio format name such as
    ``"pcm16"`` becomes its GA object, a turn detection without ``type``
    becomes ``server_vad``); ``temperature`` is dropped. ``where`` names the
    config in log messages.

    Raises:
        ConfigurationError: an unknown audio format name.
    """
    result = _generation_to_ga(session, where)
    sections: Dict[str, Dict[str, Any]] = {}
    for beta_key, (direction, ga_key, convert) in _SESSION_AUDIO_TO_GA.items():
        audio = result.get("audio")
        given = audio.get(direction) if isinstance(audio, dict) else None
        if beta_key not in result and not (isinstance(given, dict) and ga_key in given):
            continue
        section = sections.get(direction)
        if section is None:
            section = sections[direction] = _audio_section(result, direction)
        if beta_key in result:
            value = result.pop(beta_key)
            if ga_key in section:
                logger.debug("%s: %s=%r ignored, audio.%s.%s given as well", where, beta_key, value, direction, ga_key)
                continue
            section[ga_key] = value
        section[ga_key] = convert(section[ga_key])
    result.setdefault("type", "realtime")
    return result


def session_from_ga(session: Mapping[str, Any], *, keep_nulls: bool = False) -> Dict[str, Any]:
    """A GA realtime session (or a mix of GA-native and flat keys) as a flat beta session (a new dict).

    Flat keys are kept; when a setting is given both ways the GA-native value
    wins. GA-only fields (``include``, ``prompt``, ``truncation``...) are kept
    as they are, except nulls, which are left out unless ``keep_nulls`` (a
    caller's update that clears a field keeps its null). A transcription
    session (``type: "transcription"``) comes back as a shallow copy,
    untranslated.
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
    if not keep_nulls:
        for key in _GA_ONLY_SESSION_KEYS:
            if key in result and result[key] is None:
                del result[key]
    return result


def response_options_to_ga(options: Mapping[str, Any]) -> Dict[str, Any]:
    """``response.create``'s ``response`` options (or a beta response) as GA.

    As :func:`session_to_ga`: flat keys move to their GA places, GA-native
    keys (``output_modalities``, ``audio.output``, ``max_output_tokens``,
    ``conversation``, ``metadata``...) are kept and win over a flat spelling
    of the same setting.
    """
    result = _generation_to_ga(options, "response")
    audio = result.get("audio")
    given = audio.get("output") if isinstance(audio, dict) else None
    if "voice" in result or "output_audio_format" in result or isinstance(given, dict):
        output = _audio_section(result, "output")
        for beta_key, ga_key in (("voice", "voice"), ("output_audio_format", "format")):
            if beta_key in result:
                value = result.pop(beta_key)
                if ga_key in output:
                    logger.debug("response: %s=%r ignored, audio.output.%s given as well", beta_key, value, ga_key)
                else:
                    output[ga_key] = value
        if "format" in output:
            output["format"] = audio_format_to_ga(output["format"])
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
