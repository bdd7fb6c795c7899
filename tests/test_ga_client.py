"""RealtimeClient session settings and turn handling on the GA wire (and the same settings on beta).

A scripted server writes GA frames by hand (checked against
``openai.types.realtime`` before they are sent) and records what the client
sends; every GA client frame is checked against the GA models with undeclared
fields refused. Expected wire shapes are written out here from the GA schema,
never produced by ``realtime_sync.dialects``.
"""

from __future__ import annotations

import base64
import threading
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest
from support_client import EventRecorder, ScriptedServer, session_object, validate_client_event

from realtime_sync import RealtimeClient
from realtime_sync.errors import ConfigurationError

pytest.importorskip("openai")
pytest.importorskip("pydantic")

from support_ga import (  # noqa: E402 - after the optional-dependency skip
    check_ga_client_event,
    ga_event,
    ga_session,
    ga_user_audio_item,
    ga_user_text_item,
)

Event = Dict[str, Any]
WAIT = 5.0


@pytest.fixture
def ga_server() -> Iterator[ScriptedServer]:
    # protocol="beta": the server writes the test's GA frames as they are, untranslated.
    with ScriptedServer(session=ga_session(), protocol="beta") as server:
        yield server
        assert not server.errors
        for frame in server.frames():
            check_ga_client_event(frame)


@pytest.fixture
def beta_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server
        assert not server.errors
        for frame in server.frames():
            validate_client_event(frame)


def _connect(server: ScriptedServer, protocol: str = "ga", **settings: Any) -> RealtimeClient:
    client = RealtimeClient(url=server.url, protocol=protocol)
    if settings:
        client.update_session(**settings)
    client.connect(timeout=WAIT)
    assert client.wait_for_session_created(timeout=WAIT)
    server.wait_for("session.update")
    return client


def _sync(server: ScriptedServer, client: RealtimeClient) -> None:
    """Wait until the client has handled everything the server sent so far."""
    seen = threading.Event()
    client.realtime.on_next("server.rate_limits.updated", lambda event: seen.set())
    server.send(ga_event("rate_limits.updated", rate_limits=[]))
    assert seen.wait(WAIT)


def _update(server: ScriptedServer, client: RealtimeClient, **settings: Any) -> Event:
    """Call update_session and return the one frame it sent."""
    mark = server.mark()
    client.update_session(**settings)
    (frame,) = server.wait_frames(mark, 1)
    assert frame["type"] == "session.update"
    return frame


def _answer(server: ScriptedServer, client: RealtimeClient, **overrides: Any) -> None:
    """The server answers the client's session.update with session.updated (GA)."""
    server.send(ga_event("session.updated", session=ga_session(**overrides)))
    _sync(server, client)


def _audio_input(turn_detection: Any) -> Dict[str, Any]:
    section = ga_session()["audio"]
    section["input"]["turn_detection"] = turn_detection
    return section


# -- 1. settings in either spelling, sent as given ---------------------------------------------


def test_ga_native_settings_reach_the_wire_as_given(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server)
    try:
        frame = _update(
            ga_server,
            client,
            type="realtime",
            output_modalities=["text"],
            audio={"output": {"voice": "cedar"}, "input": {"turn_detection": {"type": "semantic_vad"}}},
        )
        assert frame["session"] == {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"output": {"voice": "cedar"}, "input": {"turn_detection": {"type": "semantic_vad"}}},
        }
        assert client.get_turn_detection_type() == "semantic_vad"
        assert client.session_config["modalities"] == ["text"]
        assert client.session_config["voice"] == "cedar"
    finally:
        client.disconnect()


def test_flat_settings_on_ga_and_a_turn_detection_without_type(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server)
    try:
        frame = _update(
            ga_server,
            client,
            modalities=["text"],
            voice="marin",
            max_response_output_tokens=256,
            tool_choice="lookup",
            turn_detection={"silence_duration_ms": 500},
        )
        assert frame["session"] == {
            "type": "realtime",
            "output_modalities": ["text"],
            "max_output_tokens": 256,
            "tool_choice": {"type": "function", "name": "lookup"},
            "audio": {
                "output": {"voice": "marin"},
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}},
            },
        }
        assert client.get_turn_detection_type() == "server_vad"
    finally:
        client.disconnect()


