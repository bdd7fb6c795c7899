"""The session configuration a client sends with ``session.update``.

:class:`SessionSettings` holds the settings the caller gave (starting from the
reference client's defaults), checks new ones before storing anything, and
builds the ``session`` object of a ``session.update`` with the registered
tools merged in. It sends nothing itself.

Settings are accepted in both spellings and stored in one: the reference's
flat keys (``modalities``, ``voice``, ``input_audio_format``,
``turn_detection``...) and the GA keys (``type``, ``output_modalities``,
``audio={"input": {...}, "output": {...}}``, ``max_output_tokens``, tool
choice objects), plus the GA-only keys (``prompt``, ``truncation``,
``include``, ``parallel_tool_calls``, ``reasoning``), which are kept as given.
The socket layer translates the flat keys to the wire dialect. A key the
caller gave is remembered as *set by the caller*: on GA, :meth:`connect_payload`
sends only those, so the server's own defaults stand for the rest.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Set

from .. import audio as _audio
from .._dialect_values import tool_choice_from_ga
from ..dialects import audio_format_from_ga, effective_session, session_from_ga
from ..errors import ConfigurationError

__all__ = [
    "copy_config",
    "SessionSettings",
    "DEFAULT_SESSION_CONFIG",
    "DEFAULT_SERVER_VAD_CONFIG",
    "SESSION_KEYS",
    "VOICES",
    "turn_detection_kind",
    "check_seconds",
]

#: The session configuration a new client starts with (the reference's defaults).
#: On a beta connection ``connect()`` sends all of it; on GA only what the caller set.
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

#: The built-in voices (``marin`` and ``cedar`` are GA's newest; beta servers know the first eight).
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")

# The reference's flat session keys (beta), stored as they are.
_FLAT_KEYS: FrozenSet[str] = frozenset(
    {
        "modalities", "instructions", "voice", "speed", "input_audio_format", "output_audio_format",
        "input_audio_transcription", "input_audio_noise_reduction", "turn_detection", "tools",
        "tool_choice", "temperature", "max_response_output_tokens", "tracing", "model", "client_secret",
    }
)
# GA keys with no beta spelling, stored as they are (a beta server may refuse them).
_GA_ONLY_KEYS: FrozenSet[str] = frozenset({"include", "prompt", "truncation", "parallel_tool_calls", "reasoning"})
# GA keys stored under their flat spelling.
_GA_SPELLED: Dict[str, str] = {
    "type": "",
    "output_modalities": "modalities",
    "max_output_tokens": "max_response_output_tokens",
    "audio": "",
}
_AUDIO_KEYS: Dict[str, Dict[str, str]] = {
    "input": {
        "format": "input_audio_format",
        "noise_reduction": "input_audio_noise_reduction",
        "transcription": "input_audio_transcription",
        "turn_detection": "turn_detection",
    },
    "output": {"format": "output_audio_format", "voice": "voice", "speed": "speed"},
}

#: Every key ``update_session`` accepts (flat, GA and GA-only).
SESSION_KEYS: FrozenSet[str] = _FLAT_KEYS | _GA_ONLY_KEYS | frozenset(_GA_SPELLED)



def copy_config(value: Any, what: str) -> Any:
    """A deep copy of user-given settings; ``ConfigurationError`` when nested too deeply to copy.

    Settings are sent as JSON, so a value nested hundreds deep could never be
    sent: say so, rather than let a bare ``RecursionError`` out.
    """
    try:
        return copy.deepcopy(value)
    except RecursionError:
        raise ConfigurationError(f"{what}: nested too deeply to be sent as JSON") from None

def turn_detection_kind(turn_detection: Any) -> Optional[str]:
    """The turn detection mode a ``turn_detection`` value puts the server in (``None``: off).

    A dict without ``type`` is server VAD, as both dialects' servers read it
    (:func:`realtime_sync.dialects.effective_session` decides).
    """
    kind = effective_session({"turn_detection": turn_detection}).get("turn_detection_type")
    return kind if isinstance(kind, str) else None


class SessionSettings:
    """The caller's session settings (``RealtimeClient.session_config``).

    Written by the caller's thread (``update_session``); the dict is replaced
    by :meth:`restore_defaults` only while no connection runs.
    """

    def __init__(self) -> None:
        self.config: Dict[str, Any] = copy.deepcopy(DEFAULT_SESSION_CONFIG)
        self._explicit: Set[str] = set()

    def restore_defaults(self) -> None:
        self.config = copy.deepcopy(DEFAULT_SESSION_CONFIG)
        self._explicit = set()

    @property
    def explicit(self) -> FrozenSet[str]:
        """The keys (flat spelling) the caller set since construction or :meth:`restore_defaults`."""
        return frozenset(self._explicit)

    def check(self, config: Mapping[str, Any], registered: Iterable[str]) -> Dict[str, Any]:
        """Validate new settings; return them in flat spelling, deep-copied, ready to store.

        Raises:
            ConfigurationError: an unknown key (here or under ``audio``), a key
                given in both spellings, a session ``type`` other than
                ``"realtime"``, an unknown audio format, a ``turn_detection``
                that is not a dict or ``None``, a voice that is not a name or
                ``{"id": ...}``, a tool without a name, or a tool name given
                twice or among ``registered`` (added with ``add_tool``).
        """
        checked = _flatten(copy_config(dict(config), "the session settings"))
        for key in ("input_audio_format", "output_audio_format"):
            if key in checked:
                checked[key] = audio_format_from_ga(checked[key])
                if checked[key] not in _audio.AUDIO_FORMATS:
                    raise ConfigurationError(
                        f"{key} must be one of {', '.join(_audio.AUDIO_FORMATS)}, got {checked[key]!r}"
                    )
        if "turn_detection" in checked and not (
            checked["turn_detection"] is None or isinstance(checked["turn_detection"], dict)
        ):
            raise ConfigurationError(
                "turn_detection must be None (manual turns) or a dict such as "
                '{"type": "server_vad"} or {"type": "semantic_vad"}'
            )
        if "modalities" in checked:
            _check_modalities(checked["modalities"])
        if "voice" in checked:
            _check_voice(checked["voice"])
        if "tool_choice" in checked:
            checked["tool_choice"] = tool_choice_from_ga(checked["tool_choice"])
        if "tools" in checked:
            if checked["tools"] is None:
                checked["tools"] = []
            _check_tools(checked["tools"], set(registered))
        return checked

    def update(self, checked: Dict[str, Any]) -> None:
        """Store settings returned by :meth:`check` (they count as set by the caller)."""
        self.config.update(checked)
        self._explicit.update(checked)

    def defines_tool(self, name: str) -> bool:
        return any(isinstance(t, dict) and t.get("name") == name for t in self.config.get("tools") or [])

    def payload(self, registered: Iterable[Dict[str, Any]], keys: Optional[Iterable[str]] = None) -> Dict[str, Any]:
        """The ``session`` object of a ``session.update``: the settings plus ``registered`` tools.

        With ``keys``, only those settings (``tools`` then carries the
        registered tools too); without, every setting.
        """
        wanted = set(self.config) if keys is None else set(keys)
        session = {key: copy.deepcopy(value) for key, value in self.config.items() if key in wanted}
        if "tools" in wanted:
            tools: List[Dict[str, Any]] = [
                dict({"type": "function"}, **tool) for tool in self.config.get("tools") or []
            ]
            tools.extend(dict({"type": "function"}, **copy.deepcopy(definition)) for definition in registered)
            session["tools"] = tools
        return session

    def connect_payload(
        self, protocol: str, registered: List[Dict[str, Any]], *, resend: bool = False
    ) -> Dict[str, Any]:
        """The ``session`` of the ``session.update`` that ``connect()`` sends (or a full re-send).

        Beta: every setting, as the reference client does. GA: only the
        settings the caller set, and the tools when there are any (always on
        a ``resend``, so a removed tool is removed on the server too); the
        server's defaults (its instructions, server VAD, voice...) stand.
        """
        if protocol == "beta":
            return self.payload(registered)
        keys = set(self._explicit)
        if resend or registered or self.config.get("tools"):
            keys.add("tools")
        return self.payload(registered, keys)


def _flatten(config: Dict[str, Any]) -> Dict[str, Any]:
    """``config`` with its GA-spelled keys in flat spelling; unknown keys raise."""
    unknown = sorted(key for key in config if key not in SESSION_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unknown session setting{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(SESSION_KEYS))}"
        )
    ga = {key: config.pop(key) for key in list(config) if key in _GA_SPELLED}
    if not ga:
        return config
    if "type" in ga and ga["type"] != "realtime":
        raise ConfigurationError(
            f'session type must be "realtime" (a realtime client session), got {ga["type"]!r}'
        )
    spelled = {flat: ga_key for ga_key, flat in _GA_SPELLED.items() if flat and ga_key in ga}
    if "audio" in ga:
        spelled.update(_check_audio(ga["audio"]))
    twice = sorted(flat for flat in spelled if flat in config)
    if twice:
        raise ConfigurationError(
            "session setting given twice: "
            + ", ".join(f"{flat!r} and {spelled[flat]!r}" for flat in twice)
        )
    flat = session_from_ga(ga)
    flat.pop("audio", None)  # only empty sections are left (unknown keys raised above)
    config.update(flat)
    return config


def _check_audio(audio: Any) -> Dict[str, str]:
    """Check a GA ``audio`` setting; return ``{flat key: GA path}`` for the keys it sets."""
    if not isinstance(audio, dict):
        raise ConfigurationError(f'audio must be a dict like {{"input": {{...}}, "output": {{...}}}}, got {audio!r}')
    spelled: Dict[str, str] = {}
    for direction, section in audio.items():
        keys = _AUDIO_KEYS.get(direction)
        if keys is None:
            raise ConfigurationError(f'unknown audio section {direction!r}: use "input" and "output"')
        if not isinstance(section, dict):
            raise ConfigurationError(f"audio.{direction} must be a dict, got {section!r}")
        for key in section:
            if key not in keys:
                raise ConfigurationError(
                    f"unknown setting audio.{direction}.{key}; known: {', '.join(sorted(keys))}"
                )
            spelled[keys[key]] = f"audio.{direction}.{key}"
    return spelled


def _check_modalities(modalities: Any) -> None:
    if not isinstance(modalities, (list, tuple)) or not modalities or any(m not in ("text", "audio") for m in modalities):
        raise ConfigurationError(
            f'modalities / output_modalities must be a list such as ["text"] or ["audio"], got {modalities!r}'
        )


def _check_voice(voice: Any) -> None:
    if isinstance(voice, str) and voice:
        return
    if isinstance(voice, dict) and isinstance(voice.get("id"), str):
        return  # a custom voice (GA)
    raise ConfigurationError(f'voice must be a name such as {", ".join(VOICES)} or {{"id": ...}}, got {voice!r}')


def _check_tools(tools: Any, registered: Set[str]) -> None:
    if not isinstance(tools, (list, tuple)):
        raise ConfigurationError("tools must be a list of tool definitions (dicts)")
    seen: Set[str] = set()
    for tool in tools:
        name = tool.get("name") if isinstance(tool, dict) else None
        if _tool_kind(tool) != "function" and isinstance(tool, dict):
            continue  # an MCP server (GA) or another kind: no name to check
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"tool definition without a name: {tool!r}")
        if name in registered:
            raise ConfigurationError(f'tool "{name}" is already added with add_tool(); remove_tool("{name}") first')
        if name in seen:
            raise ConfigurationError(f'tool "{name}" is defined twice')
        seen.add(name)


def _tool_kind(tool: Any) -> Optional[str]:
    """A tool definition's ``type`` (``"function"`` when it names none)."""
    if not isinstance(tool, dict):
        return None
    kind = tool.get("type", "function")
    return kind if isinstance(kind, str) else None


def check_seconds(name: str, value: Any, *, optional: bool = True) -> None:
    """Raise ConfigurationError unless ``value`` is a positive number of seconds (or ``None`` when optional)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        allowed = " or None" if optional else ""
        raise ConfigurationError(f"{name} must be a positive number of seconds{allowed}, got {value!r}")
