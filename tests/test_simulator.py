"""Tests of realtime_sync.simulator, driven over a raw websocket-client connection.

Every server event received here is validated against the ``openai`` package's
beta Realtime models (``openai.types.beta.realtime.RealtimeServerEvent``), with
unknown fields reported as failures as well.
"""

from __future__ import annotations

import base64
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import pytest
import websocket
from support_client import RawConnection, collapse
from support_ga import undeclared_fields

from realtime_sync import audio
from realtime_sync.simulator import (
    RealtimeSimulator,
    Reply,
    default_responder,
    synthesize_speech,
)
from realtime_sync.simulator.vad import EnergyVAD, threshold_to_dbfs

pydantic = pytest.importorskip("pydantic")
realtime_types = pytest.importorskip("openai.types.beta.realtime")
_ADAPTER = pydantic.TypeAdapter(realtime_types.RealtimeServerEvent)

BETA = ["OpenAI-Beta: realtime=v1"]
# In the spec's session object (and its examples) but not declared by the openai models.
_SPEC_ONLY_FIELDS = {"session.object"}


def validate(event: Dict[str, Any]) -> None:
    """Assert that ``event`` is a valid beta server event with no undeclared fields."""
    model = _ADAPTER.validate_python(event)
    extra = [f for f in undeclared_fields(model) if f not in _SPEC_ONLY_FIELDS]
    assert extra == [], (event["type"], extra)
    assert event["event_id"].startswith("event_") and len(event["event_id"]) > 12


class Conn(RawConnection):
    """A raw websocket-client connection that validates what it receives."""

    def __init__(
        self, url: str, *, header: Optional[List[str]] = None, query: str = "?model=gpt-4o-realtime-preview-2024-12-17"
    ) -> None:
        super().__init__(url + "/v1/realtime" + query, validate, header=BETA if header is None else header)
        self.session = self.expect("session.created")["session"]
        self.expect("conversation.created")

    def send(self, event_type: str, **fields: Any) -> str:
        event_id = fields.pop("event_id", None) or f"evt_test{len(self.received)}_{event_type}"
        self.ws.send(json.dumps({"type": event_type, "event_id": event_id, **fields}))
        return event_id

    def update(self, **session: Any) -> Dict[str, Any]:
        self.send("session.update", session=session)
        return self.expect("session.updated")["session"]

    def user_text(self, text: str) -> Dict[str, Any]:
        self.send_user_text(text)
        return self.expect("conversation.item.created")["item"]


@pytest.fixture
def conn(simulator: RealtimeSimulator) -> Any:
    connection = Conn(simulator.url)
    yield connection
    connection.close()


def tone(ms: int, rate: int = 24000, amplitude: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(rate * ms // 1000) / rate
    return np.round(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def silence(ms: int, rate: int = 24000) -> np.ndarray:
    return np.zeros(rate * ms // 1000, dtype=np.int16)


def append(conn: Conn, samples: np.ndarray, chunk_ms: int = 40, audio_format: str = "pcm16") -> None:
    rate = audio.sample_rate(audio_format)
    step = rate * chunk_ms // 1000
    for start in range(0, len(samples), step):
        conn.send("input_audio_buffer.append", audio=audio.encode_audio(samples[start : start + step], audio_format))


# -- session --------------------------------------------------------------------


@pytest.mark.parametrize("stem_char", ["1", "f", "z"])
def test_ids_are_unique_in_a_process_whatever_the_random_stem(monkeypatch: pytest.MonkeyPatch, stem_char: str) -> None:
    """Ids are a per-process random stem and a serial: serial 0x3 after a stem ending in "1" must not
    read as serial 0x13 after a stem one character shorter (a duplicate item or event id)."""
    import itertools

    from realtime_sync.simulator import config as sim_config

    monkeypatch.setattr(sim_config, "_STEM", stem_char * 32)
    monkeypatch.setattr(sim_config, "_serial", itertools.count(1))
    ids = [sim_config.new_id("item") for _ in range(70_000)] + [sim_config.new_id("call", 16) for _ in range(10)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == len("item_") + 21 for i in ids[:70_000]) and all(i[5:].isalnum() for i in ids)


def test_session_created_is_complete_and_echoes_model(conn: Conn) -> None:
    session = conn.session
    assert session["id"].startswith("sess_") and session["object"] == "realtime.session"
    assert session["model"] == "gpt-4o-realtime-preview-2024-12-17"
    assert session["modalities"] == ["text", "audio"]
    assert session["turn_detection"]["type"] == "server_vad"
    for key in ("instructions", "voice", "input_audio_format", "output_audio_format", "input_audio_transcription",
                "tools", "tool_choice", "temperature", "max_response_output_tokens"):
        assert key in session
    created = conn.received[1]
    assert created["conversation"]["id"].startswith("conv_")


def test_session_update_merges_and_returns_whole_session(conn: Conn) -> None:
    session = conn.update(instructions="Be brief.", voice="sage", turn_detection=None, temperature=0.7)
    assert session["instructions"] == "Be brief." and session["voice"] == "sage"
    assert session["turn_detection"] is None and session["temperature"] == 0.7
    assert session["id"] == conn.session["id"] and session["modalities"] == ["text", "audio"]
    session = conn.update(turn_detection={"type": "server_vad", "threshold": 0.7})
    assert session["turn_detection"]["threshold"] == 0.7
    assert session["turn_detection"]["silence_duration_ms"] == 200  # default filled in


@pytest.mark.parametrize(
    "update, code, param",
    [
        ({"voice": "robot"}, "invalid_value", "session.voice"),
        ({"output_audio_format": "mp3"}, "invalid_value", "session.output_audio_format"),
        ({"input_audio_format": "wav"}, "invalid_value", "session.input_audio_format"),
        ({"temperature": 0.1}, "decimal_below_min_value", "session.temperature"),
        ({"temperature": 2.0}, "decimal_above_max_value", "session.temperature"),
        ({"temperature": "hot"}, "invalid_type", "session.temperature"),
        ({"tools": [{"type": "function"}]}, "missing_required_parameter", "session.tools[0].name"),
        ({"tools": "get_weather"}, "invalid_type", "session.tools"),
        ({"tools": [{"name": "x", "parameters": []}]}, "invalid_type", "session.tools[0].parameters"),
        ({"modalities": ["audio"]}, "invalid_value", "session.modalities"),
        ({"turn_detection": {"threshold": 3}}, "decimal_above_max_value", "session.turn_detection.threshold"),
        ({"max_response_output_tokens": 0}, "integer_below_min_value", "session.max_response_output_tokens"),
        ({"colour": "blue"}, "unknown_parameter", "session.colour"),
    ],
)
def test_session_update_rejects_bad_values_and_changes_nothing(conn: Conn, update: Dict[str, Any], code: str, param: str) -> None:
    event_id = conn.send("session.update", session={"instructions": "changed", **update})
    error = conn.expect("error")["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"], error["event_id"]) == (code, param, event_id)
    assert error["message"]
    session = conn.update()
    assert session == conn.session


_ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
_AUDIO_PART = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "!!!!"}]}
# (frame, binary, code, param); the session must answer with that error and go on
_BAD_FRAMES = [
    ("{not json", False, "invalid_json", None),
    ('{"type": "session.update", "session": {"temperature": NaN}}', False, "invalid_json", None),
    ("[1, 2]", False, "invalid_type", None),
    ("null", False, "invalid_type", None),
    (json.dumps({"type": "input_audio_buffer.clear"}), True, "invalid_type", None),
    (json.dumps({"event_id": "evt_x"}), False, "invalid_event", None),
    (json.dumps({"type": 5}), False, "invalid_type", "type"),
    (json.dumps({"type": ["session.update"]}), False, "invalid_type", "type"),
    (json.dumps({"type": "session.explode"}), False, "invalid_value", "type"),
    (json.dumps({"type": "session.update", "session": "fast"}), False, "invalid_type", "session"),
    (
        json.dumps({"type": "session.update", "session": {"tool_choice": {"type": "function", "function": "f"}}}),
        False,
        "invalid_value",
        "session.tool_choice",
    ),
    (json.dumps({"type": "conversation.item.create"}), False, "missing_required_parameter", "item"),
    (json.dumps({"type": "conversation.item.create", "item": dict(_ITEM, role=["user"])}), False, "invalid_value", "item.role"),
    (json.dumps({"type": "conversation.item.create", "item": _AUDIO_PART}), False, "invalid_value", "item.content[0].audio"),
    (json.dumps({"type": "conversation.item.delete", "item_id": ["x"]}), False, "invalid_type", "item_id"),
]


