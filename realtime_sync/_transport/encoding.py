"""JSON for the wire: client events to frames (:func:`encode_event`), server frames to values (:func:`decode_event`).

``input_audio_buffer.append`` is most of what a voice client sends (ten or
fifty a second, each a few kilobytes of base64). ``json.dumps`` scans every
character of that base64 for escapes; when the audio holds only base64
characters (as everything :mod:`realtime_sync.audio` encodes does) nothing
needs escaping, so the frame is put together from bytes instead, at about a
third of the cost. Any other event, or audio with any other character, goes
through ``json.dumps``, so the bytes on the wire are the same either way.

With ``orjson`` installed (the ``fast`` extra) it serves the two hot paths,
and the standard library stays the reference for everything else:

* an append (three strings) is ``orjson.dumps``: byte for byte what
  ``json.dumps`` writes for strings (a lone surrogate, which orjson refuses,
  goes to ``json.dumps`` and its clear error);
* every server frame is parsed by ``orjson.loads`` first; what orjson refuses
  (invalid UTF-8 or JSON, ``NaN``, numbers out of a double's range, escaped
  lone surrogates, nesting over 1024 levels) is parsed again by the standard
  library, so the values and the errors are exactly the standard library's.
  orjson reads integers beyond 64 bits as floats: a value holding a float of
  that size is parsed again too.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, List, Mapping, Optional, Tuple

from ..errors import ConfigurationError

__all__ = ["encode_event", "decode_event", "append_template"]  # and JSON_BACKEND, computed on first use (__getattr__)


def _optional_orjson() -> Optional[Any]:
    """The ``orjson`` module of the optional ``fast`` extra, or None."""
    try:
        module = importlib.import_module("orjson")
    except ImportError:
        return None
    if not all(hasattr(module, name) for name in ("loads", "dumps", "JSONDecodeError", "JSONEncodeError")):
        return None
    return module


_UNSET: Any = object()
_orjson: Any = _UNSET  # the orjson module, None without it; looked up on first use (import time stays low)


def _backend() -> Any:
    global _orjson
    if _orjson is _UNSET:
        _orjson = _optional_orjson()
    return _orjson


def __getattr__(name: str) -> Any:  # PEP 562
    if name == "JSON_BACKEND":
        #: ``"orjson"`` when the ``fast`` extra's parser serves the hot paths, else ``"stdlib"``.
        return "orjson" if _backend() is not None else "stdlib"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_RAW_DECODE = json.JSONDecoder().raw_decode
_BIG = float(2**63)  # orjson's floats for integers it cannot hold are at least this large


def decode_event(payload: bytes) -> Any:
    """The JSON value of a server frame's UTF-8 payload, exactly as ``json.loads`` gives it.

    Raises:
        ValueError: not UTF-8 (``UnicodeDecodeError``) or not JSON
            (``json.JSONDecodeError``), with the standard library's message.
        RecursionError: nested deeper than this interpreter's ``json`` parses.
    """
    orjson = _orjson if _orjson is not _UNSET else _backend()
    if orjson is not None:
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, with its own error
        else:
            if _exact(value):
                return value
    text = payload.decode("utf-8")
    # json.loads is raw_decode between two whitespace matches: call the
    # documented raw_decode and leave any other shape to json.loads
    try:
        value, end = _RAW_DECODE(text)
    except ValueError:
        end = -1
    if end != len(text):
        value = json.loads(text)
    return value


def _exact(value: Any) -> bool:
    """Whether ``value`` holds no float orjson may have made of an integer beyond 64 bits."""
    if type(value) is dict:
        stack: List[Any] = [value]
    elif type(value) is list:
        stack = [value]
    else:
        return type(value) is not float or abs(value) < _BIG
    while stack:
        node = stack.pop()
        for item in node.values() if type(node) is dict else node:
            kind = type(item)
            if kind is float:
                if not abs(item) < _BIG:  # also NaN, which orjson never makes
                    return False
            elif kind is dict or kind is list:
                stack.append(item)
    return True

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_APPEND_KEYS = ("event_id", "type", "audio")  # in this order: the bytes are json.dumps's


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
    if tuple(event) != _APPEND_KEYS:
        return None
    audio, event_id = event["audio"], event["event_id"]
    orjson = _orjson if _orjson is not _UNSET else _backend()
    if orjson is not None and type(audio) is str and type(event_id) is str and type(event["type"]) is str:
        try:
            encoded: bytes = orjson.dumps(event)  # strings only: json.dumps's bytes
        except orjson.JSONEncodeError:  # a lone surrogate: the general encoder's error
            return None
        return encoded
    if type(audio) is not str or type(event_id) is not str or not audio.isascii() or not event_id.isascii():
        return None
    data = audio.encode("ascii")
    if data.translate(None, _BASE64_ALPHABET):  # a character that is not base64
        return None
    head = json.dumps(event_id).encode("ascii")
    return b"".join((b'{"event_id":', head, b',"type":"input_audio_buffer.append","audio":"', data, b'"}'))  # one copy


def append_template(event_type: str = "input_audio_buffer.append") -> Tuple[bytes, bytes, bytes]:
    """``(head, middle, tail)``: ``head + event_id + middle + audio + tail`` is :func:`encode_event`'s bytes.

    That is, of ``{"event_id": event_id, "type": event_type, "audio": audio}``,
    for an ``event_id`` and an ``audio`` of ASCII characters JSON leaves
    unescaped (base58 ids, base64 audio), keys in that order (json.dumps's
    compact separators, as :func:`_append_frame` writes).
    """
    return b'{"event_id":"', b'","type":' + json.dumps(event_type, ensure_ascii=False).encode("utf-8") + b',"audio":"', b'"}'
