"""The simulator's GA dialect, driven over a raw websocket-client connection.

No realtime_sync client and no realtime_sync.dialects here: every frame sent
is validated against ``openai.types.realtime.RealtimeClientEvent`` and every
event received against ``openai.types.realtime.RealtimeServerEvent``, with
fields the models do not declare refused (the models accept extras silently,
so the tree of validated models is walked for them).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import pytest
import websocket
from support_client import RawConnection, collapse
from support_ga import GaModels as Models

from realtime_sync import audio
from realtime_sync.simulator import RealtimeSimulator, Reply, default_responder

BETA = ["OpenAI-Beta: realtime=v1"]


class Conn(RawConnection):
    """A raw GA connection: validates every frame it sends and every event it receives."""

    def __init__(self, url: str, models: Models, *, header: Optional[List[str]] = None, query: str = "") -> None:
        super().__init__(url + "/v1/realtime" + query, models.server_event, header=header)
        self.models = models
        self.count = 0
        self.session = self.expect("session.created")["session"]
        self.expect("conversation.created")

    def send(self, event_type: str, **fields: Any) -> str:
        self.count += 1
        event = {"type": event_type, "event_id": f"evt_test{self.count}", **fields}
        self.models.client_event(event)
        self.ws.send(json.dumps(event))
        return str(event["event_id"])

    def send_invalid(self, event: Dict[str, Any]) -> str:
        """Send a frame the GA schema refuses (to see the simulator's error)."""
        self.count += 1
        event = {"event_id": f"evt_bad{self.count}", **event}
        assert self.models.refuses_client_event(event), event
        self.ws.send(json.dumps(event))
        return str(event["event_id"])

    def done(self) -> List[Dict[str, Any]]:
        """The events up to ``response.done``; the ``rate_limits.updated`` after it is checked and dropped."""
        events = self.until("response.done")
        self.expect("rate_limits.updated")
        return events

    def update(self, **session: Any) -> Dict[str, Any]:
        self.send("session.update", session={"type": "realtime", **session})
        return self.expect("session.updated")["session"]

    def user_text(self, text: str) -> Dict[str, Any]:
        self.send_user_text(text)
        item = self.expect("conversation.item.added")["item"]
        assert self.expect("conversation.item.done")["item"] == item
        return item


@pytest.fixture
def ga(simulator: RealtimeSimulator, models: Models) -> Iterator[Conn]:
    conn = Conn(simulator.url, models)
    yield conn
    conn.close()


def close_code(ws: websocket.WebSocket) -> int:
    """Read the server's close frame, answer it (so the server need not wait), return its code."""
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    try:
        ws.send_close()
    except OSError:  # the server may already have ended the TCP connection
        pass
    ws.shutdown()
    return int.from_bytes(data[:2], "big")


def append(conn: Conn, samples: np.ndarray, chunk_ms: int = 40) -> None:
    step = 24000 * chunk_ms // 1000
    for start in range(0, len(samples), step):
        conn.send("input_audio_buffer.append", audio=audio.pcm16_to_base64(samples[start : start + step]))


def tone(ms: int) -> np.ndarray:
    t = np.arange(24 * ms) / 24000
    return np.round(0.3 * 32767 * np.sin(2 * np.pi * 220.0 * t)).astype(np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(24 * ms, dtype=np.int16)


TEXT_ORDER = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "rate_limits.updated",
]


# -- session -------------------------------------------------------------------------


def test_ga_is_the_default_with_ga_defaults(ga: Conn) -> None:
    session = ga.session
    assert (session["type"], session["object"], session["model"]) == ("realtime", "realtime.session", "gpt-realtime")
    assert session["output_modalities"] == ["audio"] and session["max_output_tokens"] == "inf"
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert isinstance(session["expires_at"], int) and "temperature" not in session


def test_session_update_takes_ga_settings(ga: Conn) -> None:
    session = ga.update(
        output_modalities=["text"],
        instructions="Be brief.",
        audio={
            "input": {
                "format": {"type": "audio/pcmu"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"voice": "cedar", "speed": 1.2},
        },
        tracing="auto",
        truncation={"type": "retention_ratio", "retention_ratio": 0.8},
        max_output_tokens=512,
    )
    assert session["output_modalities"] == ["text"] and session["instructions"] == "Be brief."
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
    assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar", "speed": 1.2}
    assert (session["tracing"], session["max_output_tokens"]) == ("auto", 512)


@pytest.mark.parametrize(
    "session, code, param",
    [
        ({"type": "realtime", "temperature": 0.7}, "unknown_parameter", "session.temperature"),
        ({"type": "realtime", "voice": "alloy"}, "unknown_parameter", "session.voice"),
        ({"type": "realtime", "instructions": 5}, "invalid_type", "session.instructions"),
        ({"type": "realtime", "audio": {"output": {"voice": "nobody"}}}, "invalid_value", "session.audio.output.voice"),
        (
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}}},
            "decimal_above_max_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}}},
            "unknown_parameter",
            "session.audio.input.turn_detection.threshold",
        ),
        ({"modalities": ["text"]}, "missing_required_parameter", "session.type"),
    ],
)
def test_unknown_and_ill_typed_fields_get_the_live_error_shape(
    ga: Conn, session: Dict[str, Any], code: str, param: str
) -> None:
    if ga.models.refuses_client_event({"type": "session.update", "session": session}):
        event_id = ga.send_invalid({"type": "session.update", "session": session})
    else:  # valid for the schema, refused by the service (e.g. a threshold above 1)
        event_id = ga.send("session.update", session=session)
    error = ga.expect("error")["error"]
    assert (error["type"], error["code"], error["param"], error["event_id"]) == (
        "invalid_request_error",
        code,
        param,
        event_id,
    )
    assert ga.update(instructions="still here")["instructions"] == "still here"