@pytest.mark.parametrize("frame, binary, code, param", _BAD_FRAMES)
def test_bad_client_frames_get_errors_and_the_session_goes_on(
    conn: Conn, caplog: Any, frame: str, binary: bool, code: str, param: Optional[str]
) -> None:
    caplog.set_level(logging.WARNING)
    if binary:
        conn.ws.send_binary(frame.encode("utf-8"))
    else:
        conn.ws.send(frame)
    error = conn.expect("error")["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param), error
    assert error["message"]
    if code == "invalid_event":  # the spec's example error event, word for word
        assert (error["message"], error["event_id"]) == ("The 'type' field is missing.", "evt_x")
    assert conn.update(instructions="still here")["instructions"] == "still here"
    assert [r.getMessage() for r in caplog.records] == []


def test_unknown_event_type_error_names_the_type(conn: Conn) -> None:
    event_id = conn.send("session.explode")
    error = conn.expect("error")["error"]
    assert error["event_id"] == event_id and "'session.explode'" in error["message"]
    assert "'response.create'" in error["message"]  # lists what is supported


@pytest.mark.parametrize("filler", ["A", "\u00e9"], ids=["ascii", "two-byte"])
def test_huge_frame_gets_an_error_and_the_session_goes_on(conn: Conn, filler: str) -> None:
    size = 16 * 1024 * 1024 + 2  # over the limit in bytes (in characters too when ASCII)
    instructions = filler * (size // len(filler.encode("utf-8")))
    conn.ws.send(json.dumps({"type": "session.update", "session": {"instructions": instructions}}, ensure_ascii=False))
    error = conn.expect("error")["error"]
    assert (error["code"], error["event_id"]) == ("message_too_large", None)
    assert "the maximum is 16777216 bytes" in error["message"]
    assert conn.update(instructions="still here")["instructions"] == "still here"


def test_unexpected_failure_in_a_handler_is_a_server_error_not_a_dead_session(
    conn: Conn, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import realtime_sync.simulator.wire as sim_session

    def broken(item: Any) -> None:
        raise RuntimeError("bug in the simulator")

    monkeypatch.setattr(sim_session, "validate_item", broken)
    event_id = conn.send("conversation.item.create", item=_ITEM)
    error = conn.expect("error")["error"]
    assert (error["type"], error["event_id"]) == ("server_error", event_id)
    assert "bug in the simulator" not in error["message"]
    assert "bug in the simulator" in caplog.text  # logged with its traceback
    assert conn.update(instructions="still here")["instructions"] == "still here"


# -- responses --------------------------------------------------------------------


TEXT_ORDER = [
    "response.created",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
    "response.text.delta",
    "response.text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
    "rate_limits.updated",
]


def test_text_response_event_order_and_content(conn: Conn) -> None:
    conn.update(modalities=["text"], turn_detection=None)
    user = conn.user_text("Hello there")
    conn.send("response.create")
    events = conn.until("rate_limits.updated")
    assert collapse([e["type"] for e in events]) == TEXT_ORDER
    created, added, item_created = events[0], events[1], events[2]
    response_id = created["response"]["id"]
    assert response_id.startswith("resp_") and created["response"]["status"] == "in_progress"
    item = added["item"]
    assert item["id"].startswith("item_") and item["status"] == "in_progress" and item["role"] == "assistant"
    assert item_created["previous_item_id"] == user["id"] and item_created["item"]["id"] == item["id"]
    text = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
    assert text == "Hello! How can I help you today?"
    assert len([e for e in events if e["type"] == "response.text.delta"]) > 3
    assert next(e for e in events if e["type"] == "response.text.done")["text"] == text
    for event in events[1:-2]:
        if event["type"] != "conversation.item.created":
            assert event["response_id"] == response_id
    done = events[-2]["response"]
    assert done["status"] == "completed" and done["status_details"] is None
    assert done["output"][0]["content"] == [{"type": "text", "text": text}]
    assert done["output"][0]["status"] == "completed"
    assert done["usage"]["output_tokens"] > 0 and done["usage"]["total_tokens"] >= done["usage"]["output_tokens"]
    limits = {r["name"]: r for r in events[-1]["rate_limits"]}
    assert limits["requests"]["remaining"] == limits["requests"]["limit"] - 1


def test_audio_response_interleaves_audio_and_transcript(conn: Conn) -> None:
    conn.update(turn_detection=None)
    conn.user_text("Tell me something")
    conn.send("response.create")
    events = conn.until("rate_limits.updated")
    types = collapse([e["type"] for e in events])
    assert types[:4] == TEXT_ORDER[:4]
    assert types[-6:] == [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    middle = types[4:-6]
    assert set(middle) == {"response.audio.delta", "response.audio_transcript.delta"}
    assert middle[0] == "response.audio_transcript.delta" and middle.count("response.audio.delta") > 3  # interleaved
    part = events[3]["part"]
    assert part == {"type": "audio", "transcript": ""}
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.audio_transcript.delta")
    assert transcript == 'You said: "Tell me something"'
    samples = np.concatenate(
        [audio.decode_audio(e["delta"], "pcm16") for e in events if e["type"] == "response.audio.delta"]
    )
    seconds = len(samples) / 24000
    assert seconds == pytest.approx(len(transcript) / 15.0, rel=0.05)
    rms = np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768
    assert 20 * np.log10(rms) > -30  # real, loud enough to be speech
    spectrum = np.abs(np.fft.rfft(samples[:24000].astype(np.float64)))
    peak_hz = np.argmax(spectrum) * 24000 / len(samples[:24000])
    assert 100 < peak_hz < 3000  # a voiced, speech-band signal
    done = events[-2]["response"]
    assert done["output"][0]["content"] == [{"type": "audio", "transcript": transcript}]
    assert done["usage"]["output_token_details"]["audio_tokens"] > 0


def test_voice_cannot_change_once_audio_was_sent(conn: Conn) -> None:
    conn.update(turn_detection=None, voice="echo")  # allowed before any audio
    conn.send("response.create")
    conn.until("rate_limits.updated")
    event_id = conn.send("session.update", session={"voice": "alloy"})
    error = conn.expect("error")["error"]
    assert (error["code"], error["param"], error["event_id"]) == ("cannot_update_voice", "session.voice", event_id)
    assert conn.update(voice="echo")["voice"] == "echo"  # the same voice is fine


def test_audio_output_in_g711_format(conn: Conn) -> None:
    conn.update(turn_detection=None, output_audio_format="g711_ulaw")
    conn.user_text("Hi")
    conn.send("response.create")
    events = conn.until("response.done")
    raw = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta")
    transcript = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert len(raw) / 8000 == pytest.approx(len(transcript) / 15.0, rel=0.05)  # one byte per 8 kHz sample
    assert np.abs(audio.ulaw_decode(raw).astype(np.int32)).max() > 3000


def test_second_response_create_while_active_is_rejected(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    gate = threading.Event()

    def slow(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Reply:
        gate.wait(10)
        return Reply(text="done")

    conn = Conn(make_simulator(responder=slow).url)
    conn.update(turn_detection=None, modalities=["text"])
    conn.send("response.create")
    conn.expect("response.created")
    event_id = conn.send("response.create")
    error = conn.expect("error")["error"]
    assert error["code"] == "conversation_already_has_active_response"
    assert error["message"].startswith("Conversation already has an active response")
    assert error["event_id"] == event_id
    gate.set()
    assert conn.until("response.done")[-1]["response"]["status"] == "completed"
    conn.send("response.create")  # accepted once the first is done
    assert conn.until("response.done")[-1]["response"]["status"] == "completed"
    conn.close()


def test_response_overrides_out_of_band_and_custom_responder(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    seen: List[Any] = []

    def responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Dict[str, Any]:
        seen.append((items, session))
        return {"text": f"{len(items)} items; {session['instructions']}"}

    conn = Conn(make_simulator(responder=responder).url)
    conn.update(turn_detection=None)
    conn.user_text("one")
    conn.send(
        "response.create",
        response={"modalities": ["text"], "instructions": "Shout.", "conversation": "none", "metadata": {"topic": "x"}},
    )
    events = conn.until("response.done")
    assert "conversation.item.created" not in [e["type"] for e in events]
    done = events[-1]["response"]
    assert done["conversation_id"] is None and done["metadata"] == {"topic": "x"}
    assert done["output"][0]["content"][0]["text"] == "1 items; Shout."
    assert seen[0][1]["modalities"] == ["text"]
    # the out-of-band reply did not join the conversation
    message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
    conn.send("response.create", response={"modalities": ["text"], "input": [message]})
    assert conn.until("response.done")[-1]["response"]["output"][0]["content"][0]["text"].startswith("1 items")
    conn.expect("rate_limits.updated")
    conn.send("response.create", response={"temperature": 5})
    error = conn.expect("error")["error"]
    assert (error["code"], error["param"]) == ("decimal_above_max_value", "response.temperature")
    conn.close()


def test_responder_failure_gives_failed_response(make_simulator: Callable[..., RealtimeSimulator], caplog: Any) -> None:
    def broken(items: Any, session: Any) -> Reply:
        raise RuntimeError("boom")

    conn = Conn(make_simulator(responder=broken).url)
    conn.update(turn_detection=None)
    conn.send("response.create")
    done = conn.until("response.done")[-1]["response"]
    assert done["status"] == "failed" and done["status_details"]["error"] == {"type": "server_error", "code": "responder_error"}
    assert "responder raised" in caplog.text
    conn.send("response.create")  # the session goes on
    assert conn.until("response.done")[-1]["response"]["status"] == "failed"
    conn.close()


def test_max_output_tokens_makes_response_incomplete(conn: Conn) -> None:
    conn.update(turn_detection=None, modalities=["text"])
    conn.user_text("Please repeat this long sentence back to me word for word")
    conn.send("response.create", response={"max_response_output_tokens": 2})
    done = conn.until("response.done")[-1]["response"]
    assert done["status"] == "incomplete" and done["status_details"]["reason"] == "max_output_tokens"
    assert done["output"][0]["content"][0]["text"] == "You said"  # 2 tokens of about 4 characters


# -- cancellation -------------------------------------------------------------------


def test_response_cancel_stops_stream(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator(speed=1.0).url)  # real time: the reply would last seconds
    conn.update(turn_detection=None)
    conn.user_text("Please repeat a rather long sentence so that the reply takes several seconds")
    conn.send("response.create")
    conn.until("response.audio.delta")
    conn.send("response.cancel")
    events = conn.until("response.done")
    types = collapse([e["type"] for e in events])
    assert types[-5:] == [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    transcript = done["output"][0]["content"][0]["transcript"]
    assert 0 < len(transcript) < 40
    conn.expect("rate_limits.updated")
    event_id = conn.send("response.cancel")
    error = conn.expect("error")["error"]
    assert error["code"] == "response_cancel_not_active" and error["event_id"] == event_id
    conn.close()


def test_nothing_streams_after_a_handled_cancel(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator(speed=20.0).url)
    conn.update(turn_detection=None)
    conn.user_text("Please repeat a rather long sentence so that the reply takes several seconds")
    conn.send("response.create")
    item_id = conn.until("response.audio.delta")[-1]["item_id"]
    conn.send("response.cancel")
    conn.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=0)
    events = conn.until("conversation.item.truncated")
    if "response.done" not in [e["type"] for e in events]:
        events += conn.until("response.done")
    types = [e["type"] for e in events]
    after = types[types.index("conversation.item.truncated") :]
    assert not [t for t in after if t.endswith(".delta")], after
    conn.close()


def test_cancel_before_streaming_starts(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    gate = threading.Event()

    def slow(items: Any, session: Any) -> Reply:
        gate.wait(10)
        return Reply(text="never streamed")

    conn = Conn(make_simulator(responder=slow).url)
    conn.update(turn_detection=None)
    conn.send("response.create")
    created = conn.expect("response.created")
    conn.send("response.cancel", response_id="resp_other")
    assert conn.expect("error")["error"]["code"] == "response_cancel_not_active"
    conn.send("response.cancel", response_id=created["response"]["id"])
    conn.send("response.cancel", response_id="resp_other")  # its error shows the cancel was handled
    assert conn.expect("error")["error"]["code"] == "response_cancel_not_active"
    gate.set()
    done = conn.expect("response.done")["response"]
    assert done["status"] == "cancelled" and done["output"] == []
    conn.close()


# -- input audio buffer and VAD ----------------------------------------------------------


def test_append_bad_base64_and_short_commit(conn: Conn) -> None:
    conn.update(turn_detection=None)
    event_id = conn.send("input_audio_buffer.append", audio="this is not base64!")
    error = conn.expect("error")["error"]
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "audio", event_id)
    assert error["message"].startswith("Invalid 'audio'. Expected base64-encoded audio bytes")
    conn.send("input_audio_buffer.commit")
    error = conn.expect("error")["error"]
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        "but buffer only has 0.00ms of audio."
    )
    append(conn, tone(50))
    conn.send("input_audio_buffer.commit")
    assert conn.expect("error")["error"]["message"].endswith("buffer only has 50.00ms of audio.")
    conn.send("input_audio_buffer.clear")
    conn.expect("input_audio_buffer.cleared")


def test_manual_commit_creates_user_audio_item_with_transcription(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator(transcriber=["what is the weather"]).url)
    conn.update(turn_detection=None, input_audio_transcription={"model": "whisper-1"}, modalities=["text"])
    previous = conn.user_text("first")
    append(conn, tone(300, rate=8000), audio_format="pcm16")  # any audio will do
    conn.send("input_audio_buffer.commit")
    committed = conn.expect("input_audio_buffer.committed")
    assert committed["previous_item_id"] == previous["id"]
    item = conn.expect("conversation.item.created")["item"]
    assert item["id"] == committed["item_id"] and item["role"] == "user"
    assert item["content"] == [{"type": "input_audio", "transcript": None}]
    transcription = conn.expect("conversation.item.input_audio_transcription.completed")
    assert (transcription["item_id"], transcription["transcript"]) == (item["id"], "what is the weather")
    conn.send("response.create")
    done = conn.until("response.done")[-1]["response"]
    assert "what is the weather" in done["output"][0]["content"][0]["text"]
    conn.close()


@pytest.mark.parametrize(
    "transcriber, expected",
    [
        ((text for text in ["one", "two"]), ["one", "two", "one"]),  # any iterable, read once
        ("always this", ["always this"] * 3),  # a single string is one script line, not characters
    ],
    ids=["generator", "string"],
)
def test_scripted_transcripts_are_used_in_turn(
    make_simulator: Callable[..., RealtimeSimulator], transcriber: Any, expected: List[str]
) -> None:
    conn = Conn(make_simulator(transcriber=transcriber).url)
    conn.update(turn_detection=None, input_audio_transcription={"model": "whisper-1"})
    heard = []
    for _ in expected:
        append(conn, tone(200))
        conn.send("input_audio_buffer.commit")
        heard.append(conn.until("conversation.item.input_audio_transcription.completed")[-1]["transcript"])
    assert heard == expected
    conn.close()


def test_transcription_failure_and_transcript_before_item(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator(transcriber=[None, "second"], transcript_before_item=True).url)
    conn.update(turn_detection=None, input_audio_transcription={"model": "whisper-1"})
    append(conn, tone(200))
    conn.send("input_audio_buffer.commit")
    item_id = conn.expect("input_audio_buffer.committed")["item_id"]
    failed = conn.expect("conversation.item.input_audio_transcription.failed")
    assert failed["item_id"] == item_id and failed["error"]["code"] == "audio_unintelligible"
    assert conn.expect("conversation.item.created")["item"]["content"][0]["transcript"] is None
    append(conn, tone(200))
    conn.send("input_audio_buffer.commit")
    conn.expect("input_audio_buffer.committed")
    assert conn.expect("conversation.item.input_audio_transcription.completed")["transcript"] == "second"
    conn.expect("conversation.item.created")
    conn.close()


def test_server_vad_turn(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator().url)
    conn.update(
        modalities=["text"],
        input_audio_transcription={"model": "whisper-1"},
        turn_detection={"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500},
    )
    append(conn, silence(1000))
    append(conn, tone(600, amplitude=0.005))  # about -49 dBFS: under the -40 dBFS threshold
    append(conn, tone(800))  # loud speech from 1600 ms
    append(conn, silence(700))
    started = conn.expect("input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == 1600 - 300
    stopped = conn.expect("input_audio_buffer.speech_stopped")
    assert stopped["item_id"] == started["item_id"]
    assert stopped["audio_end_ms"] == 1600 + 800 + 500
    committed = conn.expect("input_audio_buffer.committed")
    assert committed["item_id"] == started["item_id"]
    item = conn.expect("conversation.item.created")["item"]
    assert item["id"] == started["item_id"]
    transcript = conn.expect("conversation.item.input_audio_transcription.completed")["transcript"]
    assert transcript == "(inaudible: 1.6 seconds of speech)"  # 300 ms padding + 800 ms + 500 ms silence
    events = conn.until("rate_limits.updated")
    assert collapse([e["type"] for e in events]) == TEXT_ORDER
    # create_response false: commit only
    conn.update(turn_detection={"create_response": False})
    append(conn, tone(300))
    append(conn, silence(600))
    assert [conn.recv()["type"] for _ in range(5)] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
        "conversation.item.input_audio_transcription.completed",
    ]
    conn.update()  # nothing else was sent in between
    conn.close()


def test_g711_input_vad(conn: Conn) -> None:
    conn.update(input_audio_format="g711_alaw", modalities=["text"])
    append(conn, np.concatenate([silence(200, 8000), tone(400, 8000), silence(300, 8000)]), audio_format="g711_alaw")
    started = conn.expect("input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == 0  # padding is limited by the start of the stream
    assert conn.expect("input_audio_buffer.speech_stopped")["audio_end_ms"] == 200 + 400 + 200


def test_speech_during_response_cancels_it_turn_detected(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator(speed=1.0).url)
    conn.update(modalities=["text", "audio"])
    conn.user_text("Please say something long enough to be interrupted by the user speaking")
    conn.send("response.create")
    conn.until("response.audio.delta")
    append(conn, tone(200))
    events = conn.until("response.done")
    types = [e["type"] for e in events]
    assert "input_audio_buffer.speech_started" in types
    assert types.index("input_audio_buffer.speech_started") < types.index("response.done")
    done = events[-1]["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    conn.close()


def test_full_turn_during_response_cancels_it_and_answers_the_new_turn(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator(speed=1.0, transcriber=["stop talking please"]).url)
    conn.update(modalities=["text"], turn_detection={"silence_duration_ms": 200})
    conn.user_text("Please say something long enough to be interrupted by the user speaking")
    conn.send("response.create")
    first = conn.until("response.text.delta")[0]["response"]["id"]
    append(conn, np.concatenate([tone(300), silence(300)]), chunk_ms=600)  # one append: start and stop at once
    events = conn.until("response.created")
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert (done["id"], done["status_details"]["reason"]) == (first, "turn_detected")
    assert [e["type"] for e in events if e["type"].startswith("input_audio_buffer")] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    assert not [e for e in events if e["type"] == "error"]
    reply = conn.until("response.done")[-1]["response"]
    assert reply["status"] == "completed" and "stop talking please" in reply["output"][0]["content"][0]["text"]
    conn.close()


def test_energy_vad_threshold_mapping() -> None:
    assert threshold_to_dbfs(0.0) == -70 and threshold_to_dbfs(0.5) == -40 and threshold_to_dbfs(1.0) == -10
    loud = tone(300, amplitude=0.05)  # about -29 dBFS RMS
    assert [e.kind for e in EnergyVAD(24000, threshold=0.5).feed(loud)] == ["started"]
    assert EnergyVAD(24000, threshold=0.9).feed(loud) == []


# -- items ------------------------------------------------------------------------------------


def test_item_create_with_previous_item_id_and_errors(conn: Conn) -> None:
    conn.update(turn_detection=None)
    first = conn.user_text("a")
    conn.user_text("b")
    conn.send(
        "conversation.item.create",
        previous_item_id=first["id"],
        item={"id": "item_mine", "type": "message", "role": "system", "content": [{"type": "input_text", "text": "c"}]},
    )
    created = conn.expect("conversation.item.created")
    assert created["previous_item_id"] == first["id"] and created["item"]["id"] == "item_mine"
    event_id = conn.send("conversation.item.create", previous_item_id="item_nope", item=created["item"] | {"id": "x2"})
    error = conn.expect("error")["error"]
    assert error["param"] == "previous_item_id" and error["event_id"] == event_id
    conn.send("conversation.item.create", item={"type": "message", "role": "user", "content": [{"type": "text", "text": "x"}]})
    assert conn.expect("error")["error"]["param"] == "item.content[0].type"
    conn.send("conversation.item.create", item={"type": "function_call_output", "call_id": "call_missing", "output": "{}"})
    assert conn.expect("error")["error"]["param"] == "item.call_id"
    conn.send("conversation.item.create")
    assert conn.expect("error")["error"]["code"] == "missing_required_parameter"


def test_delete_and_truncate(conn: Conn) -> None:
    conn.update(turn_detection=None)
    user = conn.user_text("Please say a sentence I can truncate")
    conn.send("response.create")
    done = conn.until("rate_limits.updated")[-2]["response"]
    assistant = done["output"][0]
    duration_ms = len(assistant["content"][0]["transcript"]) * 1000 // 15
    conn.send("conversation.item.truncate", item_id=assistant["id"], content_index=0, audio_end_ms=500)
    truncated = conn.expect("conversation.item.truncated")
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (assistant["id"], 500)
    event_id = conn.send("conversation.item.truncate", item_id=assistant["id"], content_index=0, audio_end_ms=duration_ms)
    error = conn.expect("error")["error"]
    assert error["code"] == "invalid_value" and error["event_id"] == event_id
    assert error["message"] == f"Audio content of 500ms is already shorter than {duration_ms}ms"
    conn.send("conversation.item.truncate", item_id=user["id"], content_index=0, audio_end_ms=0)
    assert "assistant" in conn.expect("error")["error"]["message"]
    conn.send("conversation.item.truncate", item_id="item_unknown", content_index=0, audio_end_ms=0)
    assert conn.expect("error")["error"]["code"] == "item_not_found"
    conn.send("conversation.item.delete", item_id=user["id"])
    assert conn.expect("conversation.item.deleted")["item_id"] == user["id"]
    event_id = conn.send("conversation.item.delete", item_id=user["id"])
    error = conn.expect("error")["error"]
    assert error["code"] == "item_not_found" and error["event_id"] == event_id and user["id"] in error["message"]


# -- function calling -----------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a place",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"],
    },
}


def test_function_calling_round_trip(conn: Conn) -> None:
    conn.update(turn_detection=None, modalities=["text"], tools=[WEATHER])
    conn.user_text("What's the weather in Paris today?")
    conn.send("response.create")
    events = conn.until("rate_limits.updated")
    assert collapse([e["type"] for e in events]) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    call = events[-3]["item"]
    assert call["type"] == "function_call" and call["name"] == "get_weather" and call["status"] == "completed"
    assert call["call_id"].startswith("call_")
    arguments = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert arguments == call["arguments"] == events[-4]["arguments"]
    assert json.loads(arguments) == {"location": "Paris", "unit": "celsius"}
    conn.send(
        "conversation.item.create",
        item={
            "type": "function_call_output",
            "call_id": call["call_id"],
            "output": json.dumps({"temperature_c": 21, "sky": "clear"}),
        },
    )
    assert conn.expect("conversation.item.created")["previous_item_id"] == call["id"]
    conn.send("response.create")
    done = conn.until("response.done")[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == "Here is what get_weather returned: temperature c 21, sky clear."


def test_reply_with_text_and_tool_call_has_two_outputs(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    reply = Reply(text="Let me check.", tool_name="lookup", tool_arguments='{"q": "x"}')
    conn = Conn(make_simulator(responder=lambda items, session: reply).url)
    conn.update(turn_detection=None, modalities=["text"])
    conn.send("response.create")
    events = conn.until("response.done")
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [(0, "message"), (1, "function_call")]
    types = [e["type"] for e in events]
    assert types.index("response.output_item.done") < types.index("response.function_call_arguments.delta")
    done = events[-1]["response"]
    assert [o["type"] for o in done["output"]] == ["message", "function_call"]
    assert done["output"][1]["arguments"] == '{"q": "x"}' and done["output"][1]["name"] == "lookup"
    conn.close()


def test_default_responder_choices() -> None:
    def user(text: str) -> Dict[str, Any]:
        return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}

    tools = {"tools": [WEATHER], "tool_choice": "auto"}
    assert default_responder([user("hi!")], tools).text.startswith("Hello")
    assert "You asked" in default_responder([user("Why is the sky blue?")], tools).text
    assert default_responder([user("nice")], tools).text == 'You said: "nice"'
    assert default_responder([user("weather in Oslo")], {"tools": [WEATHER], "tool_choice": "none"}).tool_name is None
    forced = default_responder([user("nice")], {"tools": [WEATHER], "tool_choice": "required"})
    assert forced.tool_name == "get_weather" and forced.tool_arguments["location"] == "nice"
    parameters = {"type": "object", "properties": {"a": {"type": "integer"}}}
    counter = {"type": "function", "name": "add_numbers", "parameters": parameters}
    reply = default_responder([user("please add numbers 7")], {"tools": [counter]})
    assert reply.tool_arguments == {"a": 7}


def test_synthesized_speech_length_follows_text() -> None:
    short, long = synthesize_speech("Hi there", 24000), synthesize_speech("Hi there, " * 5, 24000)
    assert len(long) > 4 * len(short) and short.dtype == np.int16
    assert np.array_equal(short, synthesize_speech("Hi there", 24000))  # deterministic


# -- handshake ------------------------------------------------------------------------------


def test_api_key_required_401(make_simulator: Callable[..., RealtimeSimulator], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_simulator(require_api_key="sk-test-secret")
    for header in (BETA, BETA + ["Authorization: Bearer sk-wrong"]):
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(sim.url + "/v1/realtime", header=header, timeout=5)
        assert info.value.status_code == 401
        body = json.loads(info.value.resp_body)
        assert body["error"]["type"] == "invalid_request_error" and "sk-" not in body["error"]["message"]
    assert body["error"]["code"] == "invalid_api_key"
    assert "sk-test-secret" not in repr(sim)
    conn = Conn(sim.url, header=BETA + ["Authorization: Bearer sk-test-secret"])
    assert conn.session["id"].startswith("sess_")
    conn.close()
    assert "Authorization" in caplog.text  # websockets logged the handshake...
    assert "sk-test-secret" not in caplog.text and "sk-wrong" not in caplog.text  # ...without the key


def test_repeated_handshake_headers_are_read_not_a_server_error(
    make_simulator: Callable[..., RealtimeSimulator], caplog: Any
) -> None:
    caplog.set_level(logging.WARNING)
    sim = make_simulator(require_api_key="sk-test-secret")
    good = "Authorization: Bearer sk-test-secret"
    conn = Conn(sim.url, header=["OpenAI-Beta: assistants=v2", "OpenAI-Beta: realtime=v1", good])
    conn.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(sim.url, header=BETA + [good, "Authorization: Bearer sk-wrong"], timeout=5)
    assert info.value.status_code == 401
    assert json.loads(info.value.resp_body)["error"]["code"] == "invalid_api_key"
    assert [r.getMessage() for r in caplog.records] == []


def test_rejected_handshakes_leave_nothing_behind(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    import gc

    sim = make_simulator(require_api_key="sk-test-secret")
    threads = len(_sim_threads())
    for _ in range(20):
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(sim.url, header=BETA, timeout=5)
    conn = Conn(sim.url, header=BETA + ["Authorization: Bearer sk-test-secret"])
    # a long-running server keeps no record of finished handshakes, and no thread for any
    gc.collect()
    assert sim._connections.opening() <= 2
    assert len(_sim_threads()) == threads
    conn.close()


def test_browser_subprotocols_carry_key_and_beta_flag(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    sim = make_simulator(require_api_key="sk-test-secret")
    offered = ["realtime", "openai-insecure-api-key.sk-test-secret", "openai-beta.realtime-v1"]
    ws = websocket.create_connection(sim.url, subprotocols=offered, timeout=5)
    assert ws.getsubprotocol() == "realtime"  # the credential is never echoed back
    assert json.loads(ws.recv())["type"] == "session.created"
    ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(sim.url, subprotocols=offered[:1] + ["openai-beta.realtime-v1"], timeout=5)
    assert info.value.status_code == 401


def test_beta_header_required_and_default_model(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    simulator = make_simulator(protocol="beta")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(simulator.url, timeout=5)
    assert info.value.status_code == 400 and b"OpenAI-Beta" in info.value.resp_body
    conn = Conn(simulator.url, query="")
    assert conn.session["model"] == "gpt-4o-realtime-preview-2024-10-01"
    conn.close()


# -- many sessions, faults, shutdown ------------------------------------------------------------------


def test_ten_concurrent_sessions_are_independent(simulator: RealtimeSimulator) -> None:
    results: Dict[int, Any] = {}
    errors: List[BaseException] = []

    def run(index: int) -> None:
        try:
            conn = Conn(simulator.url)
            conn.update(turn_detection=None, voice=["alloy", "echo"][index % 2])
            conn.user_text(f"number {index}")
            conn.send("response.create")
            done = conn.until("response.done")[-1]["response"]
            results[index] = (conn.session["id"], done["output"][0]["content"][0]["transcript"])
            conn.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len({session_id for session_id, _ in results.values()}) == 10
    for index, (_, transcript) in results.items():
        assert transcript == f'You said: "number {index}"'


def test_fault_drop_after(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    sim = make_simulator(drop_after=3)
    ws = websocket.create_connection(sim.url, header=BETA, timeout=5)
    ws.send(json.dumps({"type": "session.update", "session": {}}))
    types = [json.loads(ws.recv())["type"] for _ in range(3)]
    assert types == ["session.created", "conversation.created", "session.updated"]
    ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        ws.recv()
    ws.close()


def test_fault_malformed_frame_and_injected_error(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    sim = make_simulator(malformed_frame_after=1, error_after=2)
    ws = websocket.create_connection(sim.url, header=BETA, timeout=5)
    assert json.loads(ws.recv())["type"] == "session.created"
    with pytest.raises(ValueError):
        json.loads(ws.recv())
    assert json.loads(ws.recv())["type"] == "conversation.created"
    injected = json.loads(ws.recv())
    validate(injected)
    assert injected["type"] == "error" and injected["error"]["type"] == "server_error"
    ws.close()


def test_fault_event_delay_and_broadcast(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    import time

    sim = make_simulator(event_delay=0.1)
    started = time.monotonic()
    conn = Conn(sim.url)
    assert time.monotonic() - started >= 0.2  # two delayed events
    assert sim.session_count == 1 and sim.session_ids() == [conn.session["id"]]
    assert sim.broadcast({"type": "output_audio_buffer.cleared", "response_id": "resp_x"}) == 1
    assert conn.expect("output_audio_buffer.cleared")["response_id"] == "resp_x"
    conn.close()


def test_session_expires_after_max_duration(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    conn = Conn(make_simulator(max_session_seconds=0.3).url)
    error = conn.expect("error")["error"]
    assert error["code"] == "session_expired"
    assert error["message"] == "Your session hit the maximum duration of 0.3 seconds."
    opcode, data = conn.ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 1000
    conn.close()


def _sim_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("realtime-sync-sim")]


def test_stop_leaves_no_threads_and_closes_clients() -> None:
    before = set(threading.enumerate())
    sim = RealtimeSimulator(speed=1.0).start()
    conns = [Conn(sim.url) for _ in range(3)]
    conns[0].update(turn_detection=None)
    conns[0].user_text("Please talk for a long while so that stop interrupts the stream")
    conns[0].send("response.create")
    conns[0].until("response.audio.delta")
    # one loop thread serves every session (and one thread the REST side)
    assert sorted(t.name for t in _sim_threads()) == ["realtime-sync-sim-http", "realtime-sync-sim-server"]
    sim.stop()
    assert _sim_threads() == []
    # Threads this test did not start may still be ending (an earlier test's, in the same worker process):
    # the simulator's own are checked above, by name; any other new one must be gone within seconds.
    strays = set(threading.enumerate()) - before
    for stray in strays:
        stray.join(5.0)
    assert [t.name for t in strays if t.is_alive()] == []
    for conn in conns:
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, ValueError)):
            for _ in range(1000):  # drain what was sent before the close
                conn.recv()
        conn.close()
    sim.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = RealtimeSimulator().port


@pytest.mark.parametrize("modalities", [["text"], ["text", "audio"]])
def test_client_vanishing_mid_response_ends_its_session_quietly(
    make_simulator: Callable[..., RealtimeSimulator], caplog: Any, modalities: List[str]
) -> None:
    import socket

    caplog.set_level(logging.WARNING)
    sim = make_simulator(speed=1.0)
    conn = Conn(sim.url)
    conn.update(turn_detection=None, modalities=modalities)
    conn.user_text("Please talk for a long while so that the stream is cut in the middle")
    conn.send("response.create")
    conn.until("response.audio.delta" if "audio" in modalities else "response.text.delta")
    assert sim.session_ids() == [conn.session["id"]]
    conn.ws.sock.shutdown(socket.SHUT_RDWR)  # no close frame: the client is just gone
    conn.ws.sock.close()
    deadline = time.monotonic() + 5.0
    while sim.session_ids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.session_ids() == []  # the session ended, its stream with it
    other = Conn(sim.url)  # the server goes on
    assert other.update(instructions="fine")["instructions"] == "fine"
    other.close()
    assert [r.getMessage() for r in caplog.records] == []


def test_stop_is_prompt_when_a_client_stopped_reading() -> None:
    import time

    sim = RealtimeSimulator(speed=None, responder=lambda items, session: Reply(text="word " * 3000)).start()
    conn = Conn(sim.url)
    conn.update(turn_detection=None)
    conn.send("response.create")
    conn.expect("response.created")  # then never read again: the server's sends fill the socket
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 5.0
    assert _sim_threads() == []
    conn.close()


def test_stop_is_prompt_with_handshakes_left_unfinished(caplog: Any) -> None:
    import socket
    import time

    caplog.set_level(logging.WARNING)
    sim = RealtimeSimulator().start()
    silent = socket.create_connection(("127.0.0.1", sim.port), timeout=5)  # says nothing
    partial = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    partial.sendall(b"GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
    conn = Conn(sim.url)  # a handshake after theirs completed: both are being served
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 5.0  # not the 10 s open timeout
    assert _sim_threads() == []
    assert silent.recv(1) == b"" and partial.recv(1) == b""
    for sock in (silent, partial):
        sock.close()
    conn.close()
    server_side = ("websockets", "realtime_sync")  # websocket-client logs the 1001 close as an error
    assert [r.getMessage() for r in caplog.records if r.name.startswith(server_side)] == []


@pytest.mark.parametrize(
    "options",
    [
        {"speed": -1.0},
        {"speed": float("nan")},
        {"audio_chunk_ms": 0},
        {"drop_after": -1},
        {"error_after": 2.5},
        {"malformed_frame_after": True},
        {"event_delay": -0.5},
        {"max_session_seconds": 0},
        {"protocol": "v2"},
        {"refuse_connections": -1},
        {"refuse_reconnections": 1.5},
    ],
    ids=lambda options: next(iter(options)),
)
def test_bad_options_are_rejected_before_anything_starts(options: Dict[str, Any]) -> None:
    from realtime_sync.errors import ConfigurationError

    name = next(iter(options))
    with pytest.raises(ConfigurationError, match=name):
        RealtimeSimulator(**options)
    assert _sim_threads() == []


def test_context_manager_and_restart() -> None:
    sim = RealtimeSimulator()
    with sim:
        assert sim.url == f"ws://127.0.0.1:{sim.port}/v1/realtime"
        Conn(sim.url).close()
        with pytest.raises(RuntimeError):
            sim.start()
    assert _sim_threads() == []
    with sim:  # a stopped simulator starts again (on a fresh port when port=0)
        conn = Conn(sim.url)
        assert conn.update(instructions="again")["instructions"] == "again"
        conn.close()
    assert _sim_threads() == [] and sim.sessions_started == 2


def test_package_imports_without_websockets() -> None:
    code = (
        "import sys; sys.modules['websockets'] = None\n"
        "import realtime_sync, realtime_sync.simulator.cli  # a CLI builds its parser without the extra\n"
        "from realtime_sync.simulator import main, Reply\n"
        "print('status', main(['--port', '0']))\n"
        "try:\n    from realtime_sync.simulator import RealtimeSimulator\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert 'pip install "realtime_sync[server]"' in out.stdout
    assert "status 1" in out.stdout and 'pip install "realtime_sync[server]"' in out.stderr


@pytest.mark.parametrize(
    "argv, speed",
    [([], 1.0), (["--realtime"], 1.0), (["--speed", "0"], None), (["--speed", "2.5"], 2.5)],
)
def test_standalone_pacing_defaults_to_real_time(argv: List[str], speed: Optional[float]) -> None:
    import argparse

    from realtime_sync.simulator.cli import add_pacing_arguments, pacing_options

    parser = argparse.ArgumentParser()
    add_pacing_arguments(parser)
    assert pacing_options(parser.parse_args(argv)) == {"speed": speed}
    from realtime_sync.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="--speed must be 0 or more"):  # the CLI reports it on one line
        pacing_options(parser.parse_args(["--speed", "-1"]))


def test_standalone_help_documents_the_pacing_default(capsys: Any) -> None:
    from realtime_sync.simulator import main

    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--speed N stream replies at this multiple of real time (default 1: like a live model" in out
    with pytest.raises(SystemExit) as info:
        main(["--speed", "-1"])
    assert info.value.code == 2
    assert "--speed must be 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_standalone_bad_port_is_one_usage_line(port: str, capsys: Any) -> None:
    from realtime_sync.simulator import main

    with pytest.raises(SystemExit) as info:
        main(["--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid port" in err and "Traceback" not in err and "Error" not in err


def test_standalone_busy_port_is_one_usage_line(simulator: RealtimeSimulator, capsys: Any) -> None:
    from realtime_sync.simulator import main

    with pytest.raises(SystemExit) as info:
        main(["--port", str(simulator.port)], prog="simulate")
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"simulate: error: cannot listen on 127.0.0.1:{simulator.port}: "), err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT/SIGTERM delivery differs on Windows")
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_command_line_runs_until_ctrl_c(stop_signal: int) -> None:
    from support_docs import clean_env, signal_and_wait

    env = clean_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_sync.simulator", "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on ws://127.0.0.1:" in line
        url = line.split("listening on ")[1].split()[0]
        conn = Conn(url)
        conn.close()
        assert signal_and_wait(proc, stop_signal) == (130 if stop_signal == signal.SIGINT else 0)
        assert proc.stdout.read().strip() == "stopping..."
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_standalone_dialect_and_expiry_flags(capsys: Any) -> None:
    from realtime_sync.simulator.cli import build_parser, main

    args = build_parser().parse_args(["--protocol", "beta", "--refuse-beta", "--max-session-seconds", "90"])
    assert (args.protocol, args.refuse_beta, args.max_session_seconds) == ("beta", True, 90.0)
    assert build_parser().parse_args([]).protocol == "ga"
    for bad in (["--max-session-seconds", "0"], ["--protocol", "v2"]):
        with pytest.raises(SystemExit) as info:
            main(bad)
        assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
