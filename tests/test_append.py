"""append_input_audio's own route: what its shortcuts must keep.

The append writes its frame itself (a JSON template, a reused masked buffer,
ids drawn in bulk) instead of going through ``Outbound.send`` and
``RealtimeAPI.send``. These tests pin what that route keeps: frames any
WebSocket reader accepts, the bytes ``encode_event`` writes (with and without
orjson), GA and beta shapes the ``openai`` models accept with nothing
undeclared, well-formed unique ids from any number of threads, the wire order
and the record order the same under concurrent appenders, ``client.*`` /
``realtime.event`` listeners and the ``events()`` queue served, the record of
sent events, turn-detection switches seen by the very next append, and the
reconnection refusal.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any, Dict, Iterator, Tuple

import numpy as np
import pytest
from support_client import EventRecorder, ScriptedServer, session_object, validate_client_event

from realtime_sync import audio
from realtime_sync._session.appender import EventIds
from realtime_sync._session.effective import EffectiveSession
from realtime_sync._transport import encoding
from realtime_sync._transport.writer import FrameWriter
from realtime_sync.client import DEFAULT_SERVER_VAD_CONFIG, RealtimeClient
from realtime_sync.errors import NotConnectedError

Event = Dict[str, Any]
EVENT_ID = re.compile(r"^evt_[1-9A-HJ-NP-Za-km-z]{17}$")
WAIT = 10.0


def _unframe(frame: bytes) -> Tuple[int, int, bytes, bytes]:
    """``(first byte, declared length, key, unmasked payload)`` of one client frame (RFC 6455, read here)."""
    b0, b1 = frame[0], frame[1]
    assert b1 & 0x80, "a client frame must be masked"
    length, at = b1 & 0x7F, 2
    if length == 126:
        length, at = int.from_bytes(frame[2:4], "big"), 4
        assert length >= 126, "the shortest length encoding must be used"
    elif length == 127:
        length, at = int.from_bytes(frame[2:10], "big"), 10
        assert length >= 65536
    key = frame[at : at + 4]
    body = frame[at + 4 :]
    assert len(body) == length
    repeated = (key * (length // 4 + 1))[:length]
    payload = (int.from_bytes(body, "little") ^ int.from_bytes(repeated, "little")).to_bytes(length, "little")
    return b0, length, key, payload


@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 125, 126, 127, 1000, 1341, 1350, 65535, 65536, 70001, 300_000])
def test_frame_writer_writes_final_masked_text_frames(length: int) -> None:
    writer = FrameWriter()
    payload = bytes(np.random.default_rng(length).integers(0, 256, length, dtype=np.uint8))
    for _ in range(3):  # the buffer is reused: every frame is whole
        b0, declared, key, unmasked = _unframe(bytes(writer.text(payload)))
        assert b0 == 0x81 and declared == length and unmasked == payload


def test_frame_writer_takes_a_fresh_key_for_every_frame() -> None:
    writer = FrameWriter()
    keys = [_unframe(bytes(writer.text(b"x" * 1341)))[2] for _ in range(600)]  # past one draw of 256
    assert len(set(keys)) >= 595  # 32 random bits each: a repeat or two is possible, a pattern is not
    small, large = bytes(writer.text(b"abc")), bytes(writer.text(b"y" * 200_000))
    assert _unframe(small)[3] == b"abc" and _unframe(large)[3] == b"y" * 200_000
    assert _unframe(bytes(writer.text(b"z" * 10)))[3] == b"z" * 10  # after a frame too big to keep


@pytest.mark.parametrize("backend", ["auto", "stdlib"])
def test_append_template_is_encode_events_bytes(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    if backend == "stdlib":
        monkeypatch.setattr(encoding, "_orjson", None)
    head, middle, tail = encoding.append_template("input_audio_buffer.append")
    ids = EventIds()
    for samples in (1, 480, 2400, 24000):
        event_id = ids.next()
        text = audio.encode_audio(np.arange(samples, dtype=np.int16) * 7)
        event = {"event_id": event_id, "type": "input_audio_buffer.append", "audio": text}
        ours = b"".join((head, event_id.encode("ascii"), middle, text.encode("ascii"), tail))
        assert ours == encoding.encode_event(event)
        assert ours == json.dumps(event, separators=(",", ":")).encode()


def test_event_ids_are_well_formed_and_unique() -> None:
    ids = EventIds()
    drawn = [ids.next() for _ in range(5000)]
    assert all(EVENT_ID.match(event_id) for event_id in drawn)
    assert len(set(drawn)) == len(drawn)
    assert len({EventIds().next() for _ in range(200)}) == 200  # a new stream starts elsewhere


def test_effective_session_newest_unanswered_update_wins() -> None:
    effective = EffectiveSession()
    assert effective.value("turn_detection_type") == (False, None)
    effective.answered("session.created", {"turn_detection_type": "server_vad", "voice": "marin"})
    assert effective.value("turn_detection_type") == (True, "server_vad")
    effective.sending("evt_1", {"turn_detection_type": None})
    effective.sending("evt_2", {"voice": "cedar"})
    assert effective.value("turn_detection_type") == (True, None)
    assert effective.value("voice") == (True, "cedar")
    effective.sending("evt_3", {"turn_detection_type": "semantic_vad"})
    assert effective.value("turn_detection_type") == (True, "semantic_vad")
    effective.answered("session.updated", {"turn_detection_type": None, "voice": "marin"})  # answers evt_1
    assert effective.value("turn_detection_type") == (True, "semantic_vad")
    assert effective.rejected("evt_3")
    assert effective.value("turn_detection_type") == (True, None)  # the server's, now
    assert effective.value("voice") == (True, "cedar")  # evt_2, unanswered
    effective.restart()
    assert effective.value("voice") == (False, None)


# -- against a server -------------------------------------------------------------------------


@pytest.fixture
def client(scripted: ScriptedServer) -> Iterator[RealtimeClient]:
    rt = RealtimeClient(url=scripted.url, protocol="beta")
    rt.connect(timeout=5)
    assert rt.wait_for_session_created(timeout=5) is True
    scripted.wait_for("session.update")
    yield rt
    rt.disconnect()


def _chunk(value: int, size: int = 480) -> np.ndarray:
    return np.full(size, value, dtype=np.int16)


def _decoded(frame: Event) -> np.ndarray:
    return audio.base64_to_pcm16(frame["audio"])


def test_the_fast_route_writes_the_frame_itself(
    scripted: ScriptedServer, client: RealtimeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def general_route(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an append nobody listens to took RealtimeAPI.send")

    monkeypatch.setattr(client.realtime, "send", general_route)
    mark = scripted.mark()
    samples = (np.arange(960) * 31 % 6000 - 3000).astype(np.int16)
    client.append_input_audio(samples)
    client.append_input_audio(samples.astype(np.float32) / 32768.0)
    client.append_input_audio(samples.astype("<i2").tobytes())
    frames = scripted.wait_frames(mark, 3)
    for frame in frames:
        assert list(frame) == ["event_id", "type", "audio"] and frame["type"] == "input_audio_buffer.append"
        assert EVENT_ID.match(frame["event_id"])
        assert np.array_equal(_decoded(frame), samples)


@pytest.mark.parametrize("protocol", ["ga", "beta"])
def test_append_frames_validate_against_the_sdk_models(protocol: str) -> None:
    pytest.importorskip("pydantic")
    pytest.importorskip("openai")
    from support_ga import check_ga_client_event, ga_session, undeclared_fields

    session = ga_session() if protocol == "ga" else session_object()
    with ScriptedServer(session=session, protocol="beta") as server:  # the session object as given
        client = RealtimeClient(url=server.url, protocol=protocol)
        client.connect(timeout=5)
        try:
            assert client.wait_for_session_created(timeout=5)
            for size in (1, 480, 4800):
                client.append_input_audio(_chunk(size % 1000, size))
            client.update_session(input_audio_format="g711_ulaw")  # each chunk a byte a sample
            client.append_input_audio(_chunk(5, 160))
            frames = server.wait_for("input_audio_buffer.append", 4)
        finally:
            client.disconnect()
    assert len(frames) == 4
    for frame in frames:
        if protocol == "ga":
            check_ga_client_event(frame)
        else:
            model = validate_client_event(frame, protocol="beta")
            assert not undeclared_fields(model), frame
        assert set(frame) == {"event_id", "type", "audio"}


def test_concurrent_appenders_keep_one_order_on_the_wire_and_in_the_record(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    assert client.get_turn_detection_type() is None  # manual turns: every chunk is kept for the commit
    threads, per_thread = 4, 150
    mark = scripted.mark()
    start = threading.Barrier(threads)

    def appender(number: int) -> None:
        start.wait()
        for index in range(per_thread):
            client.append_input_audio(_chunk(number * 1000 + index, 240))

    workers = [threading.Thread(target=appender, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT)
    frames = scripted.wait_frames(mark, threads * per_thread, timeout=WAIT)
    ids = [frame["event_id"] for frame in frames]
    assert all(EVENT_ID.match(event_id) for event_id in ids) and len(set(ids)) == len(ids)
    values = [int(_decoded(frame)[0]) for frame in frames]
    for number in range(threads):  # each thread's chunks in its own order
        mine = [value for value in values if value // 1000 == number]
        assert mine == [number * 1000 + index for index in range(per_thread)]
    # The record is the wire: the committed audio is the frames' audio in the order they arrived.
    recorder = EventRecorder().record_on(client, "conversation.item.appended")
    mark = scripted.mark()
    client.create_response()
    assert [f["type"] for f in scripted.wait_frames(mark, 2)] == ["input_audio_buffer.commit", "response.create"]
    scripted.send({
        "type": "conversation.item.created",
        "previous_item_id": None,
        "item": {"id": "item_user", "object": "realtime.item", "type": "message", "status": "completed",
                 "role": "user", "content": [{"type": "input_audio", "transcript": None}]},
    })
    item = recorder.wait("conversation.item.appended")[0]["item"]
    assert np.array_equal(item["formatted"]["audio"], np.concatenate([_decoded(frame) for frame in frames]))


def test_listeners_see_every_append(scripted: ScriptedServer, client: RealtimeClient) -> None:
    seen = EventRecorder()
    client.on("realtime.event", seen.callback("realtime.event"))
    queue = client.events(include_realtime_events=True)
    mark = scripted.mark()
    client.append_input_audio(_chunk(1))  # realtime.event only: still the fast route
    client.realtime.on("client.*", seen.callback("client.*"))
    client.realtime.on("client.input_audio_buffer.append", seen.callback("client.append"))
    client.append_input_audio(_chunk(2))
    client.realtime.off("client.*")
    client.realtime.on("client.*", client._outbound.on_wire_client_event)  # the client's own listener back alone
    client.realtime.off("client.input_audio_buffer.append")
    client.append_input_audio(_chunk(3))
    client.realtime.on_next("client.*", seen.callback("client.* once"))
    client.append_input_audio(_chunk(4))
    client.append_input_audio(_chunk(5))
    frames = scripted.wait_frames(mark, 5)
    shown = [payload["event"] for payload in seen.of("realtime.event")]
    assert [event["event_id"] for event in shown] == [frame["event_id"] for frame in frames]
    for event, frame in zip(shown, frames):
        assert event == frame  # as asked for, audio and all
        assert client._sent.get(frame["event_id"]) == dict(frame, audio=f"<{len(frame['audio'])} base64 chars>")
    assert seen.of("client.*") == [frames[1]] and seen.of("client.append") == [frames[1]]
    assert seen.of("client.* once") == [frames[3]]
    queued = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [payload["event"]["event_id"] for name, payload in queued if name == "realtime.event"] == [
        frame["event_id"] for frame in frames
    ]


def test_an_error_naming_an_append_names_the_append(scripted: ScriptedServer, client: RealtimeClient) -> None:
    errors = EventRecorder().record_on(client, "error")
    mark = scripted.mark()
    client.append_input_audio(_chunk(9, 4800))
    (frame,) = scripted.wait_frames(mark, 1)
    scripted.send({"type": "error", "error": {"type": "invalid_request_error", "code": "bad_audio",
                                              "message": "no", "param": None, "event_id": frame["event_id"]}})
    (payload,) = errors.wait("error")
    assert payload["client_event"] == {"event_id": frame["event_id"], "type": "input_audio_buffer.append",
                                       "audio": "<12800 base64 chars>"}


def test_a_turn_detection_switch_is_seen_by_the_next_append(scripted: ScriptedServer, client: RealtimeClient) -> None:
    assert client.get_turn_detection_type() is None
    mark = scripted.mark()
    client.append_input_audio(_chunk(1))
    client.update_session(turn_detection=DEFAULT_SERVER_VAD_CONFIG)  # unanswered: it decides at once
    assert client.get_turn_detection_type() == "server_vad"
    client.append_input_audio(_chunk(2))  # into the server-VAD window, not pending
    client.create_response()  # nothing to commit
    types = ["input_audio_buffer.append", "session.update", "input_audio_buffer.append", "response.create"]
    assert [f["type"] for f in scripted.wait_frames(mark, 4)] == types
    client.reset_responses()
    mark = scripted.mark()
    client.update_session(turn_detection=None)
    client.append_input_audio(_chunk(3))  # pending: the next response commits it
    client.create_response()
    types = ["session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "response.create"]
    assert [f["type"] for f in scripted.wait_frames(mark, 4)] == types
    # once the server has answered the three updates (connect's too), its session is what counts
    client.reset_responses()
    for _ in range(2):
        scripted.send({"type": "session.updated", "session": session_object(turn_detection=None)})
    scripted.send({"type": "session.updated", "session": session_object(turn_detection={"type": "server_vad"})})
    seen = threading.Event()
    client.realtime.on_next("server.rate_limits.updated", lambda event: seen.set())
    scripted.send({"type": "rate_limits.updated", "rate_limits": []})
    assert seen.wait(WAIT)
    assert client.get_turn_detection_type() == "server_vad"
    mark = scripted.mark()
    client.append_input_audio(_chunk(4))
    client.create_response()
    assert [f["type"] for f in scripted.wait_frames(mark, 2)] == ["input_audio_buffer.append", "response.create"]


def test_debug_logs_the_append(scripted: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    client = RealtimeClient(url=scripted.url, protocol="beta", debug=True)
    client.connect(timeout=5)
    try:
        with caplog.at_level(logging.DEBUG, logger="realtime_sync.api"):
            client.append_input_audio(_chunk(7))
            (frame,) = scripted.wait_for("input_audio_buffer.append")
    finally:
        client.disconnect()
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sent input_audio_buffer.append")]
    assert sent and frame["event_id"] in sent[0] and frame["audio"] not in sent[0]


def test_appends_refused_when_not_connected(scripted: ScriptedServer) -> None:
    client = RealtimeClient(url=scripted.url, protocol="beta")
    with pytest.raises(NotConnectedError):
        client.append_input_audio(_chunk(1))
    client.connect(timeout=5)
    client.disconnect()
    with pytest.raises(NotConnectedError):
        client.append_input_audio(_chunk(1))


def test_base64_of_the_append_is_the_standard_base64(scripted: ScriptedServer, client: RealtimeClient) -> None:
    samples = (np.arange(4801) * 13 % 65536 - 32768).astype(np.int16)
    mark = scripted.mark()
    client.append_input_audio(samples)
    (frame,) = scripted.wait_frames(mark, 1)
    assert frame["audio"] == base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii")
