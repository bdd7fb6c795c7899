"""The wire's JSON with and without orjson (realtime_sync/_transport/encoding.py): the same values, bytes and errors.

Every test runs on the standard library path and, when orjson is installed
(the ``fast`` extra), on the orjson path. The expected values and errors are
the standard library's own (``json.loads`` / ``json.dumps``), computed here.
"""

from __future__ import annotations

import base64
import json
import math
import os
import socket
import threading
from typing import Any, Dict, Iterator, List, Optional

import pytest
from support_ws import raw_server, read_client_frame, server_frame

from realtime_sync._transport import encoding
from realtime_sync._transport.encoding import decode_event, encode_event
from realtime_sync.api import RealtimeAPI
from realtime_sync.errors import ConfigurationError


@pytest.fixture(params=["stdlib", "orjson"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "orjson":
        monkeypatch.setattr(encoding, "_orjson", pytest.importorskip("orjson"))
    else:
        monkeypatch.setattr(encoding, "_orjson", None)
    yield request.param


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (NaN equal to NaN).

    Walks with a stack of its own: Python 3.13's json parses nesting thousands
    deep, which a recursive comparison could not follow.
    """
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if not ((math.isnan(x) and math.isnan(y)) or x == y):
                return False
        elif isinstance(x, dict):
            if list(x) != list(y):
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y))
        elif x != y:
            return False
    return True


_AUDIO = base64.b64encode(os.urandom(4800)).decode()
PAYLOADS = [
    json.dumps({"type": "response.output_audio.delta", "event_id": "event_1", "item_id": "item_1", "delta": _AUDIO}).encode(),
    json.dumps({"type": "x", "nested": {"a": [1, 2.5, -0.0, None, True, {"b": "caf\u00e9 \U0001f600"}]}}).encode(),
    b'{"type":"x","text":"\\u00e9\\ud83d\\ude00\\n\\"\\\\"}',
    b'  {"type": "x"}  \n',
    b'{"type":"x","a":1,"a":2}',
    b'{"type":"x","big":123456789012345678901234567890,"neg":-9223372036854775809,"u64":18446744073709551615}',
    b'{"type":"x","list":[18446744073709551616]}',
    b"123456789012345678901234567890",
    b'{"type":"x","huge":1e400,"tiny":-1e400,"f":1e19}',
    b'{"type":"x","nan":NaN,"inf":Infinity,"ninf":-Infinity}',
    b'{"type":"x","lone":"\\ud800"}',
    b'"just a string"',
    b"[1, 2, 3]",
    b"4.9e-324",
    # refused by both, with the standard library's error
    b'\xef\xbb\xbf{"type":"x"}',
    b'{"type":"x"} trailing',
    b'{"type":"x","bad":"\xff\xfe"}',
    b'{"type":"x","surrogate":"\xed\xa0\x80"}',
    b'{"type":"x","ctl":"\x00"}',
    b'{"type":',
    b"",
    b"[" * 3000 + b"]" * 3000,
    b'{"a":' * 1200 + b"1" + b"}" * 1200,
]


def _stdlib(payload: bytes) -> Any:
    try:
        return ("value", json.loads(payload.decode("utf-8")))
    except (ValueError, RecursionError) as exc:
        return ("error", type(exc), str(exc))


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_decode_gives_the_standard_librarys_value_or_error(backend: str, payload: bytes) -> None:
    expected = _stdlib(payload)
    try:
        got = ("value", decode_event(payload))
    except (ValueError, RecursionError) as exc:
        got = ("error", type(exc), str(exc))
    if expected[0] == "value":
        assert got[0] == "value" and _same(got[1], expected[1])
    else:
        assert got == expected


_APPENDS: List[Dict[str, Any]] = [
    {"event_id": "evt_1234567890abcdefg", "type": "input_audio_buffer.append", "audio": _AUDIO},
    {"event_id": 'evt_"quoted"\\', "type": "input_audio_buffer.append", "audio": "not base64: \n\t\x00 \u00e9 \U0001f600"},
    {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": ""},
    {"type": "input_audio_buffer.append", "event_id": "evt_1", "audio": "QUJD"},  # another key order
    {"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": "".join(chr(c) for c in range(0x20, 0x3000))},
]


@pytest.mark.parametrize("event", _APPENDS, ids=range(len(_APPENDS)))
def test_an_append_is_encoded_to_json_dumps_bytes(backend: str, event: Dict[str, Any]) -> None:
    expected = json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    assert encode_event(event) == expected


@pytest.mark.parametrize(
    "event, message",
    [
        ({"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": "a\ud800b"}, "lone surrogate"),
        ({"event_id": "evt_\udfff", "type": "input_audio_buffer.append", "audio": "QUJD"}, "lone surrogate"),
        ({"event_id": "evt_1", "type": "input_audio_buffer.append", "audio": float("nan")}, "cannot be encoded as JSON"),
        ({"event_id": "evt_1", "type": "response.create", "response": {"temperature": float("inf")}}, "cannot be encoded"),
    ],
)
def test_what_json_cannot_encode_is_a_clear_configuration_error(backend: str, event: Dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        encode_event(event)


def test_the_backend_is_named() -> None:
    try:
        import orjson  # noqa: F401
    except ImportError:
        assert encoding.JSON_BACKEND == "stdlib"
    else:
        assert encoding.JSON_BACKEND == "orjson"


# -- through a real socket ---------------------------------------------------------------------------


def test_server_frames_and_appends_cross_a_real_socket_alike(backend: str) -> None:
    frames = [
        json.dumps({"type": "response.output_audio.delta", "event_id": "event_1", "delta": _AUDIO}).encode(),
        b'{"type":"x","event_id":"event_2","big":123456789012345678901234567890,"nan":NaN}',
        b'{"type":"x","event_id":"event_3","bad":"\xff"}',  # not UTF-8: one error dispatch
        b'{"type":"x","event_id":"event_4","lone":"\\udc00"}',
    ]
    got_frame: List[bytes] = []
    done = threading.Event()

    def script(conn: socket.socket) -> None:
        conn.sendall(b"".join(server_frame(f) for f in frames))
        conn.settimeout(10.0)
        _, payload = read_client_frame(conn)
        got_frame.append(payload)
        done.wait(10.0)

    events: List[Dict[str, Any]] = []
    errors: List[Dict[str, Any]] = []
    seen = threading.Event()
    with raw_server(script) as url:
        api = RealtimeAPI(url, ping_interval=None)
        api.on("server.*", events.append)
        api.on("error", lambda payload: (errors.append(payload), seen.set()))
        try:
            api.connect(timeout=5.0)
            event: Optional[Dict[str, Any]] = None
            event = {"event_id": "evt_abc", "audio": _AUDIO}
            api.send("input_audio_buffer.append", event)
            assert seen.wait(5.0)
            for _ in range(100):
                if len(events) >= 3 and got_frame:
                    break
                threading.Event().wait(0.05)
        finally:
            done.set()
            api.disconnect()
    assert [e["event_id"] for e in events] == ["event_1", "event_2", "event_4"]
    assert events[0]["delta"] == _AUDIO
    assert type(events[1]["big"]) is int and events[1]["big"] == 123456789012345678901234567890
    assert math.isnan(events[1]["nan"]) and events[2]["lone"] == "\udc00"
    assert len(errors) == 1 and "not valid UTF-8 JSON" in str(errors[0]["error"])
    assert got_frame == [b'{"event_id":"evt_abc","type":"input_audio_buffer.append","audio":"' + _AUDIO.encode() + b'"}']


def test_orjson_is_imported_on_first_use_not_with_the_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom realtime_sync import RealtimeClient\nfrom realtime_sync._transport import encoding\n"
        "before = 'orjson' in sys.modules\nencoding.decode_event(b'{\"type\":\"x\"}')\n"
        "print(before, encoding.JSON_BACKEND)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out[0] == "False" and out[1] in ("orjson", "stdlib")
