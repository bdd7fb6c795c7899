"""RealtimeClient against a scripted server: the exact frames each method sends,
event routing, errors, tools and blocking helpers, event by event.

Every frame the client sends through the ``client`` fixture is validated at
teardown against the ``openai`` SDK's beta ``RealtimeClientEvent`` models
when the SDK is installed. The ``scripted`` server comes from conftest.py.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest
from support_client import EventRecorder, ScriptedServer, session_object, signal_when_waiting, validate_client_event

from realtime_sync import audio
from realtime_sync.client import DEFAULT_SERVER_VAD_CONFIG, RealtimeClient
from realtime_sync.errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    ProtocolError,
    RealtimeTimeoutError,
    ServerError,
    UnknownItemError,
)


def _validate_all(scripted: ScriptedServer) -> None:
    try:
        import openai  # noqa: F401  (the models validate_client_event uses)
    except ImportError:
        return
    for frame in scripted.frames():
        validate_client_event(frame)


@pytest.fixture
def client(scripted: ScriptedServer) -> Iterator[RealtimeClient]:
    rt = RealtimeClient(url=scripted.url, protocol="beta", tool_timeout=5.0)
    rt.connect(timeout=5)
    assert rt.wait_for_session_created(timeout=5) is True
    scripted.wait_for("session.update")
    yield rt
    rt.disconnect()
    _validate_all(scripted)


def _record(client: RealtimeClient, *names: str) -> EventRecorder:
    return EventRecorder().record_on(client, *names)


def _start_response(scripted: ScriptedServer, client: RealtimeClient, response_id: str = "resp_1") -> None:
    """Make the client see an active response, and wait until it does."""
    scripted.response_created(response_id)
    _sync(scripted, client)


def _sync(scripted: ScriptedServer, client: RealtimeClient) -> None:
    """Wait until the client processed everything the server sent so far."""
    seen = threading.Event()
    client.realtime.on_next("server.rate_limits.updated", lambda event: seen.set())
    scripted.send({"type": "rate_limits.updated", "rate_limits": []})
    assert seen.wait(5)


# -- connection and session ------------------------------------------------------------


def test_connect_sends_default_session_update(scripted: ScriptedServer, client: RealtimeClient) -> None:
    (update,) = scripted.frames("session.update")
    session = update["session"]
    assert session == {
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
    assert update["event_id"].startswith("evt_")
    assert client.session == scripted.session
    assert client.is_connected()


def test_update_session_merges_tools_and_sets_formats(scripted: ScriptedServer, client: RealtimeClient) -> None:
    client.add_tool({"name": "lookup", "description": "d", "parameters": {"type": "object"}}, lambda a: 1)
    scripted.wait_for("session.update", 2)
    mark = scripted.mark()
    client.update_session(
        instructions="be brief",
        tools=[{"name": "plain", "description": "no handler"}],
        output_audio_format="g711_ulaw",
        input_audio_format="g711_alaw",
    )
    (update,) = scripted.wait_frames(mark, 1)
    session = update["session"]
    assert session["instructions"] == "be brief"
    assert [(t["type"], t["name"]) for t in session["tools"]] == [("function", "plain"), ("function", "lookup")]
    assert client.session_config["tools"] == [{"name": "plain", "description": "no handler"}]
    assert client.conversation.output_audio_format == "g711_ulaw"
    assert client.conversation.input_audio_format == "g711_alaw"


def test_update_session_rejects_bad_config_without_changing_anything(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    client.add_tool({"name": "lookup"}, lambda a: 1)
    scripted.wait_for("session.update", 2)
    before = json.dumps(client.session_config)
    mark = scripted.mark()
    with pytest.raises(ConfigurationError, match="lookup"):
        client.update_session(instructions="x", tools=[{"name": "lookup"}])
    with pytest.raises(ConfigurationError, match="twice"):
        client.update_session(tools=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ConfigurationError, match="input_audio_format"):
        client.update_session(input_audio_format="mp3")
    with pytest.raises(ConfigurationError, match="turn_detection"):
        client.update_session(turn_detection="server_vad")
    assert json.dumps(client.session_config) == before
    _sync(scripted, client)
    assert scripted.since(mark) == []


def test_server_session_formats_win(scripted: ScriptedServer, client: RealtimeClient) -> None:
    scripted.send({"type": "session.updated", "session": session_object(output_audio_format="g711_alaw")})
    _sync(scripted, client)
    assert client.conversation.output_audio_format == "g711_alaw"
    assert client.session["output_audio_format"] == "g711_alaw"


def test_add_and_remove_tool_validate_and_update_session(scripted: ScriptedServer, client: RealtimeClient) -> None:
    with pytest.raises(ConfigurationError):
        client.add_tool({"description": "no name"}, lambda a: 1)
    with pytest.raises(ConfigurationError):
        client.add_tool({"name": "x"}, "not callable")  # type: ignore[arg-type]
    definition = {"name": "x", "parameters": {"type": "object"}}
    added = client.add_tool(definition, lambda a: 1)
    assert added["definition"] == definition and definition == {"name": "x", "parameters": {"type": "object"}}
    with pytest.raises(ConfigurationError, match="already"):
        client.add_tool({"name": "x"}, lambda a: 2)
    updates = scripted.wait_for("session.update", 2)
    assert updates[-1]["session"]["tools"] == [{"type": "function", "name": "x", "parameters": {"type": "object"}}]
    client.remove_tool("x")
    updates = scripted.wait_for("session.update", 3)
    assert updates[-1]["session"]["tools"] == []
    with pytest.raises(ConfigurationError):
        client.remove_tool("x")


def test_realtime_event_for_client_and_server_events(scripted: ScriptedServer) -> None:
    rt = RealtimeClient(url=scripted.url, protocol="beta")
    recorder = _record(rt, "realtime.event")
    rt.connect(timeout=5)
    try:
        events = recorder.wait("realtime.event", 2)
        sources = {(e["source"], e["event"]["type"]) for e in events}
        assert ("client", "session.update") in sources
        assert ("server", "session.created") in sources
        assert all(e["time"].startswith("20") and "T" in e["time"] for e in events)
    finally:
        rt.disconnect()


def test_realtime_event_when_asked_for_late(scripted: ScriptedServer, client: RealtimeClient) -> None:
    seen: List[Dict[str, Any]] = []

    @client.on("realtime.event")
    def record(event: Dict[str, Any]) -> None:
        seen.append(event)

    events = client.events(include_realtime_events=True)
    _sync(scripted, client)
    server_types = [e["event"]["type"] for e in seen if e["source"] == "server"]
    assert server_types == ["rate_limits.updated"]
    queued = [events.get_nowait() for _ in range(events.qsize())]
    assert [(name, payload["event"]["type"]) for name, payload in queued] == [("realtime.event", "rate_limits.updated")]


def test_context_manager_connects_and_disconnects(scripted: ScriptedServer) -> None:
    closes: List[Dict[str, Any]] = []
    with RealtimeClient(url=scripted.url, protocol="beta") as rt:
        rt.on("close", closes.append)
        assert rt.is_connected()
        assert rt.wait_for_session_created(5)
    assert not rt.is_connected()
    assert len(closes) == 1 and closes[0]["error"] is False


def test_reset_restores_defaults_and_clears_handlers(scripted: ScriptedServer, client: RealtimeClient) -> None:
    client.update_session(instructions="custom")
    client.add_tool({"name": "t"}, lambda a: 1)
    client.on("conversation.updated", lambda e: None)
    client.reset()
    assert not client.is_connected()
    assert client.session_config["instructions"] == ""
    assert client.tools == {}
    client.connect(timeout=5)
    assert client.wait_for_session_created(5)
    updates = scripted.wait_for("session.update", 4)
    assert updates[-1]["session"]["instructions"] == ""


# -- the exact frames of each method ---------------------------------------------------


def test_send_user_message_content_encodes_audio_without_mutating(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    samples = np.arange(-50, 50, dtype=np.int16)
    content = [{"type": "input_text", "text": "hi"}, {"type": "input_audio", "audio": samples}]
    mark = scripted.mark()
    client.send_user_message_content(content)
    create, response = scripted.wait_frames(mark, 2)
    assert content[1]["audio"] is samples
    assert create["type"] == "conversation.item.create"
    item = create["item"]
    assert item["type"] == "message" and item["role"] == "user"
    assert item["content"][0] == {"type": "input_text", "text": "hi"}
    decoded = np.frombuffer(base64.b64decode(item["content"][1]["audio"]), dtype="<i2")
    assert np.array_equal(decoded, samples)
    assert response["type"] == "response.create"
    with pytest.raises(ConfigurationError):
        client.send_user_message_content([{"text": "no type"}])


def test_send_text_and_delete_item(scripted: ScriptedServer, client: RealtimeClient) -> None:
    mark = scripted.mark()
    client.send_text("hello")
    frames = scripted.wait_frames(mark, 2)
    assert frames[0]["item"]["content"] == [{"type": "input_text", "text": "hello"}]
    mark = scripted.mark()
    client.delete_item("item_9")
    (delete,) = scripted.wait_frames(mark, 1)
    assert delete["type"] == "conversation.item.delete" and delete["item_id"] == "item_9"
    with pytest.raises(ConfigurationError):
        client.delete_item("")


@pytest.mark.parametrize(
    "make",
    [
        lambda s: s,
        lambda s: s.astype(np.float32) / 32768.0,
        lambda s: s.astype("<i2").tobytes(),
    ],
    ids=["int16", "float", "bytes"],
)
def test_manual_turn_commits_before_response_create(scripted: ScriptedServer, client: RealtimeClient, make: Any) -> None:
    chunk = (np.arange(2400) % 200 - 100).astype(np.int16)
    mark = scripted.mark()
    client.append_input_audio(make(chunk))
    client.append_input_audio(make(chunk))
    client.append_input_audio(make(chunk[:0]))  # empty: nothing sent
    client.create_response()
    frames = scripted.wait_frames(mark, 4)
    assert [f["type"] for f in frames] == [
        "input_audio_buffer.append",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert np.array_equal(audio.base64_to_pcm16(frames[0]["audio"]), chunk)
    # The committed audio becomes the next user item's formatted audio.
    recorder = _record(client, "conversation.item.appended")
    scripted.send(
        {
            "type": "conversation.item.created",
            "previous_item_id": None,
            "item": {
                "id": "item_user",
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        }
    )
    item = recorder.wait("conversation.item.appended")[0]["item"]
    assert item["id"] == "item_user"
    assert np.array_equal(item["formatted"]["audio"], np.concatenate([chunk, chunk]))


def test_g711_input_is_encoded_for_the_format(scripted: ScriptedServer, client: RealtimeClient) -> None:
    client.update_session(input_audio_format="g711_ulaw")
    scripted.wait_for("session.update", 2)
    chunk = (np.arange(800) * 37 % 4000 - 2000).astype(np.int16)
    mark = scripted.mark()
    client.append_input_audio(chunk)
    (append,) = scripted.wait_frames(mark, 1)
    assert base64.b64decode(append["audio"]) == audio.ulaw_encode(chunk)


def test_vad_mode_does_not_commit(scripted: ScriptedServer, client: RealtimeClient) -> None:
    client.update_session(turn_detection=DEFAULT_SERVER_VAD_CONFIG)
    assert client.get_turn_detection_type() == "server_vad"
    scripted.wait_for("session.update", 2)
    mark = scripted.mark()
    client.append_input_audio(np.ones(480, dtype=np.int16))
    client.create_response()
    assert [f["type"] for f in scripted.wait_frames(mark, 2)] == ["input_audio_buffer.append", "response.create"]


def test_cancel_without_active_response_sends_nothing(scripted: ScriptedServer, client: RealtimeClient) -> None:
    mark = scripted.mark()
    assert client.cancel_response() is None
    _sync(scripted, client)
    assert scripted.since(mark) == []
    _start_response(scripted, client)
    client.cancel_response()
    (cancel,) = scripted.wait_frames(mark, 1)
    assert cancel["type"] == "response.cancel"


def _assistant_with_audio(scripted: ScriptedServer, client: RealtimeClient, samples: int, rate_format: str = "pcm16") -> None:
    scripted.assistant_item("item_a")
    chunk = np.full(samples, 100, dtype=np.int16)
    scripted.send(
        {
            "type": "response.audio.delta",
            "response_id": "resp_1",
            "item_id": "item_a",
            "output_index": 0,
            "content_index": 0,
            "delta": audio.encode_audio(chunk, rate_format),
        }
    )
    _sync(scripted, client)


def test_cancel_and_truncate_caps_at_received_audio(scripted: ScriptedServer, client: RealtimeClient) -> None:
    _start_response(scripted, client)
    _assistant_with_audio(scripted, client, 12000)  # 500 ms at 24 kHz
    mark = scripted.mark()
    item = client.cancel_response("item_a", 48000)  # the listener cannot have heard 2 s
    assert item is not None and item["id"] == "item_a"
    cancel, truncate = scripted.wait_frames(mark, 2)
    assert cancel["type"] == "response.cancel"
    assert truncate == {
        "event_id": truncate["event_id"],
        "type": "conversation.item.truncate",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 500,
    }


def test_a_cancel_while_the_reply_audio_is_being_resized_truncates_at_what_was_heard(
    scripted: ScriptedServer, client: RealtimeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the receive thread grows an item's audio (it was shown empty for that instant), a cancel from
    another thread must measure all the audio received so far (it once sent no truncate)."""
    from realtime_sync import _conversation_audio
    from realtime_sync import client as client_module

    monkeypatch.setattr(_conversation_audio, "_MAPPED_FROM", 1 << 15)  # the memory map regime from 32768 samples
    _start_response(scripted, client)
    _assistant_with_audio(scripted, client, 40_000)  # a buffer of 96000 samples, in a map of its own
    resizing, measured = threading.Event(), threading.Event()
    real_map, real_truncate_point = _conversation_audio._File.map, client_module.truncate_point

    def remap(file: Any, samples: int) -> Any:  # the receive thread, growing the buffer (Linux: a memory file)
        resizing.set()
        measured.wait(2.0)
        return real_map(file, samples)

    def truncate_point(*args: Any) -> Any:  # the user's thread, item in hand: measure during the resize
        resizing.wait(2.0)  # (in vain when the cancel holds the conversation: the resize waits for it)
        try:
            return real_truncate_point(*args)
        finally:
            measured.set()

    monkeypatch.setattr(_conversation_audio._File, "map", remap)
    monkeypatch.setattr(client_module, "truncate_point", truncate_point)
    mark = scripted.mark()
    user = threading.Thread(target=client.cancel_response, args=("item_a", 30_000))
    user.start()
    chunk = np.full(60_000, 100, dtype=np.int16)  # grows the buffer past its capacity: a resize
    scripted.send({"type": "response.audio.delta", "response_id": "resp_1", "item_id": "item_a", "output_index": 0,
                   "content_index": 0, "delta": audio.encode_audio(chunk, "pcm16")})
    user.join(10.0)
    sent = [(f["type"], f.get("audio_end_ms")) for f in scripted.wait_frames(mark, 2)]  # as the server reads them
    assert sent == [("response.cancel", None), ("conversation.item.truncate", 1250)]  # 30000 samples heard


