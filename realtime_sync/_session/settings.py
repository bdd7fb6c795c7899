"""The session configuration a client sends with ``session.update``.

:class:`SessionSettings` holds the settings the caller gave (starting from the
reference client's defaults), checks new ones before storing anything, and
builds the ``session`` object of a ``session.update`` with the registered
tools merged in. It sends nothing itself.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Optional, Set

from .. import audio as _audio
from ..errors import ConfigurationError

__all__ = ["SessionSettings", "DEFAULT_SESSION_CONFIG", "DEFAULT_SERVER_VAD_CONFIG", "check_seconds"]

#: The session configuration a new client starts with (the reference's defaults).
DEFAULT_SESSION_CONFIG: Dict[str, Any] = {
    "modalities": ["text", "audio"],
    "instructions": "",
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "turn_detection": None,
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": 4096,
}

#: A ready-made server VAD setting: ``client.update_session(turn_detection=DEFAULT_SERVER_VAD_CONFIG)``.
DEFAULT_SERVER_VAD_CONFIG: Dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
}


class SessionSettings:
    """The caller's session settings (``RealtimeClient.session_config``).

    Written by the caller's thread (``update_session``); the dict is replaced
    by :meth:`restore_defaults` only while no connection runs.
    """

    def __init__(self) -> None:
        self.config: Dict[str, Any] = copy.deepcopy(DEFAULT_SESSION_CONFIG)

    def restore_defaults(self) -> None:
        self.config = copy.deepcopy(DEFAULT_SESSION_CONFIG)

    def turn_detection_type(self) -> Optional[str]:
        """``"server_vad"`` (or another server mode) when turn detection is on, else ``None``."""
        turn_detection = self.config.get("turn_detection")
        if isinstance(turn_detection, dict):
            kind = turn_detection.get("type")
            return kind if isinstance(kind, str) else None
        return None

    def check(self, config: Dict[str, Any], registered: Iterable[str]) -> Dict[str, Any]:
        """Validate new settings; return them deep-copied, ready to store.

        Raises:
            ConfigurationError: an unknown audio format, a ``turn_detection``
                that is not a dict or ``None``, a tool without a name, or a
                tool name given twice or among ``registered`` (added with ``add_tool``).
        """
        for key in ("input_audio_format", "output_audio_format"):
            if key in config and config[key] not in _audio.AUDIO_FORMATS:
                raise ConfigurationError(
                    f"{key} must be one of {', '.join(_audio.AUDIO_FORMATS)}, got {config[key]!r}"
                )
        if "turn_detection" in config and not (
            config["turn_detection"] is None or isinstance(config["turn_detection"], dict)
        ):
            raise ConfigurationError("turn_detection must be None or a dict such as DEFAULT_SERVER_VAD_CONFIG")
        checked = copy.deepcopy(config)
        if "tools" in checked:
            if checked["tools"] is None:
                checked["tools"] = []
            _check_tools(checked["tools"], set(registered))
        return checked

    def update(self, checked: Dict[str, Any]) -> None:
        """Store settings returned by :meth:`check`."""
        self.config.update(checked)

    def defines_tool(self, name: str) -> bool:
        return any(isinstance(t, dict) and t.get("name") == name for t in self.config.get("tools") or [])

    def payload(self, registered: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
        """The ``session`` object of a ``session.update``: the settings plus ``registered`` tools."""
        session = copy.deepcopy(self.config)
        tools: List[Dict[str, Any]] = [dict({"type": "function"}, **tool) for tool in session.get("tools") or []]
        tools.extend(dict({"type": "function"}, **copy.deepcopy(definition)) for definition in registered)
        session["tools"] = tools
        return session


def _check_tools(tools: Any, registered: Set[str]) -> None:
    if not isinstance(tools, (list, tuple)):
        raise ConfigurationError("tools must be a list of tool definitions (dicts)")
    seen: Set[str] = set()
    for tool in tools:
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"tool definition without a name: {tool!r}")
        if name in registered:
            raise ConfigurationError(f'tool "{name}" is already added with add_tool(); remove_tool("{name}") first')
        if name in seen:
            raise ConfigurationError(f'tool "{name}" is defined twice')
        seen.add(name)


def check_seconds(name: str, value: Any, *, optional: bool = True) -> None:
    """Raise ConfigurationError unless ``value`` is a positive number of seconds (or ``None`` when optional)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        allowed = " or None" if optional else ""
        raise ConfigurationError(f"{name} must be a positive number of seconds{allowed}, got {value!r}")