def test_unknown_top_level_field_and_unknown_event(ga: Conn) -> None:
    event_id = ga.send_invalid({"type": "input_audio_buffer.clear", "flush": True})
    error = ga.expect("error")["error"]
    assert (error["code"], error["param"], error["event_id"]) == ("unknown_parameter", "flush", event_id)
    event_id = ga.send_invalid({"type": "response.text.delta"})
    error = ga.expect("error")["error"]
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", event_id)


# -- responses --------------------------------------------------------------------------


def test_text_response_event_order_and_shapes(ga: Conn) -> None:
    ga.update(output_modalities=["text"])
    user = ga.user_text("Hello there")
    assert user["content"] == [{"type": "input_text", "text": "Hello there"}] and user["status"] == "completed"
    ga.send("response.create")
    events = ga.until("rate_limits.updated")
    assert collapse([e["type"] for e in events]) == TEXT_ORDER
    done = events[-2]["response"]
    assert done["status"] == "completed" and done["output_modalities"] == ["text"]
    message = done["output"][0]
    assert message["role"] == "assistant" and message["content"][0]["type"] == "output_text"
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert message["content"][0]["text"] == text == "Hello! How can I help you today?"
    assert events[1]["item"]["status"] == "in_progress" and events[-3]["item"]["status"] == "completed"
    ga.send("conversation.item.retrieve", item_id=message["id"])
    assert ga.expect("conversation.item.retrieved")["item"] == message


def test_audio_response_streams_output_audio_and_transcript(ga: Conn) -> None:
    ga.user_text("Say something")
    ga.send("response.create")
    events = ga.done()
    types = set(e["type"] for e in events)
    assert {"response.output_audio.delta", "response.output_audio_transcript.delta"} <= types
    assert {"response.output_audio.done", "response.output_audio_transcript.done"} <= types
    item = events[-1]["response"]["output"][0]
    assert item["content"][0]["type"] == "output_audio"
    assert events[-1]["response"]["audio"]["output"]["voice"] == "marin"


def test_function_call_round_trip(ga: Conn) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    }
    ga.update(tools=[tool], output_modalities=["text"])
    ga.user_text("What is the weather in Paris?")
    ga.send("response.create")
    events = ga.done()
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["name"] == "get_weather" and json.loads(done["arguments"]) == {"location": "Paris"}
    ga.send(
        "conversation.item.create",
        item={"type": "function_call_output", "call_id": done["call_id"], "output": json.dumps({"sky": "sunny"})},
    )
    assert ga.expect("conversation.item.added")["item"]["type"] == "function_call_output"
    ga.expect("conversation.item.done")
    ga.send("response.create")
    events = ga.done()
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Here is what get_weather returned: sky sunny."