def test_truncate_after_response_done_and_rate_of_output_format(scripted: ScriptedServer, client: RealtimeClient) -> None:
    client.update_session(output_audio_format="g711_ulaw")
    scripted.wait_for("session.update", 2)
    _start_response(scripted, client)
    _assistant_with_audio(scripted, client, 8000, "g711_ulaw")  # 1 s at 8 kHz
    scripted.response_done()
    _sync(scripted, client)
    mark = scripted.mark()
    client.cancel_response("item_a", 4000)
    (truncate,) = scripted.wait_frames(mark, 1)
    assert truncate["type"] == "conversation.item.truncate" and truncate["audio_end_ms"] == 500
    # Nothing heard: no truncate, and no cancel as nothing is active.
    mark = scripted.mark()
    client.cancel_response("item_a", 0)
    _sync(scripted, client)
    assert scripted.since(mark) == []


def test_cancel_response_validates_before_sending(scripted: ScriptedServer, client: RealtimeClient) -> None:
    _start_response(scripted, client)
    scripted.send(
        {
            "type": "conversation.item.created",
            "item": {"id": "item_u", "type": "message", "role": "user", "status": "completed", "content": []},
        }
    )
    _sync(scripted, client)
    mark = scripted.mark()
    with pytest.raises(UnknownItemError):
        client.cancel_response("nope", 10)
    with pytest.raises(ConfigurationError, match="assistant"):
        client.cancel_response("item_u", 10)
    with pytest.raises(ConfigurationError):
        client.cancel_response("item_u", -1)
    _sync(scripted, client)
    assert scripted.since(mark) == []


