"""A GA session driven end to end: RealtimeClient against the simulator speaking GA.

Every frame on the wire, in both directions, is captured with
``client.realtime.on("server.*")`` / ``on("client.*")`` (those see the wire
events, before and after translation) and validated against
``openai.types.realtime`` (``RealtimeServerEvent`` / ``RealtimeClientEvent``)
with fields the models do not declare refused. The expected shapes come from
those models, never from ``realtime_sync.dialects``.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any, Callable, Dict, Iterator, List, Tuple

import numpy as np
import pytest
from support_client import EventRecorder

from realtime_sync import RealtimeClient
from realtime_sync.errors import ConfigurationError

pytest.importorskip("openai")
pytest.importorskip("pydantic")
pytest.importorskip("websockets")

from support_ga import check_ga_client_event, check_ga_server_event  # noqa: E402 - after the skips

from realtime_sync.simulator import RealtimeSimulator, Reply, default_responder  # noqa: E402

Event = Dict[str, Any]
WAIT = 10.0
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class Wire:
    """Every wire frame of one client, in order; :meth:`check` validates them all as GA."""

    def __init__(self, client: RealtimeClient) -> None:
        self.frames: List[Tuple[str, Event]] = []
        self._lock = threading.Lock()
        client.realtime.on("server.*", lambda event: self._add("server", event))
        client.realtime.on("client.*", lambda event: self._add("client", event))

    def _add(self, source: str, event: Event) -> None:
        with self._lock:
            self.frames.append((source, json.loads(json.dumps(event))))  # as written / as parsed

    def types(self, source: str) -> List[str]:
        with self._lock:
            return [event["type"] for s, event in self.frames if s == source]

    def of(self, source: str, event_type: str) -> List[Event]:
        with self._lock:
            return [event for s, event in self.frames if s == source and event["type"] == event_type]

    def check(self) -> None:
        with self._lock:
            frames = list(self.frames)
        assert frames, "no frames captured"
        for source, event in frames:
            (check_ga_server_event if source == "server" else check_ga_client_event)(event)


class Session:
    """A connected GA client, its wire record and its client-level events."""

    def __init__(self, simulator: RealtimeSimulator, **settings: Any) -> None:
        self.client = RealtimeClient(url=simulator.url, protocol="ga", tool_timeout=5.0)
        self.wire = Wire(self.client)
        self.events = EventRecorder()
        for name in ("error", "conversation.updated", "conversation.item.appended", "conversation.item.completed"):
            self.client.on(name, self.events.callback(name))
        if settings:
            self.client.update_session(**settings)
        self.client.connect(timeout=WAIT)
        assert self.client.wait_for_session_created(timeout=WAIT)
        self.sync()

    def sync(self) -> Event:
        """Send a session.update and wait for its answer: everything before it has been handled."""
        done = threading.Event()
        answer: Dict[str, Event] = {}

        def updated(event: Event) -> None:
            answer["event"] = event
            done.set()

        self.client.realtime.on_next("server.session.updated", updated)
        self.client.update_session()
        assert done.wait(WAIT), "no session.updated"
        return answer["event"]

    def wait_response_done(self, count: int = 1) -> Event:
        """Wait until ``count`` response.done frames have arrived in all; return the last."""
        done = threading.Condition()

        def arrived(event: Event) -> None:
            with done:
                done.notify_all()

        self.client.realtime.on("server.*", arrived)  # after the Wire listener, registered first
        try:
            with done:
                assert done.wait_for(lambda: len(self.wire.of("server", "response.done")) >= count, WAIT), (
                    f"expected {count} response.done"
                )
        finally:
            self.client.realtime.off("server.*", arrived)
        return self.wire.of("server", "response.done")[-1]

    def errors(self) -> List[Event]:
        return self.events.of("error")

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def session_for(make_simulator: Callable[..., RealtimeSimulator]) -> Iterator[Callable[..., Session]]:
    made: List[Session] = []

    def factory(simulator_options: Any = None, **settings: Any) -> Session:
        session = Session(make_simulator(**(simulator_options or {})), **settings)
        made.append(session)
        return session

    yield factory
    for session in made:
        session.close()
    for session in made:
        session.wire.check()


def _tone(ms: int) -> np.ndarray:
    t = np.arange(24 * ms) / 24000
    return np.round(0.3 * 32767 * np.sin(2 * np.pi * 220.0 * t)).astype(np.int16)


def _silence(ms: int) -> np.ndarray:
    return np.zeros(24 * ms, dtype=np.int16)


def _append(client: RealtimeClient, samples: np.ndarray, chunk_ms: int = 40) -> None:
    step = 24 * chunk_ms
    for start in range(0, len(samples), step):
        client.append_input_audio(samples[start : start + step])


# -- the tests ------------------------------------------------------------------------------------


def test_connect_keeps_the_ga_defaults(session_for: Callable[..., Session]) -> None:
    session = session_for()
    (connect_update, _) = session.wire.of("client", "session.update")
    assert connect_update["session"] == {"type": "realtime"}
    created = session.wire.of("server", "session.created")[0]["session"]
    assert created["model"] == "gpt-realtime" and created["audio"]["output"]["voice"] == "marin"
    assert session.client.get_turn_detection_type() == "server_vad"
    assert session.errors() == []


def test_text_reply(session_for: Callable[..., Session]) -> None:
    session = session_for(output_modalities=["text"], instructions="Be brief.")
    reply = session.client.ask("Hello there", timeout=WAIT)
    assert reply is not None and reply["formatted"]["text"].startswith("Hello")
    assert reply["content"][0]["type"] == "text"  # the beta model, whatever the wire
    assert "response.output_text.delta" in session.wire.types("server")
    assert session.errors() == []


def test_audio_reply_with_ga_voice(session_for: Callable[..., Session]) -> None:
    session = session_for(audio={"output": {"voice": "cedar"}})
    updated = session.wire.of("server", "session.updated")[-1]["session"]
    assert updated["audio"]["output"]["voice"] == "cedar"
    assert updated["output_modalities"] == ["audio"]  # the server's default kept
    reply = session.client.ask("Hello there", timeout=WAIT)
    assert reply is not None and reply["formatted"]["transcript"].startswith("Hello")
    assert len(reply["formatted"]["audio"]) > 0
    assert "response.output_audio.delta" in session.wire.types("server")
    assert session.errors() == []


def test_issue_example_settings_on_the_wire(session_for: Callable[..., Session]) -> None:
    session = session_for(
        type="realtime",
        output_modalities=["text"],
        audio={"output": {"voice": "cedar"}, "input": {"turn_detection": {"type": "semantic_vad"}}},
    )
    updated = session.wire.of("server", "session.updated")[0]["session"]
    assert updated["output_modalities"] == ["text"]
    assert updated["audio"]["output"]["voice"] == "cedar"
    assert updated["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert session.client.get_turn_detection_type() == "semantic_vad"


def test_tool_round_trip(session_for: Callable[..., Session]) -> None:
    session = session_for(output_modalities=["text"])
    calls: List[Event] = []

    def get_weather(arguments: Event) -> Event:
        calls.append(arguments)
        return {"sky": "sunny"}

    session.client.add_tool(
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
        },
        get_weather,
    )
    reply = session.client.ask("What is the weather in Paris?", timeout=WAIT)
    assert calls == [{"location": "Paris"}]
    assert reply is not None and "get_weather returned" in reply["formatted"]["text"]
    outputs = [e for e in session.wire.of("client", "conversation.item.create") if e["item"]["type"] == "function_call_output"]
    assert json.loads(outputs[0]["item"]["output"]) == {"sky": "sunny"}
    assert session.errors() == []


def test_server_vad_with_streamed_input_transcription(session_for: Callable[..., Session]) -> None:
    session = session_for(
        {"transcriber": "hello there friend"},
        output_modalities=["text"],
        audio={"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
    )
    assert session.client.get_turn_detection_type() == "server_vad"
    samples = np.concatenate([_silence(200), _tone(600), _silence(700)])
    _append(session.client, samples)
    session.wait_response_done()
    user = next(i for i in session.client.conversation.get_items() if i.get("role") == "user")
    assert user["formatted"]["transcript"] == "hello there friend"
    assert len(user["formatted"]["audio"]) > 0  # the speech, cut out of what was sent
    assert "conversation.item.input_audio_transcription.delta" in session.wire.types("server")
    assert session.errors() == []


def test_streamed_input_transcription_grows_the_user_item(session_for: Callable[..., Session]) -> None:
    session = session_for(
        {"transcriber": "hello there friend"},
        output_modalities=["text"],
        audio={"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
    )
    _append(session.client, np.concatenate([_silence(200), _tone(600), _silence(700)]))
    session.wait_response_done()
    user = next(i for i in session.client.conversation.get_items() if i.get("role") == "user")
    growing = [
        p["delta"]["transcript"]
        for p in session.events.of("conversation.updated")
        if p["item"] is user and p["delta"] and "transcript" in p["delta"]
    ]
    assert len(growing) >= 3  # the words arrived while they were transcribed


def test_semantic_vad_setting_drives_turns(session_for: Callable[..., Session]) -> None:
    session = session_for(
        output_modalities=["text"],
        audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}},
    )
    assert session.client.get_turn_detection_type() == "semantic_vad"
    _append(session.client, np.concatenate([_tone(500), _silence(400)]))
    session.wait_response_done()
    types = session.wire.types("server")
    assert "input_audio_buffer.speech_stopped" in types
    user = next(i for i in session.client.conversation.get_items() if i.get("role") == "user")
    assert len(user["formatted"]["audio"]) > 0
    assert "input_audio_buffer.commit" not in session.wire.types("client")
    assert session.errors() == []


def test_manual_turn_audio_then_text(session_for: Callable[..., Session]) -> None:
    session = session_for(output_modalities=["text"], audio={"input": {"turn_detection": None}})
    assert session.client.get_turn_detection_type() is None
    samples = _tone(300)
    session.client.append_input_audio(samples)
    reply = session.client.ask("What did I say?", timeout=WAIT)
    assert reply is not None
    users = [i for i in session.client.conversation.get_items() if i.get("role") == "user"]
    assert [part["type"] for user in users for part in user["content"]] == ["input_audio", "input_text"]
    assert np.array_equal(users[0]["formatted"]["audio"], samples)
    assert len(users[1]["formatted"]["audio"]) == 0
    assert session.errors() == []


def test_cancel_truncate_and_delete(session_for: Callable[..., Session]) -> None:
    def long_reply(items: Any, config: Any) -> Reply:
        return Reply(text="This is a long answer that keeps going for quite a while. " * 20)

    session = session_for({"responder": long_reply, "speed": 20.0}, audio={"input": {"turn_detection": None}})
    first_audio = threading.Event()
    session.client.realtime.on("server.response.output_audio.delta", lambda event: first_audio.set())
    session.client.send_text("Talk to me")
    assert first_audio.wait(WAIT)
    item_id = session.wire.of("server", "response.output_audio.delta")[0]["item_id"]
    truncated = threading.Event()
    session.client.realtime.on("server.conversation.item.truncated", lambda event: truncated.set())
    item = session.client.cancel_response(item_id, sample_count=2400)
    assert item is not None and item["id"] == item_id
    done = session.wait_response_done()
    assert done["response"]["status"] == "cancelled"
    assert truncated.wait(WAIT)
    (truncate,) = session.wire.of("client", "conversation.item.truncate")
    assert truncate["audio_end_ms"] == 100 and truncate["content_index"] == 0
    assert len(item["formatted"]["audio"]) == 2400
    deleted = threading.Event()
    session.client.realtime.on("server.conversation.item.deleted", lambda event: deleted.set())
    session.client.delete_item(item_id)
    assert deleted.wait(WAIT)
    assert session.client.conversation.get_item(item_id) is None
    assert session.errors() == []


def test_an_error_names_its_client_event(session_for: Callable[..., Session]) -> None:
    session = session_for()
    session.client.delete_item("item_missing")
    (payload,) = session.events.wait("error")
    sent = session.wire.of("client", "conversation.item.delete")[0]
    assert payload["client_event"]["event_id"] == sent["event_id"]
    assert payload["client_event"]["type"] == "conversation.item.delete"
    assert payload["error"].code == "item_not_found"
    assert payload["event"]["error"]["event_id"] == sent["event_id"]


def test_an_image(session_for: Callable[..., Session], tmp_path: Any) -> None:
    session = session_for(output_modalities=["text"])
    path = tmp_path / "dot.png"
    path.write_bytes(_PNG)
    for count, image in enumerate((_PNG, path, "data:image/png;base64," + base64.b64encode(_PNG).decode("ascii")), 1):
        session.client.send_user_message_content(
            [{"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image": image}]
        )
        done = session.wait_response_done(count)  # counted before the send could be answered
        assert "an image (image/png)" in done["response"]["output"][0]["content"][0]["text"]
    sent = session.wire.of("client", "conversation.item.create")
    assert all(e["item"]["content"][1]["image_url"].startswith("data:image/png;base64,iVBOR") for e in sent)
    assert session.errors() == []


def test_an_out_of_band_response(session_for: Callable[..., Session]) -> None:
    session = session_for(output_modalities=["text"])
    session.client.ask("Hello", timeout=WAIT)
    before = [item["id"] for item in session.client.conversation.get_items()]
    session.client.create_response(
        {
            "conversation": "none",
            "metadata": {"topic": "summary"},
            "instructions": "Summarise.",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Summarise this"}]}],
        }
    )
    done = session.wait_response_done(2)
    response = done["response"]
    assert response["conversation_id"] is None and response["metadata"] == {"topic": "summary"}
    assert [item["id"] for item in session.client.conversation.get_items()] == before
    record = session.client.conversation.get_response(response["id"])
    assert record is not None
    (output,) = record["output_items"]
    assert output["formatted"]["text"].startswith("You said")
    assert session.errors() == []


def _mcp_responder(items: List[Event], config: Event) -> Any:
    last = items[-1] if items else {}
    if last.get("type") == "message" and last.get("role") == "user":
        return Reply(mcp_tool="search", mcp_arguments={"query": "realtime"})
    return default_responder(items, config)


def test_an_mcp_approval(session_for: Callable[..., Session]) -> None:
    def search(arguments: Event) -> Event:
        return {"pages": 3, "query": arguments["query"]}

    mcp = {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com", "require_approval": "always"}
    session = session_for(
        {"responder": _mcp_responder, "mcp_servers": {"docs": {"search": search}}},
        output_modalities=["text"],
        tools=[mcp],
    )
    session.client.send_text("Search the docs")
    done = session.wait_response_done()
    request = done["response"]["output"][0]
    assert request["type"] == "mcp_approval_request"
    stored = session.client.conversation.get_item(request["id"])
    assert stored is not None and stored["formatted"]["tool"]["name"] == "search"
    session.client.answer_mcp_approval(request["id"], True, reason="docs are public")
    session.client.create_response()
    done = session.wait_response_done(2)
    call, message = done["response"]["output"]
    assert call["type"] == "mcp_call" and json.loads(call["output"]) == {"pages": 3, "query": "realtime"}
    assert session.client.conversation.get_item(message["id"])["formatted"]["text"].startswith("Here is what search")
    sent = [e["item"] for e in session.wire.of("client", "conversation.item.create")]
    (answer,) = [item for item in sent if item["type"] == "mcp_approval_response"]
    assert answer["approval_request_id"] == request["id"]
    assert answer["approve"] is True and answer["reason"] == "docs are public" and answer["id"].startswith("mcpr_")
    assert session.errors() == []


def test_an_mcp_approval_answer_is_checked_before_sending(session_for: Callable[..., Session]) -> None:
    session = session_for(output_modalities=["text"])
    for bad in (("", True), ("mcpr_1", "yes"), (None, False)):
        with pytest.raises(ConfigurationError):
            session.client.answer_mcp_approval(*bad)  # type: ignore[arg-type]
    assert session.wire.of("client", "conversation.item.create") == []


def test_the_demo_talks_ga_to_the_simulator() -> None:
    from support_docs import clean_env, run_python

    result = run_python(["-m", "realtime_sync", "demo", "--speed", "0", "--debug"], timeout=90, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo finished" in result.stdout
    log = result.stderr
    assert "received response.output_text.delta" in log and "received conversation.item.added" in log
    assert "received response.text.delta" not in log and "OpenAI-Beta" not in log