def test_server_vad_turn_with_streamed_transcription(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    conn = Conn(make_simulator(transcriber="hello there friend").url, models)
    conn.update(output_modalities=["text"], audio={"input": {"transcription": {"model": "gpt-4o-transcribe"}}})
    append(conn, np.concatenate([silence(200), tone(600), silence(700)]))
    events = conn.until("conversation.item.input_audio_transcription.completed")
    types = [e["type"] for e in events]
    for expected in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed"):
        assert expected in types
    added = types.index("conversation.item.added")
    assert types[added + 1] == "conversation.item.done"
    deltas = [e["delta"] for e in events if e["type"] == "conversation.item.input_audio_transcription.delta"]
    assert len(deltas) == 3 and "".join(deltas) == events[-1]["transcript"] == "hello there friend"
    item_id = events[added]["item"]["id"]
    assert events[-1]["item_id"] == item_id and events[added]["item"]["content"][0]["type"] == "input_audio"
    conn.done()  # the turn gets its response (create_response defaults to true)
    conn.close()


def test_semantic_vad_setting_drives_turns(ga: Conn) -> None:
    session = ga.update(audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}})
    assert session["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    append(ga, np.concatenate([tone(500), silence(400)]))
    types = [e["type"] for e in ga.until("response.created")]
    assert "input_audio_buffer.speech_stopped" in types and "conversation.item.added" in types


def test_cancel_truncate_and_delete(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    def long_reply(items: Any, session: Any) -> Reply:
        return Reply(text="This is a long answer that keeps going for quite a while. " * 20)

    conn = Conn(make_simulator(responder=long_reply, speed=20.0).url, models)
    conn.update(audio={"input": {"turn_detection": None}})
    conn.user_text("Talk to me")
    conn.send("response.create")
    events = conn.until("response.output_audio.delta")
    item_id = events[-1]["item_id"]
    conn.send("response.cancel")
    events = conn.done()
    response = events[-1]["response"]
    assert response["status"] == "cancelled" and response["status_details"]["reason"] == "client_cancelled"
    event_id = conn.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=50)
    truncated = conn.until("conversation.item.truncated")[-1]
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 50)
    event_id = conn.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=10**6)
    error = conn.expect("error")["error"]
    assert (error["param"], error["event_id"]) == ("audio_end_ms", event_id)
    conn.send("conversation.item.delete", item_id=item_id)
    assert conn.until("conversation.item.deleted")[-1]["item_id"] == item_id
    event_id = conn.send("conversation.item.retrieve", item_id=item_id)
    error = conn.expect("error")["error"]
    assert (error["code"], error["event_id"]) == ("item_not_found", event_id)
    conn.close()


def test_error_names_its_client_event(ga: Conn) -> None:
    event_id = ga.send("conversation.item.delete", item_id="item_missing")
    error = ga.expect("error")["error"]
    assert (error["type"], error["code"], error["param"], error["event_id"]) == (
        "invalid_request_error",
        "item_not_found",
        "item_id",
        event_id,
    )
    event_id = ga.send_invalid({"type": "response.create", "response": {"modalities": ["text"]}})
    error = ga.expect("error")["error"]
    assert (error["code"], error["param"], error["event_id"]) == ("unknown_parameter", "response.modalities", event_id)