def test_create_response_while_active_is_sent_after_done(scripted: ScriptedServer, client: RealtimeClient) -> None:
    _start_response(scripted, client)
    mark = scripted.mark()
    assert client.create_response() is False
    _sync(scripted, client)
    assert scripted.since(mark) == []
    scripted.response_done()
    (create,) = scripted.wait_frames(mark, 1)
    assert create["type"] == "response.create"
    # In flight (no response.created yet): a second one waits too.
    assert client.create_response() is False
    _sync(scripted, client)
    assert len(scripted.since(mark)) == 1


def test_a_failed_response_create_does_not_leave_the_client_busy(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    with pytest.raises(ConfigurationError):
        client.create_response({"metadata": object()})  # cannot be encoded as JSON
    mark = scripted.mark()
    assert client.create_response() is True
    (create,) = scripted.wait_frames(mark, 1)
    assert create["type"] == "response.create"


def test_create_response_from_a_callback_does_not_block(scripted: ScriptedServer, client: RealtimeClient) -> None:
    results: List[bool] = []
    client.on("conversation.item.completed", lambda e: results.append(client.create_response()))
    _start_response(scripted, client)
    scripted.send(
        {
            "type": "conversation.item.created",
            "item": {"id": "item_u", "type": "message", "role": "user", "status": "completed", "content": []},
        }
    )
    _sync(scripted, client)
    assert results == [False]
    scripted.response_done()
    scripted.wait_for("response.create")


def _refuse_as_busy(scripted: ScriptedServer, create: Dict[str, Any]) -> None:
    """The server's refusal of ``create`` (a response.create) while a response of its own runs."""
    scripted.send(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "Conversation already has an active response",
                "event_id": create["event_id"],
            },
        }
    )


def test_active_response_error_is_retried_after_done(scripted: ScriptedServer, client: RealtimeClient) -> None:
    errors = _record(client, "error")
    mark = scripted.mark()
    client.create_response()
    (create,) = scripted.wait_frames(mark, 1)
    # The server had started a response of its own (server VAD) and refuses ours.
    scripted.response_created("resp_vad")
    _refuse_as_busy(scripted, create)
    (payload,) = errors.wait("error")
    assert payload["client_event"]["event_id"] == create["event_id"]
    scripted.response_done("resp_vad")
    frames = scripted.wait_frames(mark, 2)
    assert [f["type"] for f in frames] == ["response.create", "response.create"]


def test_an_active_response_the_client_never_saw_holds_the_retry_until_done(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    errors = _record(client, "error")
    mark = scripted.mark()
    client.reset_responses()  # the client forgets; the server still runs a response
    client.create_response()
    (create,) = scripted.wait_frames(mark, 1)
    _refuse_as_busy(scripted, create)
    errors.wait("error")
    _sync(scripted, client)
    client.realtime.send("input_audio_buffer.clear")  # frames arrive in order: all before it are in
    frames = scripted.wait_frames(mark, 2)
    # not resent at once (it would be refused again, and again)
    assert [f["type"] for f in frames] == ["response.create", "input_audio_buffer.clear"]
    scripted.response_done("resp_unknown")
    frames = scripted.wait_frames(mark, 3)
    assert [f["type"] for f in frames] == ["response.create", "input_audio_buffer.clear", "response.create"]


# -- routing server events ---------------------------------------------------------------


def test_item_events_and_deltas(scripted: ScriptedServer, client: RealtimeClient) -> None:
    recorder = _record(
        client, "conversation.updated", "conversation.item.appended", "conversation.item.completed"
    )
    _start_response(scripted, client)
    scripted.assistant_item("item_t", audio=False)
    for word in ("Hel", "lo"):
        scripted.send(
            {
                "type": "response.text.delta",
                "response_id": "resp_1",
                "item_id": "item_t",
                "output_index": 0,
                "content_index": 0,
                "delta": word,
            }
        )
    final = {
        "id": "item_t",
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "text", "text": "Hello"}],
    }
    scripted.send({"type": "response.output_item.done", "response_id": "resp_1", "output_index": 0, "item": final})
    (completed,) = recorder.wait("conversation.item.completed")
    assert completed["item"]["formatted"]["text"] == "Hello"
    (appended,) = recorder.of("conversation.item.appended")
    assert appended["item"]["id"] == "item_t"
    deltas = [p["delta"] for p in recorder.of("conversation.updated") if p["delta"]]
    assert deltas == [{"text": "Hel"}, {"text": "lo"}]