def test_ga_only_settings_pass_through(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server)
    try:
        settings = {
            "prompt": {"id": "pmpt_123", "variables": {"city": "Paris"}},
            "tracing": "auto",
            "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
            "include": ["item.input_audio_transcription.logprobs"],
            "max_output_tokens": "inf",
            "tool_choice": {"type": "mcp", "server_label": "deepwiki"},
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "noise_reduction": {"type": "near_field"},
                    "transcription": {"model": "gpt-4o-mini-transcribe", "language": "fr"},
                },
                "output": {"format": {"type": "audio/pcma"}, "speed": 1.2},
            },
        }
        frame = _update(ga_server, client, **settings)
        assert frame["session"] == dict(settings, type="realtime")
        assert client.conversation.input_audio_format == "g711_ulaw"
        assert client.conversation.output_audio_format == "g711_alaw"
    finally:
        client.disconnect()


def test_ga_settings_on_a_beta_connection(beta_server: ScriptedServer) -> None:
    client = _connect(beta_server, protocol="beta")
    try:
        frame = _update(
            beta_server,
            client,
            type="realtime",
            output_modalities=["text"],
            max_output_tokens=100,
            audio={"output": {"voice": "cedar", "format": {"type": "audio/pcmu"}},
                   "input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}},
        )
        assert frame["session"] == {
            "modalities": ["text"],
            "max_response_output_tokens": 100,
            "voice": "cedar",
            "output_audio_format": "g711_ulaw",
            "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
        }
        assert client.get_turn_detection_type() == "semantic_vad"
        assert client.conversation.output_audio_format == "g711_ulaw"
    finally:
        client.disconnect()


def test_only_what_changed_is_sent(ga_server: ScriptedServer, beta_server: ScriptedServer) -> None:
    ga = _connect(ga_server)
    beta = _connect(beta_server, protocol="beta")
    try:
        _update(ga_server, ga, instructions="Be brief.")
        assert _update(ga_server, ga, voice="cedar")["session"] == {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}
        assert _update(beta_server, beta, voice="cedar")["session"] == {"voice": "cedar"}
        # A new tool list is sent with the registered tools merged in.
        ga.add_tool({"name": "lookup", "parameters": {"type": "object"}}, lambda args: 1)
        ga_server.wait_for("session.update", 4)
        frame = _update(ga_server, ga, tools=[{"name": "plain"}])
        assert frame["session"] == {
            "type": "realtime",
            "tools": [
                {"type": "function", "name": "plain"},
                {"type": "function", "name": "lookup", "parameters": {"type": "object"}},
            ],
        }
    finally:
        ga.disconnect()
        beta.disconnect()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"voices": "cedar"}, "unknown session setting 'voices'"),
        ({"audio": {"input": {"vad": {}}}}, "audio.input.vad"),
        ({"audio": {"speakers": {}}}, "speakers"),
        ({"audio": {"output": "cedar"}}, "audio.output must be a dict"),
        ({"type": "transcription"}, "realtime"),
        ({"voice": "cedar", "audio": {"output": {"voice": "marin"}}}, "given twice"),
        ({"modalities": ["text"], "output_modalities": ["text"]}, "given twice"),
        ({"output_modalities": ["video"]}, "modalities"),
        ({"voice": 3}, "voice"),
        ({"audio": {"input": {"format": {"type": "audio/mp3"}}}}, "input_audio_format"),
        ({"audio": {"input": {"turn_detection": "semantic_vad"}}}, "turn_detection"),
    ],
)
def test_bad_settings_raise_and_change_nothing(ga_server: ScriptedServer, settings: Event, message: str) -> None:
    client = _connect(ga_server)
    try:
        before = dict(client.session_config)
        mark = ga_server.mark()
        with pytest.raises(ConfigurationError, match=message):
            client.update_session(**settings)
        assert client.session_config == before
        _sync(ga_server, client)
        assert ga_server.since(mark) == []
    finally:
        client.disconnect()


# -- 3. what connect() sends -------------------------------------------------------------------


