"""The client-event encoder: the audio-append fast path writes exactly what json.dumps would."""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Dict

import pytest

from realtime_sync._transport import encoding
from realtime_sync._transport.encoding import encode_event
from realtime_sync.errors import ConfigurationError


def _reference(event: Dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4800, 65536])
def test_an_append_of_base64_audio_takes_the_fast_path_with_identical_bytes(size: int) -> None:
    audio = base64.b64encode(os.urandom(size)).decode()
    event = {"event_id": "evt_abcdefghijklmnopq", "type": "input_audio_buffer.append", "audio": audio}
    assert encoding._append_frame(event) is not None  # the fast path was taken
    assert encode_event(event) == _reference(event)


def test_an_event_id_that_needs_escaping_is_escaped_on_the_fast_path() -> None:
    event = {"event_id": 'ev"t\\1', "type": "input_audio_buffer.append", "audio": "AAAA"}
    assert encoding._append_frame(event) == _reference(event)
    assert json.loads(encode_event(event)) == event


@pytest.mark.parametrize(
    "event",
    [
        {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": 'AA"}, "x": "'},  # would break out
        {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": "AA\\u0041"},
        {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": "AA\nAA"},
        {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": "AAé"},
        {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": "AAAA", "extra": 1},
        {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": 7},
        {"event_id": "evt_é", "type": "input_audio_buffer.append", "audio": "AAAA"},
    ],
)
def test_anything_else_goes_through_json_with_the_same_result(event: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert encode_event(event) == _reference(event)  # orjson (the fast extra) writes strings as json.dumps does
    assert json.loads(encode_event(event)) == event
    monkeypatch.setattr(encoding, "_orjson", None)  # the standard library's fast path leaves these to json.dumps
    assert encoding._append_frame(event) is None
    assert encode_event(event) == _reference(event)


def test_bad_values_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="UTF-8"):
        encode_event({"event_id": "evt_\ud800", "type": "input_audio_buffer.append", "audio": "AAAA"})
    with pytest.raises(ConfigurationError, match="JSON"):
        encode_event({"event_id": "evt_1", "type": "response.create", "response": {"temperature": float("nan")}})
    with pytest.raises(ConfigurationError, match="JSON"):
        encode_event({"event_id": "evt_1", "type": "response.create", "response": {"x": object()}})
