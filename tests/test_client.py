"""RealtimeClient end to end against RealtimeSimulator (a real WebSocket server on 127.0.0.1).

The simulator comes from conftest.py's fixtures, which skip a test when the
``websockets`` package is missing.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List

import numpy as np
import pytest
from support_client import EventRecorder, signal_when_waiting

from realtime_sync import RealtimeClient
from realtime_sync.client import DEFAULT_SERVER_VAD_CONFIG
from realtime_sync.errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    ProtocolError,
    RealtimeTimeoutError,
    ServerError,
    ToolError,
)

if TYPE_CHECKING:  # the simulator needs the websockets package: imported per test
    from realtime_sync.simulator import RealtimeSimulator, Reply

Simulator = Callable[..., "RealtimeSimulator"]


def _reply(**fields: Any) -> "Reply":
    from realtime_sync.simulator import Reply

    return Reply(**fields)


def tone(ms: int, rate: int = 24000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(rate * ms // 1000) / rate
    return np.round(np.sin(2 * np.pi * 220 * t) * amplitude * 32767).astype(np.int16)


def silence(ms: int, rate: int = 24000) -> np.ndarray:
    return np.zeros(rate * ms // 1000, dtype=np.int16)


@pytest.fixture
def client(simulator: RealtimeSimulator) -> Iterator[RealtimeClient]:
    with RealtimeClient(url=simulator.url, tool_timeout=5.0) as rt:
        assert rt.wait_for_session_created(timeout=5)
        yield rt


def _record(client: RealtimeClient, *names: str) -> EventRecorder:
    return EventRecorder().record_on(client, *names)


def _tool_script(tool: str, arguments: Any) -> Callable[[List[Dict[str, Any]], Dict[str, Any]], Reply]:
    """A responder that calls ``tool`` once, then reports the output it got."""

    def respond(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Reply:
        last = items[-1]
        if last.get("type") == "function_call_output":
            return _reply(text=f"The tool said {last['output']}")
        return _reply(tool_name=tool, tool_arguments=arguments)

    return respond


# -- turns ------------------------------------------------------------------------------


def test_text_turn(client: RealtimeClient) -> None:
    client.update_session(modalities=["text"])
    recorder = _record(client, "conversation.updated")
    reply = client.ask("Hello there", timeout=10)
    assert reply is not None
    assert reply["role"] == "assistant" and reply["status"] == "completed"
    assert reply["formatted"]["text"] == "Hello! How can I help you today?"
    assert len(reply["formatted"]["audio"]) == 0
    text_deltas = "".join(
        p["delta"]["text"] for p in recorder.of("conversation.updated") if p["delta"] and "text" in p["delta"]
    )
    assert text_deltas == reply["formatted"]["text"]
    user, assistant = client.conversation.get_items()
    assert user["formatted"]["text"] == "Hello there" and assistant is reply


def test_audio_turn(client: RealtimeClient) -> None:
    recorder = _record(client, "conversation.updated")
    reply = client.ask("Hello there", timeout=10)
    assert reply is not None
    formatted = reply["formatted"]
    assert formatted["transcript"] == "Hello! How can I help you today?"
    assert formatted["audio"].dtype == np.int16 and len(formatted["audio"]) > 24000
    chunks = [p["delta"]["audio"] for p in recorder.of("conversation.updated") if p["delta"] and "audio" in p["delta"]]
    assert np.array_equal(np.concatenate(chunks), formatted["audio"])


def test_send_text_and_wait_for_completed_items(client: RealtimeClient) -> None:
    completed: List[Dict[str, Any]] = []
    done = threading.Event()

    def on_completed(payload: Dict[str, Any]) -> None:
        completed.append(payload["item"])
        if payload["item"].get("role") == "assistant":
            done.set()

    client.on("conversation.item.completed", on_completed)
    client.send_text("What is the time?")
    assert done.wait(10)
    assert [(i["role"], i["status"]) for i in completed] == [("user", "completed"), ("assistant", "completed")]


def test_manual_audio_turn(client: RealtimeClient) -> None:
    # GA servers run server VAD unless told otherwise: manual turns say so.
    client.update_session(modalities=["text"], input_audio_transcription={"model": "whisper-1"}, turn_detection=None)
    speech = tone(600)
    for start in range(0, len(speech), 2400):
        client.append_input_audio(speech[start : start + 2400])
    recorder = _record(client, "conversation.item.completed")
    client.create_response()
    items = [p["item"] for p in recorder.wait("conversation.item.completed", 2, timeout=10)]
    user, assistant = items
    assert user["role"] == "user"
    assert np.array_equal(user["formatted"]["audio"], speech)
    assert assistant["role"] == "assistant" and assistant["formatted"]["text"]


def test_server_vad_turn(make_simulator: Simulator) -> None:
    simulator = make_simulator()
    with RealtimeClient(url=simulator.url, input_audio_window=5.0) as client:
        client.update_session(
            modalities=["text"],
            turn_detection=dict(DEFAULT_SERVER_VAD_CONFIG, silence_duration_ms=500),
        )
        recorder = _record(client, "conversation.interrupted", "conversation.item.completed")
        audio = np.concatenate([silence(1000), tone(800), silence(700)])
        for start in range(0, len(audio), 960):  # 40 ms chunks, as a microphone sends them
            client.append_input_audio(audio[start : start + 960])
        items = [p["item"] for p in recorder.wait("conversation.item.completed", 2, timeout=10)]
        user, assistant = items
        assert recorder.of("conversation.interrupted") == [{}]
        # 300 ms prefix padding + 800 ms speech + 500 ms of silence, cut from the client's window.
        expected = audio[24000 * 700 // 1000 : 24000 * 2300 // 1000]
        assert np.array_equal(user["formatted"]["audio"], expected)
        assert assistant["role"] == "assistant" and assistant["formatted"]["text"]


# -- tools --------------------------------------------------------------------------------


def test_tool_call_runs_automatically_and_the_reply_follows(make_simulator: Simulator) -> None:
    simulator = make_simulator(responder=_tool_script("add", {"a": 2, "b": 3}))
    calls: List[Dict[str, Any]] = []
    with RealtimeClient(url=simulator.url) as client:
        client.update_session(modalities=["text"])
        client.add_tool(
            {"name": "add", "description": "Add numbers", "parameters": {"type": "object"}},
            lambda args: calls.append(args) or {"sum": args["a"] + args["b"]},
        )
        reply = client.ask("add 2 and 3", timeout=10)
        assert reply is not None
        assert reply["formatted"]["text"] == 'The tool said {"sum": 5}'
        assert calls == [{"a": 2, "b": 3}]
        kinds = [i["type"] for i in client.conversation.get_items()]
        assert kinds == ["message", "function_call", "function_call_output", "message"]
        statuses = [r.get("status") for r in client.conversation.responses]
        assert statuses == ["completed", "completed"]


def test_raising_tool_sends_an_error_output(make_simulator: Simulator) -> None:
    simulator = make_simulator(responder=_tool_script("explode", {}))
    with RealtimeClient(url=simulator.url) as client:
        client.update_session(modalities=["text"])

        def explode(args: Dict[str, Any]) -> None:
            raise ValueError("the tool broke")

        client.add_tool({"name": "explode"}, explode)
        reply = client.ask("go", timeout=10)
        assert reply is not None and "the tool broke" in reply["formatted"]["text"]
        output = next(i for i in client.conversation.get_items() if i["type"] == "function_call_output")
        assert json.loads(output["output"]) == {"error": "the tool broke"}


def test_a_tool_error_is_sent_in_its_own_words_without_a_traceback(
    make_simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    simulator = make_simulator(responder=_tool_script("weather", {"city": "Atlantis"}))
    with RealtimeClient(url=simulator.url) as client:
        client.update_session(modalities=["text"])

        def weather(args: Dict[str, Any]) -> None:
            raise ToolError(f"no such city: {args['city']}")

        client.add_tool({"name": "weather"}, weather)
        with caplog.at_level(logging.INFO, logger="realtime_sync"):
            client.ask("weather?", timeout=10)
        output = next(i for i in client.conversation.get_items() if i["type"] == "function_call_output")
        assert json.loads(output["output"]) == {"error": "no such city: Atlantis"}
        failures = [r for r in caplog.records if "weather" in r.getMessage() and "failed" in r.getMessage()]
        assert failures and all(r.levelno == logging.INFO and r.exc_info is None for r in failures)


def test_unknown_tool_is_left_to_the_user(make_simulator: Simulator) -> None:
    simulator = make_simulator(responder=_tool_script("mystery", {"x": 1}))
    with RealtimeClient(url=simulator.url) as client:
        client.update_session(modalities=["text"], tools=[{"name": "mystery", "description": "user-handled"}])
        reply = client.ask("call it", timeout=10)
        assert reply is not None and reply["type"] == "function_call" and reply["name"] == "mystery"
        assert reply["status"] == "completed"
        # Nothing answered it and no second response was requested.
        assert [i["type"] for i in client.conversation.get_items()] == ["message", "function_call"]
        assert len(client.conversation.responses) == 1
        # The user answers it themselves.
        recorder = _record(client, "conversation.item.completed")
        client.realtime.send(
            "conversation.item.create",
            {"item": {"type": "function_call_output", "call_id": reply["call_id"], "output": '"42"'}},
        )
        client.create_response()
        items = [p["item"] for p in recorder.wait("conversation.item.completed", 2, timeout=10)]
        assert items[0]["type"] == "function_call_output"
        assert items[1]["formatted"]["text"] == 'The tool said "42"'


# -- interruption, deletion ------------------------------------------------------------------


def test_interrupt_cancels_and_truncates_to_what_was_heard(make_simulator: Simulator) -> None:
    long_text = "This reply is long enough to be interrupted while it is still being spoken aloud. " * 3
    simulator = make_simulator(speed=4.0, responder=lambda items, session: _reply(text=long_text))
    with RealtimeClient(url=simulator.url) as client:
        first_audio = threading.Event()
        item_ids: List[str] = []

        def on_updated(payload: Dict[str, Any]) -> None:
            delta = payload["delta"]
            if delta and "audio" in delta and not first_audio.is_set():
                item_ids.append(payload["item"]["id"])
                first_audio.set()

        client.on("conversation.updated", on_updated)
        events = EventRecorder()
        heard_at_truncation: List[int] = []

        def after_client(event: Dict[str, Any]) -> None:
            # A server.* callback added after the client's own runs once the client folded the event in.
            if event["type"] == "conversation.item.truncated":
                heard_at_truncation.append(len(client.conversation.get_item(event["item_id"])["formatted"]["audio"]))
                events.callback("truncated")(event)
            elif event["type"] == "response.done":
                events.callback("done")(event)

        client.realtime.on("server.*", after_client)
        client.send_text("talk to me")
        assert first_audio.wait(10)
        item = client.cancel_response(item_ids[0], 2400)  # the listener heard 100 ms
        assert item is not None
        (done,) = events.wait("done", timeout=10)
        assert done["response"]["status"] == "cancelled"
        (truncated,) = events.wait("truncated", timeout=10)
        assert truncated["audio_end_ms"] == 100
        assert heard_at_truncation == [2400]
        assert item["formatted"]["transcript"] == ""
        assert client.active_response_id() is None


def test_delete_item(client: RealtimeClient) -> None:
    client.update_session(modalities=["text"])
    reply = client.ask("Hello", timeout=10)
    assert reply is not None
    user = client.conversation.get_items()[0]
    deleted = threading.Event()
    client.on("conversation.updated", lambda p: deleted.set() if p["item"]["id"] == user["id"] else None)
    client.delete_item(user["id"])
    assert deleted.wait(10)
    assert client.conversation.get_item(user["id"]) is None
    assert client.conversation.get_items() == [reply]


# -- waits, errors, disconnects ----------------------------------------------------------------


def test_waits_time_out(client: RealtimeClient) -> None:
    assert client.wait_for_next_item(timeout=0.05) is None
    assert client.wait_for_next_completed_item(timeout=0.05) is None
    assert client.wait_for_session_created(timeout=0.05) is True  # already there


def test_ask_raises_a_timeout_error_saying_what_it_waited_for(make_simulator: Simulator) -> None:
    simulator = make_simulator(speed=1.0)  # a real-time reply takes seconds
    with RealtimeClient(url=simulator.url) as client:
        with pytest.raises(RealtimeTimeoutError) as caught:
            client.ask("Hello", timeout=0.2)
        assert isinstance(caught.value, TimeoutError)
        assert "0.2 s" in str(caught.value) and "'Hello'" in str(caught.value)
        # the wait_for_* helpers keep the reference's None
        assert client.wait_for_next_completed_item(timeout=0.01) is None


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), "5", 1e10])
def test_a_timeout_that_is_no_number_of_seconds_is_refused_before_anything_is_sent(
    client: RealtimeClient, timeout: Any
) -> None:
    wire = _record(client, "realtime.event")
    for call in (
        lambda: client.ask("Hello", timeout=timeout),
        lambda: client.wait_for_next_item(timeout=timeout),
        lambda: client.wait_for_next_completed_item(timeout=timeout),
        lambda: client.wait_for_next("server.response.done", timeout=timeout),
        lambda: client.wait_for_reconnection(timeout=timeout),
    ):
        with pytest.raises(ConfigurationError, match="timeout must be None or a finite number of seconds"):
            call()  # threading itself would raise a bare OverflowError for inf and not wait at all for NaN
    assert client.ask("Hello", timeout=30) is not None  # the client is fine...
    sent = [e["event"]["type"] for e in wire.of("realtime.event") if e["source"] == "client"]
    assert sent.count("conversation.item.create") == 1 and sent.count("response.create") == 1
    assert len(client.conversation.get_items()) == 2  # ...and nothing of the refused ask() reached the server


def test_session_error_names_the_session_update(client: RealtimeClient) -> None:
    recorder = _record(client, "error")
    client.update_session(speed=9.0)  # the server accepts 0.25 .. 1.5
    (payload,) = recorder.wait("error", timeout=10)
    assert isinstance(payload["error"], ServerError)
    assert payload["error"].error.get("param") == "session.audio.output.speed"  # the GA wire's name
    assert payload["client_event"]["type"] == "session.update"
    assert payload["client_event"]["session"] == {"speed": 9.0}  # as the caller asked
    assert client.is_connected()


def test_injected_errors_and_malformed_frames_are_dispatched(make_simulator: Simulator) -> None:
    simulator = make_simulator(error_after=2, malformed_frame_after=3)
    recorder = EventRecorder()
    client = RealtimeClient(url=simulator.url)
    client.on("error", recorder.callback("error"))
    with client:
        client.wait_for_session_created(timeout=5)
        client.update_session(instructions="x")
        errors = recorder.wait("error", 2, timeout=10)
        server_error, protocol_error = errors
        assert isinstance(server_error["error"], ServerError) and server_error["client_event"] is None
        assert isinstance(protocol_error["error"], ProtocolError) and protocol_error["raw"]
        assert client.is_connected()


def test_dropped_connection_wakes_waiters(make_simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    simulator = make_simulator(drop_after=3)  # session.created, session.updated, then one more
    closes = EventRecorder()
    client = RealtimeClient(url=simulator.url)
    client.on("close", closes.callback("close"))
    waiting = signal_when_waiting(monkeypatch)
    outcome: List[BaseException] = []

    def wait() -> None:
        try:
            client.wait_for_next_item(timeout=None)
        except ConnectionClosedError as exc:
            outcome.append(exc)

    client.connect(timeout=5)
    try:
        assert client.wait_for_session_created(timeout=5)
        thread = threading.Thread(target=wait)
        thread.start()
        assert waiting.wait(5)
        client.update_session(instructions="a")  # its session.updated is the third event
        thread.join(10)
        assert not thread.is_alive() and len(outcome) == 1
        (payload,) = closes.wait("close", timeout=5)
        assert payload["error"] is True
        assert not client.is_connected()
    finally:
        client.disconnect()
    leftovers = [
        t.name for t in threading.enumerate() if t.name.startswith("realtime-sync") and "-sim" not in t.name
    ]
    assert leftovers == []


def test_events_queue_for_another_thread(client: RealtimeClient) -> None:
    client.update_session(modalities=["text"])
    events = client.events()
    client.send_text("Hello")
    names: List[str] = []
    while True:
        name, payload = events.get(timeout=10)
        names.append(name)
        if name == "conversation.item.completed" and payload["item"]["role"] == "assistant":
            break
    assert names.count("conversation.item.appended") == 2
    assert "conversation.updated" in names


# -- sessions that survive: reconnection -----------------------------------------------------


def _texts(client: RealtimeClient) -> List[Any]:
    return [
        (item["role"], item["formatted"]["text"] or item["formatted"]["transcript"])
        for item in client.conversation.get_items()
        if item["type"] == "message"
    ]


def test_reconnects_after_a_drop_replays_the_conversation_and_fails_only_what_was_in_flight(
    make_simulator: Simulator,
) -> None:
    from realtime_sync.client import ReconnectPolicy

    # GA: 5 events to connect and update, 18 for the first exchange; the 27th (the second reply's
    # response.output_item.added) cuts the socket
    simulator = make_simulator(drop_after=27)
    policy = ReconnectPolicy(attempts=3, initial_delay=0, jitter=0, timeout=5)
    with RealtimeClient(url=simulator.url, reconnect=policy) as client:
        recorder = _record(client, "reconnecting", "reconnected", "close")
        assert client.wait_for_session_created(timeout=5)
        client.update_session(modalities=["text"])
        first = client.ask("hello", timeout=5)
        assert first is not None
        with pytest.raises(ConnectionClosedError, match="reconnecting"):
            client.ask("second", timeout=5)
        (reconnected,) = recorder.wait("reconnected")
        assert reconnected["attempt"] == 1 and reconnected["items"] == 3
        (reconnecting,) = recorder.of("reconnecting")
        assert reconnecting["attempt"] == 1 and "dropped" in reconnecting["cause"]
        assert recorder.of("close") == []
        # the new session holds the old conversation (the cut-off reply is not replayed), once, in order
        assert _texts(client) == [("user", "hello"), ("assistant", first["formatted"]["text"]), ("user", "second")]
        third = client.ask("third", timeout=5)
        assert third is not None and third["status"] == "completed"
        assert _texts(client)[-2:] == [("user", "third"), ("assistant", third["formatted"]["text"])]
    assert [payload["error"] for payload in recorder.of("close")] == [False]  # one close, at disconnect()


def test_an_expired_session_rolls_over_to_a_new_one(make_simulator: Simulator) -> None:
    from realtime_sync.client import ReconnectPolicy

    simulator = make_simulator(max_session_seconds=1.0)
    policy = ReconnectPolicy(initial_delay=0, jitter=0, timeout=5)
    client = RealtimeClient(url=simulator.url, reconnect=policy)
    recorder = _record(client, "reconnecting", "reconnected", "close", "error", "conversation.item.appended")
    client.connect(timeout=5)
    try:
        client.create_item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "remember me"}]})
        recorder.wait("conversation.item.appended")  # one round trip, well inside the session's second
        reconnected = recorder.wait("reconnected")[0]
        assert reconnected["cause"] == "the session expired" and reconnected["items"] == 1
        assert _texts(client)[:1] == [("user", "remember me")]
        assert any(p["error"].code == "session_expired" for p in recorder.of("error"))
        assert recorder.of("close") == []
    finally:
        client.disconnect()
    assert len(recorder.of("close")) == 1


def test_reconnection_gives_up_after_its_attempts_with_one_close_naming_the_cause(make_simulator: Simulator) -> None:
    from realtime_sync.client import ReconnectPolicy

    simulator = make_simulator()
    policy = ReconnectPolicy(attempts=2, initial_delay=0, jitter=0, timeout=2)
    client = RealtimeClient(url=simulator.url, reconnect=policy)
    recorder = _record(client, "reconnecting", "reconnected", "close")
    client.connect(timeout=5)
    try:
        assert client.wait_for_session_created(timeout=5)
        simulator.stop()  # the server goes away: every attempt is refused
        (close,) = recorder.wait("close")
        assert close["error"] is True and "reconnection failed" in close["reason"], (close, list(recorder))
        assert [p["attempt"] for p in recorder.of("reconnecting")] == [1, 2]
        assert recorder.of("reconnected") == [] and not client.is_connected()
    finally:
        client.disconnect()
    assert len(recorder.of("close")) == 1


def test_the_reconnect_policy_backs_off_with_a_cap_and_never_retries_refused_credentials() -> None:
    from realtime_sync.client import ReconnectPolicy
    from realtime_sync.errors import AuthenticationError, ConfigurationError, HandshakeError, RealtimeConnectionError

    policy = ReconnectPolicy(initial_delay=0.5, multiplier=2, max_delay=3, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittery = ReconnectPolicy(initial_delay=1, jitter=0.2)
    assert all(0.8 <= jittery.delay(1) <= 1.2 for _ in range(50))
    assert not policy.retryable(AuthenticationError("no", status_code=401))
    assert not policy.retryable(HandshakeError("no such model", status_code=404))
    assert policy.retryable(HandshakeError("busy", status_code=503))
    assert policy.retryable(HandshakeError("slow down", status_code=429))
    assert policy.retryable(RealtimeConnectionError("refused"))
    assert policy.applies_to({"error": True, "code": 1006, "reason": None}, expired=False)
    assert not policy.applies_to({"error": False, "code": 1000, "reason": None}, expired=False)
    assert policy.applies_to({"error": False, "code": 1000, "reason": None}, expired=True)
    with pytest.raises(ConfigurationError):
        ReconnectPolicy(attempts=0)


def test_a_refused_first_reconnection_is_retried_and_a_malformed_frame_is_no_reason_to_reconnect(
    make_simulator: Simulator,
) -> None:
    from realtime_sync.client import ReconnectPolicy

    # a frame that is not JSON follows event 2 (an error dispatch; the connection goes on);
    # events 1-5 are session.created, conversation.created, session.updated and the first
    # item's conversation.item.added and .done (GA confirms an item twice): the sixth (the
    # second item's) cuts the socket instead
    simulator = make_simulator(malformed_frame_after=2, drop_after=5, refuse_reconnections=1)
    policy = ReconnectPolicy(attempts=3, initial_delay=0, jitter=0, timeout=5)
    with RealtimeClient(url=simulator.url, reconnect=policy) as client:
        recorder = _record(client, "reconnecting", "reconnected", "close", "error", "conversation.item.appended")
        assert client.wait_for_session_created(timeout=5)
        client.create_item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "kept"}]})
        recorder.wait("conversation.item.appended")
        try:  # the drop comes right after "kept" is confirmed: this send races with it
            client.create_item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "lost"}]})
        except NotConnectedError:  # the client saw the drop first (ReconnectingError): nothing was sent
            pass
        (reconnected,) = recorder.wait("reconnected")
        assert reconnected["attempt"] == 2  # the first attempt got HTTP 503
        assert simulator.handshakes_refused == 1
        assert [p["attempt"] for p in recorder.of("reconnecting")] == [1, 2]
        assert any(isinstance(p["error"], ProtocolError) for p in recorder.of("error"))  # the malformed frame
        assert recorder.of("close") == []
        assert _texts(client) == [("user", "kept")]