def test_deltas_reach_every_kind_of_listener(
    scripted: ScriptedServer, client: RealtimeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # conversation.updated is only built when something would receive it: check
    # each kind of receiver on its own, and that state is kept with none.
    _start_response(scripted, client)
    scripted.assistant_item("item_q", audio=False)

    def text_delta(word: str) -> None:
        scripted.send(
            {
                "type": "response.text.delta",
                "response_id": "resp_1",
                "item_id": "item_q",
                "output_index": 0,
                "content_index": 0,
                "delta": word,
            }
        )

    text_delta("a")  # nobody listens
    _sync(scripted, client)
    item = client.conversation.get_item("item_q")
    assert item is not None and item["formatted"]["text"] == "a"

    got: List[Any] = []
    seen = threading.Event()
    client.on_next("conversation.updated", lambda p: (got.append(p["delta"]), seen.set()))
    text_delta("b")
    assert seen.wait(5) and got == [{"text": "b"}]

    waiting = signal_when_waiting(monkeypatch)
    waited: List[Any] = []
    thread = threading.Thread(target=lambda: waited.append(client.wait_for_next("conversation.updated", timeout=5)))
    thread.start()
    assert waiting.wait(5)
    text_delta("c")
    thread.join(5)
    assert waited and waited[0]["item"] is item and waited[0]["delta"] == {"text": "c"}

    events = client.events()
    text_delta("d")
    _sync(scripted, client)
    queued = [events.get_nowait() for _ in range(events.qsize())]
    assert [(name, p["delta"]) for name, p in queued] == [("conversation.updated", {"text": "d"})]
    assert item["formatted"]["text"] == "abcd" and got == [{"text": "b"}]


def test_out_of_order_unknown_and_bad_events_become_errors(scripted: ScriptedServer, client: RealtimeClient) -> None:
    recorder = _record(client, "error", "conversation.updated", "realtime.event")
    # A transcript before its item: parked, then attached.
    scripted.send(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_v",
            "content_index": 0,
            "transcript": "hi there",
        }
    )
    scripted.send(
        {
            "type": "conversation.item.created",
            "item": {
                "id": "item_v",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        }
    )
    # Events the client does not know pass through.
    scripted.send({"type": "output_audio_buffer.started", "response_id": "resp_x"})
    # A delta for an unknown item: an error dispatch, and the loop goes on.
    scripted.send(
        {
            "type": "response.text.delta",
            "response_id": "r",
            "item_id": "ghost",
            "output_index": 0,
            "content_index": 0,
            "delta": "x",
        }
    )
    scripted.send_raw("this is not json")
    _sync(scripted, client)
    item = client.conversation.get_item("item_v")
    assert item is not None and item["formatted"]["transcript"] == "hi there"
    errors = recorder.of("error")
    assert isinstance(errors[0]["error"], UnknownItemError)
    assert errors[0]["event"]["item_id"] == "ghost"
    assert isinstance(errors[1]["error"], ProtocolError) and errors[1]["raw"] == "this is not json"
    types = [e["event"]["type"] for e in recorder.of("realtime.event") if e["source"] == "server"]
    assert "output_audio_buffer.started" in types
    assert client.is_connected()


def test_a_raising_callback_is_logged_and_the_loop_goes_on(
    scripted: ScriptedServer, client: RealtimeClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(payload: Dict[str, Any]) -> None:
        raise RuntimeError("user bug")

    client.on("conversation.item.appended", broken)
    recorder = _record(client, "conversation.item.appended")
    for index in range(2):
        scripted.send(
            {
                "type": "conversation.item.created",
                "item": {"id": f"item_{index}", "type": "message", "role": "user", "status": "completed", "content": []},
            }
        )
    assert len(recorder.wait("conversation.item.appended", 2)) == 2
    assert "user bug" in caplog.text
    assert client.is_connected()


def test_server_error_mid_response_names_the_client_event(scripted: ScriptedServer, client: RealtimeClient) -> None:
    recorder = _record(client, "error", "conversation.item.completed")
    _start_response(scripted, client)
    scripted.assistant_item("item_a")
    mark = scripted.mark()
    client.delete_item("missing_item")
    (delete,) = scripted.wait_frames(mark, 1)
    scripted.send(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "item_not_found",
                "message": "Item missing_item does not exist",
                "param": None,
                "event_id": delete["event_id"],
            },
        }
    )
    (payload,) = recorder.wait("error")
    error = payload["error"]
    assert isinstance(error, ServerError) and error.code == "item_not_found"
    assert payload["client_event"] == delete
    assert payload["event"]["type"] == "error"
    # The response carries on.
    scripted.send(
        {
            "type": "response.output_item.done",
            "response_id": "resp_1",
            "output_index": 0,
            "item": {"id": "item_a", "type": "message", "role": "assistant", "status": "completed", "content": []},
        }
    )
    recorder.wait("conversation.item.completed")


def test_speech_events_interrupt_and_slice_the_window(scripted: ScriptedServer) -> None:
    with RealtimeClient(url=scripted.url, protocol="beta", input_audio_window=1.0) as rt:
        rt.update_session(turn_detection=DEFAULT_SERVER_VAD_CONFIG)
        recorder = _record(rt, "conversation.interrupted", "conversation.item.appended")
        ramp = (np.arange(24000 * 3) % 30000).astype(np.int16)  # 3 s at 24 kHz
        for start in range(0, ramp.shape[0], 2400):
            rt.append_input_audio(ramp[start : start + 2400])
        # Only about a second is kept, whatever the session length.
        assert rt._input_audio.window_samples <= 24000 + 2400
        scripted.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 2500, "item_id": "item_s"})
        scripted.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2900, "item_id": "item_s"})
        scripted.send(
            {
                "type": "conversation.item.created",
                "item": {
                    "id": "item_s",
                    "type": "message",
                    "role": "user",
                    "status": "completed",
                    "content": [{"type": "input_audio", "transcript": None}],
                },
            }
        )
        item = recorder.wait("conversation.item.appended")[0]["item"]
        assert recorder.of("conversation.interrupted") == [{}]
        assert np.array_equal(item["formatted"]["audio"], ramp[60000:69600])
        _validate_all(scripted)