def test_ga_connect_keeps_the_server_defaults(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server)
    try:
        (update,) = ga_server.frames("session.update")
        assert update["session"] == {"type": "realtime"}
        assert client.get_turn_detection_type() == "server_vad"  # the GA server's default
    finally:
        client.disconnect()


def test_ga_connect_sends_what_the_caller_set_and_the_tools(ga_server: ScriptedServer) -> None:
    client = RealtimeClient(url=ga_server.url, protocol="ga")
    client.update_session(instructions="Answer in French.", audio={"output": {"voice": "cedar"}})
    client.add_tool({"name": "lookup", "parameters": {"type": "object"}}, lambda args: 1)
    client.connect(timeout=WAIT)
    try:
        (update,) = ga_server.wait_for("session.update")
        assert update["session"] == {
            "type": "realtime",
            "instructions": "Answer in French.",
            "audio": {"output": {"voice": "cedar"}},
            "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
        }
    finally:
        client.disconnect()


def test_beta_connect_sends_the_reference_defaults(beta_server: ScriptedServer) -> None:
    client = _connect(beta_server, protocol="beta", voice="cedar")
    try:
        (update,) = beta_server.frames("session.update")
        assert update["session"]["instructions"] == ""
        assert update["session"]["turn_detection"] is None
        assert update["session"]["voice"] == "cedar"
        assert update["session"]["modalities"] == ["text", "audio"]
    finally:
        client.disconnect()


# -- 2. the effective session ----------------------------------------------------------------------


def test_turn_detection_and_formats_follow_the_server(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server)
    try:
        assert client.get_turn_detection_type() == "server_vad"
        _answer(ga_server, client, audio=_audio_input({"type": "semantic_vad", "eagerness": "auto"}))
        assert client.get_turn_detection_type() == "semantic_vad"
        _answer(ga_server, client, audio=_audio_input(None))
        assert client.get_turn_detection_type() is None
        audio = ga_session()["audio"]
        audio["output"]["format"] = {"type": "audio/pcmu"}
        audio["output"]["voice"] = "cedar"
        _answer(ga_server, client, audio=audio)
        assert client.conversation.output_audio_format == "g711_ulaw"
        assert client.session is not None and client.session["voice"] == "cedar"
        # A later, unrelated update does not put the stored format back.
        _update(ga_server, client, instructions="x")
        assert client.conversation.output_audio_format == "g711_ulaw"
    finally:
        client.disconnect()


