"""The simulator's stand-in "model": what to say, and how it sounds.

A responder is any callable ``responder(items, session) -> Reply | dict | str``:

- ``items`` is a list of the conversation items the response is based on, as
  plain dicts shaped like the server's JSON (copies: changing them changes
  nothing). User audio appears as an ``input_audio`` content part whose
  ``transcript`` is the simulator's transcript of it.
- ``session`` is the effective configuration of this response: the session
  merged with the ``response.create`` overrides (``instructions``, ``tools``,
  ``tool_choice``, ``modalities``...).

It returns a :class:`Reply` (or a dict with the same keys, or a plain string
meaning ``Reply(text=...)``). The responder runs on the session's streaming
thread, never on the socket thread, so a slow one delays only its own session.

This module also holds the deterministic default responder and the speech
synthesiser that turns reply text into a voiced, formant-shaped signal.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import numpy as np

__all__ = [
    "Reply",
    "Responder",
    "Transcriber",
    "default_responder",
    "coerce_reply",
    "synthesize_speech",
    "describe_audio",
    "item_text",
    "samples_per_char",
    "CHARS_PER_SECOND",
]

#: Speaking rate of the synthesised voice: reply text characters per second.
CHARS_PER_SECOND = 15.0


@dataclass
class Reply:
    """What the simulated model says in one response.

    Attributes:
        text: the assistant's message (sent as text or as audio plus
            transcript, per the response's modalities). May be empty when the
            reply is only a tool call.
        tool_name: name of a function to call, or ``None``.
        tool_arguments: the call's arguments, a dict (JSON-encoded on the
            wire) or an already encoded JSON string.
        mcp_tool: (GA) a tool of a simulated MCP server to call: the
            response carries an ``mcp_approval_request`` item, or the
            ``mcp_call`` itself when the server's ``require_approval`` is
            ``"never"`` for it (see :mod:`realtime_sync.simulator.mcp`).
        mcp_server: the MCP server's ``server_label`` (default: the only MCP
            server of the session).
        mcp_arguments: the MCP call's arguments, like ``tool_arguments``.
    """

    text: str = ""
    tool_name: Optional[str] = None
    tool_arguments: Union[Dict[str, Any], str, None] = None
    mcp_tool: Optional[str] = None
    mcp_server: Optional[str] = None
    mcp_arguments: Union[Dict[str, Any], str, None] = None

    def arguments_json(self) -> str:
        """The tool arguments as the JSON string the wire carries."""
        return _encode(self.tool_arguments)

    def mcp_arguments_json(self) -> str:
        """The MCP call's arguments as the JSON string the wire carries."""
        return _encode(self.mcp_arguments)


def _encode(arguments: Union[Dict[str, Any], str, None]) -> str:
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments)


Responder = Callable[[List[Dict[str, Any]], Dict[str, Any]], Union[Reply, Mapping[str, Any], str]]

#: A transcriber gets the committed int16 samples and their rate, returns text
#: (``None``: the transcription fails).
Transcriber = Callable[[np.ndarray, int], Optional[str]]


def coerce_reply(value: Any) -> Reply:
    """Turn a responder's return value into a :class:`Reply`.

    Accepts a Reply, a str (the text), ``None`` (empty reply), or a mapping with
    ``text`` and optionally ``tool_name``/``tool_arguments`` or
    ``tool_call: {"name", "arguments"}``, and ``mcp_tool``/``mcp_server``/``mcp_arguments``.

    Raises:
        TypeError: anything else.
    """
    if isinstance(value, Reply):
        return value
    if value is None:
        return Reply()
    if isinstance(value, str):
        return Reply(text=value)
    if isinstance(value, Mapping):
        call = value.get("tool_call") or {}
        return Reply(
            text=str(value.get("text") or ""),
            tool_name=value.get("tool_name") or call.get("name"),
            tool_arguments=value.get("tool_arguments", call.get("arguments")),
            mcp_tool=value.get("mcp_tool"),
            mcp_server=value.get("mcp_server"),
            mcp_arguments=value.get("mcp_arguments"),
        )
    raise TypeError(f"a responder must return Reply, dict or str, not {type(value).__name__}")


# -- reading the conversation -------------------------------------------------


def item_text(item: Mapping[str, Any]) -> str:
    """The words of a message item: its text parts and audio transcripts, joined."""
    parts = []
    for part in item.get("content") or []:
        if not isinstance(part, Mapping):
            continue
        for key in ("text", "transcript"):
            value = part.get(key)
            if isinstance(value, str) and value.strip():
                parts.append(value.strip())
                break
    return " ".join(parts)


def describe_audio(samples: np.ndarray, rate: int) -> str:
    """A deterministic stand-in transcript for audio the simulator cannot hear."""
    seconds = len(samples) / float(rate) if rate else 0.0
    return f"(inaudible: {seconds:.1f} seconds of speech)"