# -- tools ---------------------------------------------------------------------------------


def _tool_outputs(scripted: ScriptedServer, count: int) -> Dict[str, Any]:
    frames = scripted.wait_for("conversation.item.create", count)
    return {
        f["item"]["call_id"]: json.loads(f["item"]["output"])
        for f in frames
        if f["item"]["type"] == "function_call_output"
    }


def test_tool_calls_run_on_a_worker_and_one_response_follows(scripted: ScriptedServer, client: RealtimeClient) -> None:
    threads: List[str] = []
    release = threading.Event()

    def add(args: Dict[str, Any]) -> Dict[str, Any]:
        threads.append(threading.current_thread().name)
        release.wait(5)
        return {"sum": args["a"] + args["b"]}

    client.add_tool({"name": "add"}, add)
    client.add_tool({"name": "boom"}, lambda args: 1 / 0)
    _start_response(scripted, client)
    scripted.function_call("item_f1", "call_1", "add", '{"a": 1, "b": 2}')
    scripted.function_call("item_f2", "call_2", "boom", "{}", index=1)
    scripted.function_call("item_f3", "call_3", "unregistered", "{}", index=2)
    scripted.function_call("item_f4", "call_4", "add", "{not json", index=3)
    scripted.response_done()
    _sync(scripted, client)
    assert scripted.frames("response.create") == []  # the calls are not done yet
    release.set()
    outputs = _tool_outputs(scripted, 3)
    assert outputs["call_1"] == {"sum": 3}
    assert "division by zero" in outputs["call_2"]["error"]
    assert "invalid JSON" in outputs["call_4"]["error"]
    assert "call_3" not in outputs
    scripted.wait_for("response.create")
    _sync(scripted, client)
    assert len(scripted.frames("response.create")) == 1
    types = [f["type"] for f in scripted.frames()]
    assert types.index("response.create") > max(i for i, t in enumerate(types) if t == "conversation.item.create")
    assert threads and all(name.startswith("realtime-sync-tool") for name in threads)


def test_slow_tool_times_out_with_an_error_output(scripted: ScriptedServer) -> None:
    release = threading.Event()
    with RealtimeClient(url=scripted.url, protocol="beta", tool_timeout=0.2) as rt:
        rt.add_tool({"name": "slow"}, lambda args: release.wait(5))
        scripted.response_created()
        scripted.function_call("item_f", "call_s", "slow", "{}")
        scripted.response_done()
        outputs = _tool_outputs(scripted, 1)
        assert "did not finish" in outputs["call_s"]["error"]
        scripted.wait_for("response.create")
        release.set()
        _validate_all(scripted)


def test_tool_only_follows_up_completed_responses(scripted: ScriptedServer, client: RealtimeClient) -> None:
    client.add_tool({"name": "t"}, lambda args: "ok")
    _start_response(scripted, client)
    scripted.function_call("item_f", "call_c", "t", "{}")
    scripted.response_done(status="cancelled")
    assert _tool_outputs(scripted, 1) == {"call_c": "ok"}
    _sync(scripted, client)
    assert scripted.frames("response.create") == []


# -- blocking helpers ------------------------------------------------------------------------


def test_waits_time_out_with_none(client: RealtimeClient) -> None:
    assert client.wait_for_next_item(timeout=0.05) is None
    assert client.wait_for_next_completed_item(timeout=0.05) is None


@pytest.mark.parametrize(
    "helper", ["wait_for_next_item", "wait_for_next_completed_item", "ask", "wait_for_next"]
)
def test_disconnect_wakes_waiters(
    scripted: ScriptedServer, client: RealtimeClient, monkeypatch: pytest.MonkeyPatch, helper: str
) -> None:
    waiting = signal_when_waiting(monkeypatch)
    outcome: List[BaseException] = []

    def wait() -> None:
        try:
            if helper == "ask":
                client.ask("hi", timeout=None)
            elif helper == "wait_for_next":
                client.wait_for_next("conversation.updated", timeout=None)
            else:
                getattr(client, helper)(timeout=None)
        except ConnectionClosedError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    assert waiting.wait(5)
    client.disconnect()
    thread.join(5)
    assert not thread.is_alive()
    assert len(outcome) == 1
    with pytest.raises(NotConnectedError):
        client.wait_for_next_item(timeout=1)


def test_wait_for_close_returns_its_payload(
    scripted: ScriptedServer, client: RealtimeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = signal_when_waiting(monkeypatch)
    payloads: List[Any] = []
    thread = threading.Thread(target=lambda: payloads.append(client.wait_for_next("close", timeout=10)))
    thread.start()
    assert waiting.wait(5)
    scripted.close(4001, "bye")
    thread.join(10)
    assert payloads == [{"error": True, "code": 4001, "reason": "bye"}]


def test_events_queue_needs_a_positive_size(client: RealtimeClient) -> None:
    with pytest.raises(ConfigurationError):
        client.events(maxsize=0)


def test_server_close_wakes_ask(scripted: ScriptedServer, client: RealtimeClient) -> None:
    scripted.responder = lambda srv, frame: srv.close(4000, "session expired") if frame["type"] == "response.create" else None
    with pytest.raises(ConnectionClosedError) as info:
        client.ask("hello", timeout=None)
    assert info.value.code == 4000 and info.value.reason == "session expired"
    assert not client.is_connected()


def test_waiting_inside_a_callback_raises(scripted: ScriptedServer, client: RealtimeClient) -> None:
    seen: List[BaseException] = []

    def callback(payload: Dict[str, Any]) -> None:
        try:
            client.wait_for_next_item(timeout=1)
        except RuntimeError as exc:
            seen.append(exc)

    client.on("conversation.item.appended", callback)
    scripted.send(
        {
            "type": "conversation.item.created",
            "item": {"id": "item_x", "type": "message", "role": "user", "status": "completed", "content": []},
        }
    )
    _sync(scripted, client)
    assert len(seen) == 1 and "callback" in str(seen[0])


def test_disconnect_from_inside_a_callback(scripted: ScriptedServer, client: RealtimeClient) -> None:
    recorder = _record(client, "close")
    client.on("conversation.item.appended", lambda payload: client.disconnect())
    scripted.send(
        {
            "type": "conversation.item.created",
            "item": {"id": "item_x", "type": "message", "role": "user", "status": "completed", "content": []},
        }
    )
    (close,) = recorder.wait("close")
    assert close["error"] is False
    assert not client.is_connected()
    client.realtime.disconnect()  # joins the receive thread
    assert recorder.of("close") == [close]  # dispatched once
    assert client.conversation.get_items() == []


def test_ask_raises_the_server_error_for_its_request(scripted: ScriptedServer, client: RealtimeClient) -> None:
    def refuse(srv: ScriptedServer, frame: Dict[str, Any]) -> None:
        if frame["type"] == "conversation.item.create":
            srv.send(
                {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "code": "bad", "message": "no", "event_id": frame["event_id"]},
                }
            )

    scripted.responder = refuse
    with pytest.raises(ServerError, match="no"):
        client.ask("hello", timeout=5)