def test_input_image_is_accepted(ga: Conn) -> None:
    image = "data:image/png;base64," + "iVBORw0KGgo="
    ga.update(output_modalities=["text"])
    ga.send(
        "conversation.item.create",
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image_url": image}],
        },
    )
    item = ga.expect("conversation.item.added")["item"]
    assert item["content"][1] == {"type": "input_image", "image_url": image}
    ga.expect("conversation.item.done")
    ga.send("response.create")
    text = ga.done()[-1]["response"]["output"][0]["content"][0]["text"]
    assert "image (image/png)" in text
    event_id = ga.send(
        "conversation.item.create",
        item={"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "file:///etc/passwd"}]},
    )
    error = ga.expect("error")["error"]
    assert (error["param"], error["event_id"]) == ("item.content[0].image_url", event_id)


def test_out_of_band_response_stays_out_of_the_conversation(ga: Conn) -> None:
    ga.update(output_modalities=["text"])
    ga.user_text("Hello")
    ga.send(
        "response.create",
        response={
            "conversation": "none",
            "metadata": {"topic": "summary"},
            "instructions": "Summarise.",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Summarise this"}]}],
        },
    )
    events = ga.done()
    assert "conversation.item.added" not in [e["type"] for e in events]
    response = events[-1]["response"]
    assert response["conversation_id"] is None and response["metadata"] == {"topic": "summary"}
    item_id = response["output"][0]["id"]
    assert response["output"][0]["content"][0]["text"].startswith("You said")
    ga.send("conversation.item.retrieve", item_id=item_id)
    assert ga.expect("error")["error"]["code"] == "item_not_found"


# -- MCP ------------------------------------------------------------------------------------


def _mcp_responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Any:
    last = items[-1] if items else {}
    if last.get("type") == "message" and last.get("role") == "user":
        return Reply(mcp_tool="search", mcp_arguments={"query": "realtime"})
    return default_responder(items, session)


def _mcp_session(conn: Conn, require_approval: str) -> Dict[str, Any]:
    mcp = {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com", "require_approval": require_approval}
    conn.update(output_modalities=["text"], tools=[mcp])
    events = conn.until("conversation.item.done")
    assert [e["type"] for e in events] == [
        "conversation.item.added",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "conversation.item.done",
    ]
    listed = events[-1]["item"]
    assert listed["type"] == "mcp_list_tools" and [t["name"] for t in listed["tools"]] == ["search"]
    return listed


@pytest.fixture
def mcp_simulator(make_simulator: Callable[..., RealtimeSimulator]) -> RealtimeSimulator:
    def search(arguments: Dict[str, Any]) -> Dict[str, Any]:
        return {"pages": 3, "query": arguments["query"]}

    return make_simulator(responder=_mcp_responder, mcp_servers={"docs": {"search": search}})


def test_mcp_approval_round_trip(mcp_simulator: RealtimeSimulator, models: Models) -> None:
    conn = Conn(mcp_simulator.url, models)
    _mcp_session(conn, "always")
    conn.user_text("Search the docs")
    conn.send("response.create")
    events = conn.done()
    request = events[-1]["response"]["output"][0]
    assert request["type"] == "mcp_approval_request" and json.loads(request["arguments"]) == {"query": "realtime"}
    conn.send(
        "conversation.item.create",
        item={"type": "mcp_approval_response", "id": "mcpa_1", "approval_request_id": request["id"], "approve": True},
    )
    assert conn.expect("conversation.item.added")["item"]["approve"] is True
    conn.expect("conversation.item.done")
    conn.send("response.create")
    events = conn.done()
    types = collapse([e["type"] for e in events])
    assert types[:8] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    call, message = events[-1]["response"]["output"]
    assert call["type"] == "mcp_call" and call["approval_request_id"] == request["id"]
    assert json.loads(call["output"]) == {"pages": 3, "query": "realtime"}
    assert message["content"][0]["text"] == "Here is what search returned: pages 3, query realtime."
    event_id = conn.send(
        "conversation.item.create",
        item={"type": "mcp_approval_response", "id": "mcpa_2", "approval_request_id": "mcpr_nope", "approve": True},
    )
    error = conn.expect("error")["error"]
    assert (error["param"], error["event_id"]) == ("item.approval_request_id", event_id)
    conn.close()


def test_mcp_call_without_approval(mcp_simulator: RealtimeSimulator, models: Models) -> None:
    conn = Conn(mcp_simulator.url, models)
    _mcp_session(conn, "never")
    conn.user_text("Search the docs")
    conn.send("response.create")
    output = conn.done()[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["mcp_call"] and output[0]["approval_request_id"] is None
    conn.close()


# -- dialects ---------------------------------------------------------------------------------


def test_beta_when_the_client_sends_the_beta_header(simulator: RealtimeSimulator) -> None:
    pydantic = pytest.importorskip("pydantic")
    beta = pytest.importorskip("openai.types.beta.realtime")
    ws = websocket.create_connection(simulator.url, header=BETA, timeout=10)
    created = json.loads(ws.recv())
    pydantic.TypeAdapter(beta.RealtimeServerEvent).validate_python(created)
    assert created["session"]["model"] == "gpt-4o-realtime-preview-2024-10-01"
    assert created["session"]["voice"] == "alloy" and "audio" not in created["session"]
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
    types = [json.loads(ws.recv())["type"] for _ in range(2)]
    assert types == ["conversation.created", "conversation.item.created"]  # no GA-only conversation.item.done
    ws.close()


def test_refusing_beta_like_the_live_service(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    sim = make_simulator(refuse_beta=True)
    ws = websocket.create_connection(sim.url, header=BETA, timeout=10)
    event = json.loads(ws.recv())
    models.server_event(event)
    assert event["error"]["code"] == "beta_api_shape_disabled"
    assert event["error"]["message"] == (
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
    )
    assert close_code(ws) == 4000
    ws.close()
    conn = Conn(sim.url, models)  # GA is still served
    assert conn.session["type"] == "realtime"
    conn.close()


def test_protocol_beta_serves_beta_only(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    sim = make_simulator(protocol="beta", require_beta_header=False)
    ws = websocket.create_connection(sim.url, timeout=10)
    assert "modalities" in json.loads(ws.recv())["session"]
    ws.close()


# -- faults for reconnection tests ----------------------------------------------------------------


def test_session_expiry_in_ga(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    conn = Conn(make_simulator(max_session_seconds=0.3).url, models)
    error = conn.expect("error")["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "session_expired")
    assert close_code(conn.ws) == 1000
    conn.close()


def test_refuse_the_first_connections(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    sim = make_simulator(refuse_connections=2)
    for _ in range(2):
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(sim.url, timeout=5)
        assert info.value.status_code == 503
    conn = Conn(sim.url, models)
    assert sim.handshakes_refused == 2 and conn.session["type"] == "realtime"
    conn.close()


def test_drop_after_n_events_in_ga(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    conn = Conn(make_simulator(drop_after=3).url, models)
    conn.send("session.update", session={"type": "realtime"})
    conn.expect("session.updated")
    conn.send("input_audio_buffer.clear")
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        conn.ws.recv()
    conn.close()


def test_runtime_faults_drop_expire_and_malformed(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    sim = make_simulator()
    conn = Conn(sim.url, models)
    assert sim.send_malformed_frame() == 1
    with pytest.raises(ValueError):
        json.loads(conn.ws.recv())
    assert conn.update(instructions="still here")["instructions"] == "still here"
    assert sim.expire_sessions() == 1
    error = conn.expect("error")["error"]
    assert (error["code"], error["message"]) == ("session_expired", "Your session hit the maximum duration of 30 minutes.")
    assert close_code(conn.ws) == 1000
    conn.close()
    conn = Conn(sim.url, models)
    assert sim.drop_connections() == 1
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        conn.ws.recv()  # no close frame: the connection just ends
    conn.close()
    assert sim.drop_connections() == 0


def test_refuse_the_first_reconnection(make_simulator: Callable[..., RealtimeSimulator], models: Models) -> None:
    sim = make_simulator(refuse_reconnections=1)
    conn = Conn(sim.url, models)  # the first connection is served
    assert sim.drop_connections() == 1
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(sim.url, timeout=5)  # the first retry is refused
    assert info.value.status_code == 503 and b"temporarily unavailable" in info.value.resp_body
    conn.close()
    conn = Conn(sim.url, models)  # the next one is served
    sim.refuse_next_connections(1)
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(sim.url, timeout=5)
    assert sim.handshakes_refused == 2
    conn.close()


def test_g711_formats_in_ga(ga: Conn) -> None:
    session = ga.update(audio={"input": {"format": {"type": "audio/pcma"}}, "output": {"format": {"type": "audio/pcmu"}}})
    assert (session["audio"]["input"]["format"], session["audio"]["output"]["format"]) == (
        {"type": "audio/pcma"},
        {"type": "audio/pcmu"},
    )
    ga.send("input_audio_buffer.append", audio=audio.encode_audio(np.zeros(800, dtype=np.int16), "g711_alaw"))
    ga.send("input_audio_buffer.commit")
    assert ga.until("conversation.item.done")[-1]["item"]["content"][0]["type"] == "input_audio"
    ga.user_text("Hi")
    ga.send("response.create")
    events = ga.done()
    chunks = [audio.decode_audio(e["delta"], "g711_ulaw") for e in events if e["type"] == "response.output_audio.delta"]
    assert chunks and sum(len(c) for c in chunks) > 8000 * 0.5  # 8 kHz speech, half a second or more
    assert events[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