def test_a_change_on_its_way_counts_until_the_server_answers_or_refuses(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server)
    try:
        _answer(ga_server, client)  # connect's update answered: server VAD, the server's default
        assert client.get_turn_detection_type() == "server_vad"
        frame = _update(ga_server, client, turn_detection=None)
        assert frame["session"] == {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        assert client.get_turn_detection_type() is None  # not answered yet: what was asked
        error = {"type": "invalid_request_error", "code": "invalid_value", "message": "no", "param": None,
                 "event_id": frame["event_id"]}
        recorder = EventRecorder()
        client.on("error", recorder.callback("error"))
        ga_server.send(ga_event("error", error=error))
        recorder.wait("error")
        assert client.get_turn_detection_type() == "server_vad"  # refused: the server's again
    finally:
        client.disconnect()


def test_server_vad_on_the_server_wins_over_the_beta_default(beta_server: ScriptedServer) -> None:
    # The client's own config says manual turns; the server runs VAD: the client follows the server.
    client = _connect(beta_server, protocol="beta")
    try:
        assert client.session_config["turn_detection"] is None
        beta_server.send({"type": "session.updated", "session": session_object(turn_detection={"type": "server_vad"})})
        seen = threading.Event()
        client.realtime.on_next("server.rate_limits.updated", lambda event: seen.set())
        beta_server.send({"type": "rate_limits.updated", "rate_limits": []})
        assert seen.wait(WAIT)
        assert client.get_turn_detection_type() == "server_vad"
    finally:
        client.disconnect()


def _speak(server: ScriptedServer, client: RealtimeClient, samples: np.ndarray, item_id: str, *, ga: bool) -> Event:
    """Append ``samples`` and have the server detect speech in them; return the user item."""
    recorder = EventRecorder()
    client.on("conversation.item.appended", recorder.callback("appended"))
    client.append_input_audio(samples)
    server.wait_for("input_audio_buffer.append")
    end_ms = len(samples) * 1000 // 24000
    item = ga_user_audio_item(item_id)
    events = [
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": item_id},
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": item_id},
        {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None},
        {"type": "conversation.item.added" if ga else "conversation.item.created", "previous_item_id": None,
         "item": item},
    ]
    for event in events:
        server.send(ga_event(event.pop("type"), **event) if ga else event)
    (payload,) = recorder.wait("appended")
    result: Event = payload["item"]
    return result


@pytest.mark.parametrize("protocol", ["ga", "beta"])
def test_vad_without_type_gives_the_user_item_its_audio_and_commits_nothing_later(protocol: str) -> None:
    ga = protocol == "ga"
    with ScriptedServer(session=ga_session() if ga else session_object(), protocol="beta") as server:
        client = _connect(server, protocol=protocol)
        try:
            frame = _update(server, client, turn_detection={"silence_duration_ms": 500})
            wire = frame["session"]["audio"]["input"]["turn_detection"] if ga else frame["session"]["turn_detection"]
            assert wire["silence_duration_ms"] == 500 and wire.get("type", "server_vad") == "server_vad"
            assert client.get_turn_detection_type() == "server_vad"
            samples = (np.sin(np.arange(12000) / 7.0) * 9000).astype(np.int16)
            item = _speak(server, client, samples, "item_vad", ga=ga)
            assert np.array_equal(item["formatted"]["audio"], samples)
            mark = server.mark()
            client.send_text("and now in writing")
            frames = server.wait_frames(mark, 2)
            assert [f["type"] for f in frames] == ["conversation.item.create", "response.create"]
        finally:
            client.disconnect()
        check = check_ga_client_event if ga else validate_client_event
        for sent in server.frames():
            check(sent)


# -- 4. manual turns: pending audio becomes its own item ------------------------------------------------


def test_manual_audio_then_text_gives_two_items(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server, turn_detection=None)
    try:
        _answer(ga_server, client, audio=_audio_input(None))
        assert client.get_turn_detection_type() is None
        samples = (np.arange(4800) % 300 - 150).astype(np.int16)
        client.append_input_audio(samples)
        ga_server.wait_for("input_audio_buffer.append")
        mark = ga_server.mark()
        recorder = EventRecorder()
        client.on("conversation.item.appended", recorder.callback("appended"))
        client.send_text("what did I just say?")
        frames = ga_server.wait_frames(mark, 3)
        assert [f["type"] for f in frames] == ["input_audio_buffer.commit", "conversation.item.create", "response.create"]
        ga_server.send(ga_event("input_audio_buffer.committed", item_id="item_audio", previous_item_id=None))
        ga_server.send(ga_event("conversation.item.added", previous_item_id=None, item=ga_user_audio_item("item_audio")))
        ga_server.send(ga_event("conversation.item.added", previous_item_id="item_audio",
                                item=ga_user_text_item("item_text", "what did I just say?")))
        appended: List[Event] = [p["item"] for p in recorder.wait("appended", 2)]
        assert [i["id"] for i in appended] == ["item_audio", "item_text"]
        assert np.array_equal(appended[0]["formatted"]["audio"], samples)
        assert len(appended[1]["formatted"]["audio"]) == 0
        assert appended[1]["formatted"]["text"] == "what did I just say?"
    finally:
        client.disconnect()


# -- images -------------------------------------------------------------------------------------

_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
_PNG_URL = "data:image/png;base64," + base64.b64encode(_PNG).decode("ascii")


def test_images_from_bytes_a_path_or_a_data_url(ga_server: ScriptedServer, tmp_path: Any) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(_PNG)
    client = _connect(ga_server)
    try:
        for image in (_PNG, str(path), path, _PNG_URL):
            mark = ga_server.mark()
            content = [{"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image": image}]
            client.send_user_message_content(content)
            create = ga_server.wait_frames(mark, 2)[0]
            assert create["type"] == "conversation.item.create"
            assert create["item"]["content"] == [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": _PNG_URL},
            ]
            assert content[1]["image"] is image  # the caller's part is not changed
            response = {"id": f"resp_{mark}", "object": "realtime.response", "output": []}
            ga_server.send(ga_event("response.created", response=dict(response, status="in_progress")))
            ga_server.send(ga_event("response.done", response=dict(response, status="completed")))
        mark = ga_server.mark()
        client.send_user_message_content([{"type": "input_image", "image_url": _PNG_URL, "detail": "low"}])
        create = ga_server.wait_frames(mark, 1)[0]
        assert create["item"]["content"] == [{"type": "input_image", "image_url": _PNG_URL, "detail": "low"}]
    finally:
        client.disconnect()


@pytest.mark.parametrize(
    "part, message",
    [
        ({"type": "input_image", "image": b"not an image"}, "not a PNG, JPEG, GIF or WebP"),
        ({"type": "input_image", "image": "/no/such/file.png"}, "cannot read the image"),
        ({"type": "input_image", "image": "data:text/plain;base64,aGk="}, "data URL"),
        ({"type": "input_image", "image": 3}, "bytes, a path or a data URL"),
        ({"type": "input_image"}, "needs"),
        ({"type": "input_image", "image": _PNG, "image_url": _PNG_URL}, "not both"),
    ],
)
def test_bad_images_raise_before_sending(ga_server: ScriptedServer, part: Event, message: str) -> None:
    client = _connect(ga_server)
    try:
        mark = ga_server.mark()
        with pytest.raises(ConfigurationError, match=message):
            client.send_user_message_content([part])
        _sync(ga_server, client)
        assert ga_server.since(mark) == []
    finally:
        client.disconnect()


def test_removing_the_last_tool_empties_the_tools_on_ga(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server)
    try:
        client.add_tool({"name": "lookup", "parameters": {"type": "object"}}, lambda args: 1)
        (_, added) = ga_server.wait_for("session.update", 2)
        assert added["session"]["tools"] == [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
        client.remove_tool("lookup")
        (_, _, removed) = ga_server.wait_for("session.update", 3)
        assert removed["session"] == {"type": "realtime", "tools": []}
    finally:
        client.disconnect()


def test_a_user_transcript_survives_conversation_item_done(ga_server: ScriptedServer) -> None:
    client = _connect(ga_server, turn_detection=None)
    try:
        ga_server.send(ga_event("conversation.item.added", previous_item_id=None, item=ga_user_audio_item("item_u")))
        ga_server.send(ga_event("conversation.item.input_audio_transcription.completed", item_id="item_u",
                                content_index=0, transcript="turn on the lights", usage={"type": "duration", "seconds": 1.0}))
        ga_server.send(ga_event("conversation.item.done", previous_item_id=None,
                                item=ga_user_audio_item("item_u", transcript=None)))
        _sync(ga_server, client)
        item = client.conversation.get_item("item_u")
        assert item is not None and item["formatted"]["transcript"] == "turn on the lights"
        ga_server.send(ga_event("conversation.item.added", previous_item_id="item_u", item=ga_user_audio_item("item_v")))
        ga_server.send(ga_event("conversation.item.done", previous_item_id="item_u",
                                item=ga_user_audio_item("item_v", transcript="lights off")))
        _sync(ga_server, client)
        assert client.conversation.get_item("item_v")["formatted"]["transcript"] == "lights off"
    finally:
        client.disconnect()


def test_answers_to_forgotten_updates_are_not_matched_to_later_ones() -> None:
    from realtime_sync._session.effective import EffectiveSession

    effective = EffectiveSession()
    effective.restart()
    for n in range(40):  # more unanswered updates than are kept
        effective.sending(f"evt_{n}", {"voice": f"v{n}"})
    for _ in range(39):  # the answers come, oldest first
        effective.answered("session.updated", None)
    # the last update (voice v39) is still unanswered: it must still count
    assert effective.value("voice") == (True, "v39")
    effective.answered("session.updated", {"voice": "v39"})
    assert effective.value("voice") == (True, "v39")