def test_events_queue_is_bounded_and_drops_oldest(scripted: ScriptedServer, client: RealtimeClient) -> None:
    events = client.events(maxsize=3)
    assert client.events() is events
    for index in range(5):
        scripted.send(
            {
                "type": "conversation.item.created",
                "item": {"id": f"item_{index}", "type": "message", "role": "user", "status": "completed", "content": []},
            }
        )
    _sync(scripted, client)
    got = [events.get_nowait() for _ in range(events.qsize())]
    assert len(got) == 3
    assert got[-1][0] == "conversation.item.completed" and got[-1][1]["item"]["id"] == "item_4"
    assert client.events_dropped == 5 * 3 - 3


# -- the GA wire dialect ---------------------------------------------------------------------


def test_ga_dialect_is_translated_both_ways(client_event_validator: Any) -> None:
    pytest.importorskip("websockets")
    with ScriptedServer(protocol="ga") as scripted:
        client = RealtimeClient(url=scripted.url, protocol="ga")
        recorder = _record(client, "conversation.item.completed", "realtime.event", "error")
        client.connect(timeout=5)
        try:
            assert client.wait_for_session_created(timeout=5)
            (update,) = scripted.wait_for("session.update")
            assert update["session"]["type"] == "realtime"
            assert update["session"] == {"type": "realtime"}  # GA: the server's defaults stand
            client.send_text("hi")
            scripted.wait_for("response.create")
            scripted.response_created()
            scripted.assistant_item("item_ga")
            chunk = np.arange(2400, dtype=np.int16)
            for name, field, value in (
                ("response.audio.delta", "delta", audio.pcm16_to_base64(chunk)),
                ("response.audio_transcript.delta", "delta", "Hi there"),
            ):
                scripted.send(
                    {
                        "type": name,
                        "response_id": "resp_1",
                        "item_id": "item_ga",
                        "output_index": 0,
                        "content_index": 0,
                        field: value,
                    }
                )
            final = {
                "id": "item_ga",
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "audio", "transcript": "Hi there"}],
            }
            scripted.send({"type": "response.output_item.done", "response_id": "resp_1", "output_index": 0, "item": final})
            scripted.response_done(output=[final])
            completed = [p["item"] for p in recorder.wait("conversation.item.completed")]
            assert completed[0]["id"] == "item_ga"
            assert completed[0]["formatted"]["transcript"] == "Hi there"
            assert np.array_equal(completed[0]["formatted"]["audio"], chunk)
            _sync(scripted, client)
            assert recorder.of("error") == []
            assert client.active_response_id() is None
            server_types = {e["event"]["type"] for e in recorder.of("realtime.event") if e["source"] == "server"}
            assert {"conversation.item.created", "response.audio.delta"} <= server_types
            assert "response.output_audio.delta" not in server_types
        finally:
            client.disconnect()
        for frame in scripted.frames():
            client_event_validator(frame, "ga")


# -- review: lifecycle, tools and memory ----------------------------------------------------


def test_disconnect_while_a_tool_blocks_leaves_no_tool_worker(scripted: ScriptedServer) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow(args: Dict[str, Any]) -> str:
        started.set()
        release.wait(10)
        return "late"

    rt = RealtimeClient(url=scripted.url, protocol="beta", tool_timeout=8.0)
    try:
        rt.connect(timeout=5)
        rt.add_tool({"name": "slow"}, slow)
        scripted.response_created()
        scripted.function_call("item_f", "call_s", "slow", "{}")
        assert started.wait(5)
        rt.disconnect()
        workers = [t for t in threading.enumerate() if t.name == "realtime-sync-tools"]
        assert workers == []  # the handler's own thread may live on; the worker must not
    finally:
        release.set()
        rt.disconnect()

def test_reconnect_after_the_server_closed_starts_with_an_empty_conversation(scripted: ScriptedServer) -> None:
    rt = RealtimeClient(url=scripted.url, protocol="beta")
    closed = threading.Event()
    rt.on("close", lambda payload: closed.set())
    try:
        rt.connect(timeout=5)
        scripted.response_created()
        scripted.assistant_item("item_old")
        scripted.response_done()
        _sync(scripted, rt)
        assert rt.conversation.get_item("item_old") is not None
        scripted.close(4000, "session expired")
        assert closed.wait(5)
        assert rt.conversation.get_item("item_old") is not None  # still readable after the close
        rt.connect(timeout=5)
        assert rt.wait_for_session_created(timeout=5) is True
        assert rt.conversation.get_items() == []
        assert rt.conversation.responses == []
    finally:
        rt.disconnect()


def test_sent_audio_messages_are_not_kept_whole(scripted: ScriptedServer, client: RealtimeClient) -> None:
    errors = _record(client, "error")
    samples = np.zeros(24000, dtype=np.int16)
    client.send_user_message_content([{"type": "input_audio", "audio": samples}])
    (create,) = scripted.wait_for("conversation.item.create")
    error = {"type": "invalid_request_error", "code": "x", "message": "bad", "event_id": create["event_id"]}
    scripted.send({"type": "error", "error": error})
    (payload,) = errors.wait("error")
    kept = payload["client_event"]
    assert kept["event_id"] == create["event_id"]
    assert kept["item"]["content"][0]["audio"] == f"<{len(create['item']['content'][0]['audio'])} base64 chars>"
    # The frame on the wire was complete.
    assert len(create["item"]["content"][0]["audio"]) == 64000