_GREETING = re.compile(r"^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening))\b", re.IGNORECASE)
_QUESTION_START = re.compile(
    r"^\s*(who|what|when|where|why|how|which|is|are|can|could|do|does|did|will|would|should)\b",
    re.IGNORECASE,
)
_STOP_WORDS = {"get", "set", "the", "and", "for", "with", "from", "list", "tool", "function"}
_PLACE = re.compile(r"\b(?:in|at|for|near|to)\s+((?:[A-Z][\w'-]*)(?:\s+[A-Z][\w'-]*)*)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _tool_is_named(tool: Mapping[str, Any], text: str) -> bool:
    name = str(tool.get("name") or "")
    if not name:
        return False
    lowered = text.lower()
    spaced = re.sub(r"[_\-]+", " ", name).lower()
    if name.lower() in lowered or spaced in lowered:
        return True
    words = [w for w in re.split(r"[_\-\s]+|(?<=[a-z])(?=[A-Z])", name) if w]
    return any(
        len(w) > 3 and w.lower() not in _STOP_WORDS and re.search(rf"\b{re.escape(w.lower())}", lowered)
        for w in words
    )


def _argument_for(name: str, schema: Mapping[str, Any], text: str) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if schema.get("enum"):
        options = list(schema["enum"])
        for option in options:
            if str(option).lower() in text.lower():
                return option
        return options[0]
    if kind in ("number", "integer"):
        match = _NUMBER.search(text)
        if match:
            return int(float(match.group())) if kind == "integer" else float(match.group())
        return schema.get("default", 0)
    if kind == "boolean":
        return bool(re.search(r"\b(yes|true|on|enable)\b", text, re.IGNORECASE))
    if kind == "array":
        return []
    if kind == "object":
        return {}
    # strings: places for place-like names, otherwise the user's words
    place = _PLACE.search(text)
    if place and re.search(r"loc|city|place|country|address|where|region|town", name, re.IGNORECASE):
        return place.group(1).rstrip("?.!,")
    if place and re.search(r"loc|city|place", str(schema.get("description", "")), re.IGNORECASE):
        return place.group(1).rstrip("?.!,")
    if "default" in schema:
        return schema["default"]
    return text.strip().rstrip("?.!")


def _arguments_from_schema(tool: Mapping[str, Any], text: str) -> Dict[str, Any]:
    params = tool.get("parameters") or {}
    props = params.get("properties") or {} if isinstance(params, Mapping) else {}
    required = set(params.get("required") or []) if isinstance(params, Mapping) else set()
    arguments: Dict[str, Any] = {}
    for name, schema in props.items():
        if not isinstance(schema, Mapping):
            schema = {}
        value = _argument_for(name, schema, text)
        if name in required or value not in ("", None, [], {}):
            arguments[name] = value
    return arguments


def _choose_tool(session: Mapping[str, Any], text: str) -> Optional[Mapping[str, Any]]:
    tools = [t for t in session.get("tools") or [] if isinstance(t, Mapping) and t.get("name")]
    choice = session.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    if isinstance(choice, Mapping):
        wanted = choice.get("name") or (choice.get("function") or {}).get("name")
        return next((t for t in tools if t.get("name") == wanted), None)
    named = next((t for t in tools if _tool_is_named(t, text)), None)
    if named is None and choice == "required":
        return tools[0]
    return named


def _summarise_output(name: str, output: str) -> str:
    try:
        value = json.loads(output)
    except (TypeError, ValueError):
        value = output
    if isinstance(value, Mapping):
        if "error" in value and len(value) == 1:
            return f"Sorry, {name or 'the tool'} failed: {value['error']}."
        facts = ", ".join(f"{str(k).replace('_', ' ')} {v}" for k, v in value.items())
        return f"Here is what {name or 'the tool'} returned: {facts}."
    if isinstance(value, list):
        return f"{name or 'The tool'} returned {len(value)} results: " + ", ".join(map(str, value[:5])) + "."
    return f"Here is what {name or 'the tool'} returned: {value}."


def _image_kind(url: str) -> str:
    """``image/png`` for a data URL, ``a linked image`` for a web address."""
    if url.startswith("data:"):
        return url[5:].split(";", 1)[0].split(",", 1)[0] or "image"
    return "a linked image"


def default_responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Reply:
    """The built-in deterministic "model", useful for demos and tests.

    - After a ``function_call_output`` or an ``mcp_call`` item: summarises the
      tool's output (or its error); after a refused MCP approval, says so.
    - When the last user message names a configured tool (its name, or a
      distinctive word of it such as "weather" for ``get_weather``), or
      ``tool_choice`` requires one: calls it, with arguments chosen from the
      tool's JSON schema and the user's words (a ``location``-like string
      property gets the place after "in"/"at"/"for"; numbers come from the text).
    - A user message with an ``input_image`` is acknowledged (the simulator
      cannot see it).
    - Greetings get a greeting, questions a short answer that repeats the
      question, anything else is echoed back.
    """
    last = items[-1] if items else None
    if last is not None and last.get("type") == "mcp_call":
        if last.get("error"):
            message = last["error"].get("message") if isinstance(last["error"], Mapping) else last["error"]
            return Reply(text=f"Sorry, {last.get('name') or 'the tool'} failed: {message}.")
        return Reply(text=_summarise_output(str(last.get("name") or ""), str(last.get("output") or "")))
    if last is not None and last.get("type") == "mcp_approval_response" and not last.get("approve"):
        return Reply(text="Understood. I will not run that tool.")
    if last is not None and last.get("type") == "function_call_output":
        call_id = last.get("call_id")
        name = next(
            (str(i.get("name") or "") for i in items if i.get("type") == "function_call" and i.get("call_id") == call_id),
            "",
        )
        return Reply(text=_summarise_output(name, str(last.get("output") or "")))
    user = next((i for i in reversed(items) if i.get("type") == "message" and i.get("role") == "user"), None)
    text = item_text(user) if user is not None else ""
    tool = _choose_tool(session, text) if user is not None else None
    if tool is not None:
        return Reply(tool_name=str(tool["name"]), tool_arguments=_arguments_from_schema(tool, text))
    images = [p for p in (user or {}).get("content") or [] if isinstance(p, Mapping) and p.get("type") == "input_image"]
    if images:
        kind = _image_kind(str(images[-1].get("image_url") or ""))
        seen = f"{len(images)} images" if len(images) > 1 else f"an image ({kind})"
        about = f' You wrote: "{text.strip()}"' if text else ""
        return Reply(text=f"I received {seen}, but I am a simulator and cannot see it.{about}")
    if not text:
        return Reply(text="Hello! I am the realtime_sync simulator. How can I help you?")
    if text.startswith("(inaudible"):
        return Reply(text="I heard you, but I am a simulator and cannot understand speech. Try typing instead.")
    if _GREETING.search(text):
        return Reply(text="Hello! How can I help you today?")
    if text.rstrip().endswith("?") or _QUESTION_START.search(text):
        return Reply(
            text=f'Good question. You asked: "{text.strip()}" I am a simulator, so my honest answer is that I do not know.'
        )
    return Reply(text=f'You said: "{text.strip()}"')


# -- speech synthesis -----------------------------------------------------------

# Rough first and second formants (Hz) of English vowels; consonants use a neutral schwa.
_FORMANTS = {
    "a": (730, 1090), "e": (530, 1840), "i": (270, 2290), "o": (570, 840),
    "u": (300, 870), "y": (270, 2290),
}
_SCHWA = (500, 1500)
_VOICE_PITCH = {
    "alloy": 150.0, "ash": 110.0, "ballad": 120.0, "coral": 200.0, "echo": 115.0,
    "sage": 190.0, "shimmer": 210.0, "verse": 130.0, "marin": 195.0, "cedar": 105.0,
}


@functools.lru_cache(maxsize=512)
def _syllable(sound: str, rate: int, pitch: float) -> np.ndarray:
    """One character's worth of int16 sound: a voiced vowel-formant tone, quieter for consonants.

    Cached per (sound, rate, pitch); every syllable fades in and out, so
    concatenating them needs no phase continuity. The result is read-only.
    """
    duration = samples_per_char(rate)
    if sound == " ":
        return _frozen(np.zeros(duration, dtype=np.int16))
    t = np.arange(duration) / float(rate)
    f1, f2 = _FORMANTS.get(sound, _SCHWA)
    # a slight pitch glide makes it sound less like a test tone
    f0 = pitch * (1.0 + 0.03 * np.sin(2 * np.pi * 3.0 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    harmonics = np.arange(1, 30)
    harmonics = harmonics[pitch * harmonics < rate * 0.45]
    freqs = pitch * harmonics
    gains = np.exp(-(((freqs - f1) / 180.0) ** 2)) + 0.6 * np.exp(-(((freqs - f2) / 250.0) ** 2)) + 0.05 / harmonics
    signal = gains @ np.sin(np.outer(harmonics, phase))
    envelope = np.ones(duration)
    ramp = min(duration // 4, rate // 100)
    if ramp > 0:
        envelope[:ramp] = np.linspace(0.0, 1.0, ramp)
        envelope[-ramp:] = np.linspace(1.0, 0.0, ramp)
    level = 0.3 if sound in _FORMANTS else 0.12  # peak: vowels about -10 dBFS, consonants -18
    signal *= envelope * (level / float(np.max(np.abs(signal))))
    return _frozen(np.round(signal * 32767.0).astype(np.int16))


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def samples_per_char(rate: int) -> int:
    """Samples of synthesised speech per character of text at ``rate`` Hz."""
    return max(1, int(round(rate / CHARS_PER_SECOND)))


def synthesize_speech(text: str, rate: int, *, voice: str = "alloy") -> np.ndarray:
    """Synthesise a voiced, vowel-formant signal for ``text`` as int16 at ``rate`` Hz.

    Exactly ``samples_per_char(rate)`` samples per character (a speaking rate
    of ``CHARS_PER_SECOND``), so the audio of a prefix of the text is a prefix
    of the audio; spaces and punctuation are short pauses. Deterministic for a
    given text, rate and voice, and cheap (syllables are cached).
    """
    if not text:
        return np.zeros(0, dtype=np.int16)
    pitch = _VOICE_PITCH.get(voice, 150.0)
    sounds = [c.lower() if c.isalnum() else " " for c in text]
    return np.concatenate([_syllable(sound, int(rate), pitch) for sound in sounds])