def test_reconnect_before_the_old_close_is_handled_keeps_the_new_connection(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The receive thread marks the socket closed before it dispatches "close"; a
    # reconnect in that gap must not have the old close end the new connection.
    gate = threading.Event()
    entered = threading.Event()
    original = RealtimeClient._on_realtime_close

    def delayed_close(self: RealtimeClient, payload: Dict[str, Any]) -> None:
        entered.set()
        gate.wait(5)
        original(self, payload)

    monkeypatch.setattr(RealtimeClient, "_on_realtime_close", delayed_close)
    rt = RealtimeClient(url=scripted.url, protocol="beta")
    closes = _record(rt, "close")
    try:
        rt.connect(timeout=5)
        scripted.wait_for_connection()
        scripted.close(4000, "session expired")
        assert entered.wait(5)
        assert not rt.is_connected()
        # Let the old close through once the client touches the socket layer again.
        for name in ("connect", "disconnect"):
            method = getattr(rt.realtime, name)

            def opening(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
                gate.set()
                return _method(*args, **kwargs)

            setattr(rt.realtime, name, opening)
        rt.connect(timeout=5)
        assert closes.wait("close")[0]["code"] == 4000
        assert rt.wait_for_session_created(timeout=5) is True
        assert rt.create_response() is True
        scripted.wait_for("response.create")
        assert len(closes.of("close")) == 1
    finally:
        gate.set()
        rt.disconnect()


def test_tool_result_that_is_not_strict_json_becomes_an_error_output(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    client.add_tool({"name": "ratio"}, lambda args: {"ratio": float("nan")})
    _start_response(scripted, client)
    scripted.function_call("item_f", "call_n", "ratio", "{}")
    scripted.response_done()
    (frame,) = scripted.wait_for("conversation.item.create")

    def reject(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    output = json.loads(frame["item"]["output"], parse_constant=reject)  # strict JSON
    assert "not JSON-serialisable" in output["error"]


@pytest.mark.parametrize("order", ["output_fails_first", "response_done_first"])
def test_ask_fails_when_a_tool_output_cannot_be_sent(
    scripted: ScriptedServer, client: RealtimeClient, order: str
) -> None:
    # A send that times out (a stalled socket, still open) must not leave ask()
    # waiting for a follow-up response that will never be requested.
    from realtime_sync.errors import RealtimeTimeoutError

    send_failed = threading.Event()
    done_seen = threading.Event()
    client.realtime.on("server.response.done", lambda event: done_seen.set())  # after the client's own handler

    def tool(args: Dict[str, Any]) -> str:
        if order == "response_done_first":
            assert done_seen.wait(5)
        return "ok"

    client.add_tool({"name": "t"}, tool)
    send = client.realtime.send

    def stalled(event_name: str, data: Any = None) -> Any:
        if event_name == "conversation.item.create" and data["item"]["type"] == "function_call_output":
            send_failed.set()
            raise RealtimeTimeoutError("cannot send 'conversation.item.create': the server accepted nothing")
        return send(event_name, data)

    client.realtime.send = stalled  # type: ignore[method-assign]

    def respond(srv: ScriptedServer, frame: Dict[str, Any]) -> None:
        if frame["type"] == "response.create":
            srv.response_created()
            srv.function_call("item_f", "call_t", "t", "{}")
            if order == "output_fails_first":
                assert send_failed.wait(5)
            srv.response_done()

    scripted.responder = respond
    with pytest.raises(RealtimeTimeoutError):
        client.ask("use the tool", timeout=10)
    _sync(scripted, client)
    assert len(scripted.frames("response.create")) == 1


def test_repeated_item_created_appends_the_item_once(scripted: ScriptedServer, client: RealtimeClient) -> None:
    appended: List[str] = []
    completed: List[str] = []
    client.on("conversation.item.appended", lambda e: appended.append(e["item"]["id"]))
    client.on("conversation.item.completed", lambda e: completed.append(e["item"]["id"]))
    item = {"id": "item_dup", "type": "message", "role": "user", "status": "completed", "content": []}
    for _ in range(2):  # a relay's retry, or GA's .added translated beside .created
        scripted.send({"type": "conversation.item.created", "previous_item_id": None, "item": item})
    _sync(scripted, client)
    assert appended == ["item_dup"] and completed == ["item_dup"]
    assert [i["id"] for i in client.conversation.get_items()] == ["item_dup"]


def test_tools_added_from_many_threads_are_all_kept(client: RealtimeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "update_session", lambda **config: None)  # no frames: the table is the point
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so unguarded updates get lost
    start = threading.Barrier(8)

    def add(index: int) -> None:
        start.wait(timeout=5)
        for k in range(25):
            client.add_tool({"name": "tool_%d_%d" % (index, k)}, lambda arguments: None)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(timeout=10)
    finally:
        sys.setswitchinterval(previous)
    assert len(client.tools) == 200
    with pytest.raises(ConfigurationError, match="already added"):
        client.add_tool({"name": "tool_0_0"}, lambda arguments: None)


# -- order: the conversation first, then the user's server listeners ----------------------------


def test_server_listeners_read_the_conversation_already_updated(scripted: ScriptedServer, client: RealtimeClient) -> None:
    """A ``server.response.text.delta`` listener sees the item with that delta in it (as the reference)."""
    seen: List[str] = []
    done = threading.Event()

    def on_delta(event: Dict[str, Any]) -> None:
        item = client.conversation.get_item(event["item_id"])
        seen.append(item["formatted"]["text"] if item is not None else "<missing>")
        if len(seen) == 2:
            done.set()

    client.realtime.on("server.response.text.delta", on_delta)
    _start_response(scripted, client)
    scripted.assistant_item("item_a", "resp_1", audio=False)
    for delta in ("Hel", "lo"):
        scripted.send(
            {"type": "response.text.delta", "response_id": "resp_1", "item_id": "item_a",
             "output_index": 0, "content_index": 0, "delta": delta}
        )
    assert done.wait(5)
    assert seen == ["Hel", "Hello"]


# -- resilience: nothing the server does (or fails to do) wedges the client -------------------


def test_deeply_nested_tool_arguments_give_an_error_output_and_later_tools_still_run(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    calls: List[Dict[str, Any]] = []
    client.add_tool({"name": "echo"}, lambda args: calls.append(args) or "ok")
    _start_response(scripted, client)
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    scripted.function_call("item_f1", "call_1", "echo", deep)
    scripted.function_call("item_f2", "call_2", "echo", '{"b": 2}', index=1)
    outputs = _tool_outputs(scripted, 2)
    try:
        json.loads(deep)
    except RecursionError:  # too deep for this interpreter's json: an error output, never a dead worker
        assert "nested too deeply" in outputs["call_1"]["error"]
        assert outputs["call_2"] == "ok" and calls == [{"b": 2}]
    else:  # 3.13's json parses it: the call simply runs
        assert outputs["call_1"] == "ok" and outputs["call_2"] == "ok" and calls[1] == {"b": 2}
    # the worker is alive: a later response's call runs too
    scripted.response_done("resp_1")
    scripted.wait_for("response.create")
    scripted.response_created("resp_2")
    scripted.function_call("item_f3", "call_3", "echo", '{"c": 3}', response_id="resp_2")
    assert _tool_outputs(scripted, 3)["call_3"] == "ok"


def test_the_tool_gets_the_streamed_arguments_when_the_final_item_omits_them(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    got: List[Dict[str, Any]] = []
    client.add_tool({"name": "lookup"}, lambda args: got.append(args) or "ok")
    _start_response(scripted, client)
    item = {"id": "item_f", "object": "realtime.item", "type": "function_call", "status": "in_progress",
            "call_id": "call_1", "name": "lookup", "arguments": ""}
    scripted.send({"type": "response.output_item.added", "response_id": "resp_1", "output_index": 0, "item": item})
    scripted.send({"type": "conversation.item.created", "previous_item_id": None, "item": item})
    for delta in ('{"city": ', '"Oslo"}'):
        scripted.send({"type": "response.function_call_arguments.delta", "response_id": "resp_1", "item_id": "item_f",
                       "output_index": 0, "call_id": "call_1", "delta": delta})
    final = {key: value for key, value in item.items() if key != "arguments"}
    scripted.send({"type": "response.output_item.done", "response_id": "resp_1", "output_index": 0,
                   "item": dict(final, status="completed")})
    assert _tool_outputs(scripted, 1)["call_1"] == "ok"
    assert got == [{"city": "Oslo"}]


def test_a_lost_response_done_is_forgotten_when_the_server_says_nothing_is_active(
    scripted: ScriptedServer, client: RealtimeClient
) -> None:
    _start_response(scripted, client)  # resp_1 never gets its response.done
    assert client.create_response() is False  # queued behind it
    client.cancel_response()
    (cancel,) = scripted.wait_for("response.cancel")
    scripted.send({"type": "error", "error": {"type": "invalid_request_error", "code": "response_cancel_not_active",
                                              "message": "Cancellation failed: no active response found",
                                              "param": None, "event_id": cancel["event_id"]}})
    _sync(scripted, client)
    assert client.active_response_id() is None
    mark = scripted.mark()
    assert client.create_response() is True  # sent at once: nothing is wedged
    assert [f["type"] for f in scripted.wait_frames(mark, 1)] == ["response.create"]


def test_an_unanswered_response_create_is_given_up_after_response_start_timeout(scripted: ScriptedServer) -> None:
    with RealtimeClient(url=scripted.url, protocol="beta", response_start_timeout=0.3) as rt:
        assert rt.wait_for_session_created(5)
        scripted.wait_for("session.update")
        assert rt.create_response() is True  # the server never answers this one
        assert rt.create_response() is False  # queued behind it
        first, second = scripted.wait_for("response.create", 2)  # sent once the first was given up
        assert first["event_id"] != second["event_id"]


def test_ask_behind_an_unanswered_response_create_fails_with_a_timeout_naming_it(scripted: ScriptedServer) -> None:
    with RealtimeClient(url=scripted.url, protocol="beta", response_start_timeout=0.2) as rt:
        assert rt.wait_for_session_created(5)
        with pytest.raises(RealtimeTimeoutError, match="did not start the requested response within 0.2 s"):
            rt.ask("anyone there?", timeout=5)


def test_reset_responses_unwedges_the_queue(scripted: ScriptedServer, client: RealtimeClient) -> None:
    _start_response(scripted, client)  # never done
    assert client.create_response() is False
    assert client.reset_responses() == 2  # the active one and the queued one
    assert client.active_response_id() is None
    mark = scripted.mark()
    assert client.create_response() is True
    assert [f["type"] for f in scripted.wait_frames(mark, 1)] == ["response.create"]


def test_cancel_response_drops_the_queued_requests_too(scripted: ScriptedServer, client: RealtimeClient) -> None:
    _start_response(scripted, client)
    assert client.create_response() is False
    client.cancel_response()
    scripted.wait_for("response.cancel")
    mark = scripted.mark()
    scripted.response_done("resp_1", status="cancelled")
    _sync(scripted, client)
    client.update_session()  # a frame sent after anything the response.done could have caused
    frames = scripted.wait_frames(mark, 1)
    assert [f["type"] for f in frames] == ["session.update"]  # the queued request was dropped, not sent


@pytest.mark.parametrize("event_id", [["evt_a", "evt_b"], {"id": "evt_a"}, 7])
def test_an_error_with_an_odd_event_id_gives_exactly_one_error_dispatch(
    scripted: ScriptedServer, client: RealtimeClient, event_id: Any
) -> None:
    recorder = _record(client, "error")
    scripted.send({"type": "error", "error": {"type": "invalid_request_error", "code": "bad", "message": "odd",
                                              "param": None, "event_id": event_id}})
    _sync(scripted, client)
    (payload,) = recorder.of("error")
    assert isinstance(payload["error"], ServerError) and payload["client_event"] is None
    assert client.is_connected()


def test_a_connection_lost_without_a_close_frame_gives_ask_the_reason(scripted: ScriptedServer, client: RealtimeClient) -> None:
    import socket as socket_module

    def drop(server: ScriptedServer, frame: Dict[str, Any]) -> None:
        if frame.get("type") == "response.create":
            server.latest_connection().socket.shutdown(socket_module.SHUT_RDWR)  # no close frame

    scripted.responder = drop
    with pytest.raises(ConnectionClosedError) as caught:
        client.ask("hello?", timeout=10)
    error = caught.value
    assert error.code is None and error.reason
    assert error.reason in str(error)


# -- GA-only events reach the conversation, and each item completes once --------------------------


def test_conversation_item_done_completes_an_item_once(scripted: ScriptedServer, client: RealtimeClient) -> None:
    recorder = _record(client, "conversation.item.completed", "conversation.updated")
    item = {"id": "item_c", "object": "realtime.item", "type": "message", "role": "user", "status": "in_progress",
            "content": [{"type": "input_audio", "transcript": None}]}
    scripted.send({"type": "conversation.item.created", "previous_item_id": None, "item": item})
    scripted.send({"type": "conversation.item.done", "previous_item_id": None, "item": dict(item, status="completed")})
    scripted.send({"type": "conversation.item.done", "previous_item_id": None, "item": dict(item, status="completed")})
    _sync(scripted, client)
    completed = recorder.of("conversation.item.completed")
    assert [p["item"]["id"] for p in completed] == ["item_c"]
    assert client.conversation.get_item("item_c")["status"] == "completed"


def test_streamed_input_transcription_updates_the_item(scripted: ScriptedServer, client: RealtimeClient) -> None:
    recorder = _record(client, "conversation.updated")
    item = {"id": "item_t", "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}]}
    scripted.send({"type": "conversation.item.created", "previous_item_id": None, "item": item})
    for delta in ("Hel", "lo"):
        scripted.send({"type": "conversation.item.input_audio_transcription.delta", "item_id": "item_t",
                       "content_index": 0, "delta": delta})
    _sync(scripted, client)
    deltas = [p["delta"] for p in recorder.of("conversation.updated") if p["delta"]]
    assert deltas == [{"transcript": "Hel"}, {"transcript": "lo"}]
    assert client.conversation.get_item("item_t")["formatted"]["transcript"] == "Hello"


def test_a_nan_speech_start_gives_one_error_and_the_stop_is_handled(scripted: ScriptedServer, client: RealtimeClient) -> None:
    recorder = _record(client, "error")
    scripted.send_raw(json.dumps({"type": "input_audio_buffer.speech_started", "event_id": "ev_nan",
                                  "audio_start_ms": float("nan"), "item_id": "item_s"}))
    scripted.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": "item_s"})
    _sync(scripted, client)
    (payload,) = recorder.of("error")
    assert isinstance(payload["error"], ProtocolError) and payload["event"]["event_id"] == "ev_nan"
    assert client.is_connected()
