"""Sessions that survive: sends while reconnecting, nothing sent twice, reconnection by default
where a person is talking (VoiceChat, the command line), and a compressed soak.

The simulator runs in this process: the frames it receives are counted by
wrapping its session's ``handle`` (the one entry point of every client frame).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from support_client import EventRecorder, signal_when_waiting

from realtime_sync import RealtimeClient
from realtime_sync.client import ReconnectPolicy
from realtime_sync.errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    RealtimeTimeoutError,
    ReconnectingError,
)

Simulator = Callable[..., Any]


class Received:
    """Every client frame the simulator's sessions handle: ``(session id, event)``."""

    def __init__(self) -> None:
        self.frames: List[Tuple[str, Dict[str, Any]]] = []
        self._lock = threading.Condition()

    def add(self, session_id: str, message: Any) -> None:
        try:
            event = json.loads(message)
        except (TypeError, ValueError):
            return
        with self._lock:
            self.frames.append((session_id, event))
            self._lock.notify_all()

    def wait_for(self, event_type: str, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` frames of ``event_type`` have been handled."""
        with self._lock:
            assert self._lock.wait_for(
                lambda: sum(1 for _, e in self.frames if e.get("type") == event_type) >= count, timeout
            ), f"the simulator got fewer than {count} {event_type}"

    def events(self, event_type: str) -> List[Tuple[str, Dict[str, Any]]]:
        with self._lock:
            return [(sid, event) for sid, event in self.frames if event.get("type") == event_type]

    def user_texts(self) -> List[Tuple[str, str]]:
        """``(session id, text)`` of every user message created, in the order received."""
        texts = []
        for sid, event in self.events("conversation.item.create"):
            item = event.get("item") or {}
            if item.get("role") == "user":
                for part in item.get("content") or []:
                    if part.get("type") == "input_text":
                        texts.append((sid, part["text"]))
        return texts


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> Received:
    pytest.importorskip("websockets")
    from realtime_sync.simulator.session import SimSession

    record = Received()
    original = SimSession.handle

    def handle(self: Any, message: Any) -> None:
        record.add(self.id, message)
        original(self, message)

    monkeypatch.setattr(SimSession, "handle", handle)
    return record


def _texts(client: RealtimeClient) -> List[Tuple[str, str]]:
    return [
        (item["role"], item["formatted"]["text"] or item["formatted"]["transcript"])
        for item in client.conversation.get_items()
        if item["type"] == "message"
    ]


class Held:
    """A ``reconnecting`` callback that holds the reconnection (on its worker thread) until released."""

    def __init__(self, client: RealtimeClient) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        client.on("reconnecting", self)

    def __call__(self, payload: Dict[str, Any]) -> None:
        self.entered.set()
        assert self.release.wait(20)


def _released_while_waiting(held: Held, waiting: threading.Event, call: Callable[[], Any]) -> Any:
    """Run ``call`` on a thread; once it waits (``waiting``), release the held reconnection; its result."""
    results: List[Any] = []
    thread = threading.Thread(target=lambda: results.append(call()))
    thread.start()
    assert waiting.wait(10)
    held.release.set()
    thread.join(30)
    assert not thread.is_alive() and results, "the call did not return after the reconnection"
    return results[0]


@pytest.mark.parametrize("protocol", ["beta", "ga"])
def test_sends_while_reconnecting_fail_clearly_ask_waits_and_nothing_is_sent_twice(
    make_simulator: Simulator, received: Received, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    simulator = make_simulator()
    policy = ReconnectPolicy(attempts=3, initial_delay=0, jitter=0, timeout=5)
    client = RealtimeClient(url=simulator.url, protocol=protocol, reconnect=policy)
    recorder = EventRecorder().record_on(client, "reconnected", "close")
    held = Held(client)
    client.connect(timeout=5)
    try:
        client.update_session(modalities=["text"], turn_detection=None)
        first = client.ask("hello", timeout=10)
        assert first is not None and not client.is_reconnecting()
        assert simulator.drop_connections() == 1  # TCP cut, no close frame
        assert held.entered.wait(10)
        assert client.is_reconnecting() and not client.is_connected()
        sends: List[Callable[[], Any]] = [
            lambda: client.send_text("refused text"),
            lambda: client.create_response(),
            lambda: client.append_input_audio(b"\x00\x00" * 240),
            lambda: client.create_item({"type": "message", "role": "user",
                                        "content": [{"type": "input_text", "text": "refused item"}]}),
            lambda: client.cancel_response(),
            lambda: client.update_session(instructions="refused"),
            lambda: client.wait_for_next_item(timeout=1),
        ]
        clear = r"the client is reconnecting \(attempt 1 of 3, after: the connection to the Realtime server dropped"
        for send in sends:
            with pytest.raises(ReconnectingError, match=clear) as caught:
                send()
            assert isinstance(caught.value, NotConnectedError)
            assert (caught.value.attempt, caught.value.attempts) == (1, 3) and "dropped" in str(caught.value.cause)
        assert "instructions" not in client.session_config or client.session_config["instructions"] != "refused"
        # ask() waits for the reconnection within its timeout, or says it ran out
        with pytest.raises(RealtimeTimeoutError, match="waited 0.2 s for the client to reconnect"):
            client.ask("too early", timeout=0.2)
        from realtime_sync._session.reconnect import Reconnector

        waiting = signal_when_waiting(monkeypatch, Reconnector)
        answer = _released_while_waiting(held, waiting, lambda: client.ask("after the drop", timeout=20))
        assert answer is not None
        recorder.wait("reconnected")
        assert _texts(client) == [
            ("user", "hello"), ("assistant", first["formatted"]["text"]),
            ("user", "after the drop"), ("assistant", answer["formatted"]["text"]),
        ]
        assert client.wait_for_reconnection(timeout=1) is True
    finally:
        held.release.set()
        client.disconnect()
    # what the simulator received: nothing twice, nothing refused
    event_ids = [event.get("event_id") for _, event in received.frames]
    assert len(event_ids) == len(set(event_ids))
    (old, new) = sorted({sid for sid, _ in received.frames}, key=[sid for sid, _ in received.frames].index)
    assert received.user_texts() == [(old, "hello"), (new, "hello"), (new, "after the drop")]
    assert [sid for sid, _ in received.events("response.create")] == [old, new]
    assert not [e for _, e in received.frames if "refused" in json.dumps(e) or "too early" in json.dumps(e)]
    assert [p["error"] for p in recorder.of("close")] == [False]


@pytest.mark.parametrize("protocol", ["beta", "ga"])
def test_a_request_in_flight_at_the_drop_is_never_sent_again(
    make_simulator: Simulator, received: Received, protocol: str
) -> None:
    from realtime_sync.simulator import default_responder

    holder: Dict[str, Any] = {}

    def responder(items: Any, session: Any) -> Any:  # the model drops the connection instead of answering "second"
        said = [p.get("text") for i in items if i.get("role") == "user" for p in i.get("content") or []]
        if said and said[-1] == "second" and not holder.get("dropped"):
            holder["dropped"] = holder["simulator"].drop_connections()
        return default_responder(items, session)

    simulator = holder["simulator"] = make_simulator(responder=responder)
    policy = ReconnectPolicy(attempts=3, initial_delay=0, jitter=0, timeout=5)
    with RealtimeClient(url=simulator.url, protocol=protocol, reconnect=policy) as client:
        recorder = EventRecorder().record_on(client, "reconnected")
        client.update_session(modalities=["text"])
        assert client.ask("hello", timeout=10) is not None
        with pytest.raises(ConnectionClosedError, match="reconnecting"):
            client.ask("second", timeout=10)
        recorder.wait("reconnected")
        assert client.ask("third", timeout=10) is not None
    assert holder["dropped"] == 1
    sessions = list(dict.fromkeys(sid for sid, _ in received.frames))
    assert len(sessions) == 2
    old, new = sessions
    # the cut-off request's response.create went out once, on the old connection; the replay
    # creates the history's items once each (the new session's "second" is history, not a resend)
    assert [sid for sid, _ in received.events("response.create")] == [old, old, new]
    assert received.user_texts() == [(old, "hello"), (old, "second"), (new, "hello"), (new, "second"), (new, "third")]
    event_ids = [event.get("event_id") for _, event in received.frames]
    assert len(event_ids) == len(set(event_ids))


# -- which closes are retried ---------------------------------------------------------------


@pytest.mark.parametrize(
    "code, retried",
    [(None, True), (1001, True), (1006, True), (1011, True), (1012, True), (1013, True),
     (1000, False), (1002, False), (1008, False), (1009, False), (4000, False), (4999, False)],
)
def test_the_policy_retries_closes_that_a_new_connection_can_cure(code: Any, retried: bool) -> None:
    policy = ReconnectPolicy()
    assert policy.applies_to({"error": code != 1000, "code": code, "reason": None}, expired=False) is retried
    assert policy.applies_to({"error": False, "code": 1000, "reason": None}, expired=True)  # an expiry always is


def test_a_server_that_closes_with_an_application_code_is_not_reconnected() -> None:
    from support_ws import FixtureServer

    retired = {"type": "invalid_request_error", "code": "beta_api_shape_disabled",
               "message": "The Realtime Beta API is no longer supported.", "param": None, "event_id": None}
    with FixtureServer() as server:
        client = RealtimeClient(url=server.url, protocol="beta", reconnect=ReconnectPolicy(initial_delay=0, jitter=0))
        recorder = EventRecorder().record_on(client, "reconnecting", "close", "error")
        client.connect(timeout=5)
        try:
            server.wait_for_connection()
            server.send_json({"type": "error", "event_id": "event_1", "error": retired})
            server.close(4000, "")
            (close,) = recorder.wait("close")
            assert close["error"] is True and close["code"] == 4000
            assert recorder.of("reconnecting") == [] and not client.is_reconnecting()
            assert len(server.handshakes) == 1
        finally:
            client.disconnect()
        assert len(recorder.of("close")) == 1


# -- on by default where a person is talking --------------------------------------------------


class FakeMicrophone:
    """Stands in for devices.Microphone: VoiceChat sets its callback; the test calls it."""

    audio_format = "pcm16"

    def __init__(self) -> None:
        self.callback: Any = None
        self.client: Any = None
        self.on_error: Any = None
        self._closed = False
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def close(self) -> None:
        self.running, self._closed = False, True

    def flush(self, timeout: Any = None) -> None:
        pass


class FakeSpeaker:
    audio_format = "pcm16"
    rate = 24000

    def __init__(self) -> None:
        self._closed = False
        self.interrupts = 0
        self.played: List[str] = []

    def start(self) -> None:
        pass

    def play(self, item_id: str, audio: Any) -> None:
        self.played.append(item_id)

    def interrupt(self) -> Any:
        self.interrupts += 1
        return None

    def close(self) -> None:
        self._closed = True


def test_voice_chat_makes_a_reconnecting_client_and_survives_a_drop(
    make_simulator: Simulator, received: Received, caplog: pytest.LogCaptureFixture
) -> None:
    import numpy as np

    from realtime_sync.devices import VoiceChat

    simulator = make_simulator()
    microphone, speaker = FakeMicrophone(), FakeSpeaker()
    chat = VoiceChat(url=simulator.url, microphone=microphone, speaker=speaker)  # type: ignore[arg-type]
    assert isinstance(chat.client.reconnect_policy, ReconnectPolicy)  # on by default
    assert not chat.client.is_connected()  # the constructor starts nothing
    recorder = EventRecorder().record_on(chat.client, "reconnected", "close")
    chunk = np.zeros(2400, dtype=np.int16)
    with chat:
        assert chat.client.is_connected() and chat.client.wait_for_session_created(timeout=5)
        assert chat.client.get_turn_detection_type() == "server_vad"
        held = Held(chat.client)  # after the chat's own reconnecting callback
        microphone.callback(chunk)
        received.wait_for("input_audio_buffer.append", 1)
        simulator.drop_connections()
        assert held.entered.wait(10)
        assert speaker.interrupts >= 1  # the reply being played was cut off with the connection
        with caplog.at_level("WARNING", logger="realtime_sync.devices"):
            microphone.callback(chunk)  # dropped quietly while reconnecting: nothing sent
        assert [r for r in caplog.records if r.name.startswith("realtime_sync.devices")] == []
        held.release.set()
        recorder.wait("reconnected")
        sent_before = len(received.events("input_audio_buffer.append"))
        microphone.callback(chunk)
        received.wait_for("input_audio_buffer.append", sent_before + 1)
        assert chat.client.get_turn_detection_type() == "server_vad"
    assert not chat.client.is_connected() and speaker._closed is False  # the chat's own client is closed, not your devices
    sessions = list(dict.fromkeys(sid for sid, _ in received.frames))
    appends = [sid for sid, _ in received.events("input_audio_buffer.append")]
    assert len(sessions) == 2 and appends == sessions  # one chunk before the drop, one after; none while reconnecting
    assert [p["error"] for p in recorder.of("close")] == [False]


def test_voice_chat_reconnection_can_be_turned_off_and_belongs_to_the_client_it_makes() -> None:
    from realtime_sync.devices import VoiceChat

    assert VoiceChat(url="ws://127.0.0.1:9", reconnect=False).client.reconnect_policy is None
    policy = ReconnectPolicy(attempts=2)
    assert VoiceChat(url="ws://127.0.0.1:9", reconnect=policy).client.reconnect_policy is policy
    client = RealtimeClient(url="ws://127.0.0.1:9")
    assert VoiceChat(client).client.reconnect_policy is None  # a client you pass keeps its own policy
    with pytest.raises(ConfigurationError, match="reconnect"):
        VoiceChat(client, reconnect=True)
    with pytest.raises(ConfigurationError, match="url"):
        VoiceChat(client, url="ws://127.0.0.1:9")


def test_the_command_line_reconnects_unless_told_not_to() -> None:
    from realtime_sync.cli import build_parser
    from realtime_sync.cli.common import Backend, make_client

    backend = Backend("ws://127.0.0.1:1", simulated=True, description="test")
    for command in ("chat", "voice", "demo", "events"):
        assert isinstance(make_client(build_parser().parse_args([command]), backend).reconnect_policy, ReconnectPolicy)
        assert make_client(build_parser().parse_args([command, "--no-reconnect"]), backend).reconnect_policy is None


def test_the_chat_reports_a_drop_reconnects_and_goes_on(make_simulator: Simulator) -> None:
    from support_docs import clean_env, run_python

    from realtime_sync.simulator import default_responder

    dropped = threading.Event()
    holder: Dict[str, Any] = {}

    def responder(items: Any, session: Any) -> Any:
        said = [p.get("text") for i in items if i.get("role") == "user" for p in i.get("content") or []]
        if said and said[-1] == "please drop" and not dropped.is_set():
            dropped.set()
            holder["simulator"].drop_connections()  # the reply never comes: the connection is cut
        return default_responder(items, session)

    simulator = holder["simulator"] = make_simulator(responder=responder)
    result = run_python(
        ["-m", "realtime_sync", "chat", "--url", simulator.url, "--timeout", "30"],
        env=clean_env(), stdin="please drop\nWhat is a delta?\n", timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert dropped.is_set()
    assert "[reconnecting: attempt 1 of 5, after: the connection to the Realtime server dropped" in result.stderr
    assert "[reconnected: the conversation goes on (1 items carried over)]" in result.stderr, result.stderr
    assert "realtime-sync: error: the connection dropped during the reply" in result.stderr
    assert 'You asked: "What is a delta?"' in result.stdout, result.stdout


# -- the soak, compressed to seconds -----------------------------------------------------------


def test_a_compressed_voice_soak_keeps_the_whole_conversation_through_two_drops_and_an_expiry(
    make_simulator: Simulator,
) -> None:
    """benchmarks/bench_soak.py's session for 3 simulated minutes (the hour-long run is the benchmark)."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_soak.py"
    spec = importlib.util.spec_from_file_location("bench_soak", path)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    simulator = make_simulator(transcriber=soak.transcriber, responder=soak.responder)
    faults = [(40.0, "drop"), (80.0, "expire"), (120.0, "drop")]
    result = soak.run_soak(simulator.url, simulator, minutes=3, faults=faults)
    assert result["reconnections"] == 3
    assert result["turns"] >= 20
    assert result["history"] == result["expected"]  # every item, in order, none twice
    assert len(set(result["history"])) == len(result["history"])


# -- what a reconnection carries over ---------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["beta", "ga"])
def test_a_reconnection_registers_the_tools_again_and_replays_calls_and_outputs(
    make_simulator: Simulator, received: Received, protocol: str
) -> None:
    from realtime_sync.simulator import Reply

    def responder(items: Any, session: Any) -> Any:
        if items and items[-1].get("type") == "function_call_output":
            return Reply(text="It is sunny in Oslo.")
        return Reply(tool_name="get_weather", tool_arguments={"city": "Oslo"})

    simulator = make_simulator(responder=responder)
    policy = ReconnectPolicy(attempts=3, initial_delay=0, jitter=0, timeout=5)
    with RealtimeClient(url=simulator.url, protocol=protocol, reconnect=policy) as client:
        recorder = EventRecorder().record_on(client, "reconnected")
        client.add_tool({"name": "get_weather", "description": "Weather by city",
                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
                        lambda args: {"city": args["city"], "sky": "sunny"})
        client.update_session(modalities=["text"])
        reply = client.ask("What is the weather in Oslo?", timeout=10)
        assert reply is not None and reply["formatted"]["text"] == "It is sunny in Oslo."
        before = [(i["type"], i.get("role")) for i in client.conversation.get_items()]
        assert before == [("message", "user"), ("function_call", None), ("function_call_output", None), ("message", "assistant")]
        assert simulator.drop_connections() == 1
        (reconnected,) = recorder.wait("reconnected")
        assert reconnected["items"] == 4
        after = client.conversation.get_items()
        assert [(i["type"], i.get("role")) for i in after] == before
        assert after[1]["call_id"] == after[2]["call_id"] and json.loads(after[1]["arguments"]) == {"city": "Oslo"}
        assert json.loads(after[2]["output"]) == {"city": "Oslo", "sky": "sunny"}
        assert client.ask("And tomorrow?", timeout=10) is not None  # the tool runs again for a new call only
    new = list(dict.fromkeys(sid for sid, _ in received.frames))[-1]
    updates = [e for sid, e in received.events("session.update") if sid == new]
    assert any(t.get("name") == "get_weather" for u in updates for t in u["session"].get("tools") or [])
    created = [e["item"]["type"] for sid, e in received.events("conversation.item.create") if sid == new]
    # the replay (4 items, the replayed call not run again), then the new turn: its message and its call's output
    assert created == ["message", "function_call", "function_call_output", "message", "message", "function_call_output"]


def test_a_lone_surrogate_in_send_text_or_ask_is_a_configuration_error_and_nothing_is_sent(
    make_simulator: Simulator, received: Received
) -> None:
    simulator = make_simulator()
    with RealtimeClient(url=simulator.url) as client:
        client.update_session(modalities=["text"])
        for send in (lambda: client.send_text("bad \ud800 text"), lambda: client.ask("bad \ud800 text", timeout=5)):
            with pytest.raises(ConfigurationError, match="UTF-8"):
                send()
        reply = client.ask("fine", timeout=10)
        assert reply is not None and client.is_connected()
    assert [text for _, text in received.user_texts()] == ["fine"]
    assert len(received.events("response.create")) == 1


def test_wait_for_next_reconnected_works_through_the_whole_reconnection(
    make_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = make_simulator()
    client = RealtimeClient(url=simulator.url, reconnect=ReconnectPolicy(initial_delay=0, jitter=0, timeout=5))
    held = Held(client)
    recorder = EventRecorder().record_on(client, "conversation.item.appended")
    with client:
        client.create_item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "kept"}]})
        recorder.wait("conversation.item.appended")
        simulator.drop_connections()
        assert held.entered.wait(10)
        waiting = signal_when_waiting(monkeypatch)
        reconnected = _released_while_waiting(held, waiting, lambda: client.wait_for_next("reconnected", timeout=20))
        assert reconnected is not None and reconnected["items"] == 1


@pytest.mark.parametrize("status", [401, 404])
def test_a_reconnection_refused_with_a_bad_key_or_model_is_not_retried(status: int) -> None:
    from support_ws import FixtureServer

    with FixtureServer() as server:
        policy = ReconnectPolicy(attempts=5, initial_delay=0, jitter=0, timeout=5)
        client = RealtimeClient(url=server.url, protocol="beta", reconnect=policy)
        recorder = EventRecorder().record_on(client, "reconnecting", "reconnected", "close")
        client.connect(timeout=5)
        try:
            connection = server.wait_for_connection()
            server.reject_status, server.reject_body = status, {"error": {"message": "refused", "code": None}}
            connection.close_socket()  # the network drops; the new handshake is refused
            (close,) = recorder.wait("close")
            assert close["error"] is True and "reconnection failed" in close["reason"] and str(status) in close["reason"]
            assert [p["attempt"] for p in recorder.of("reconnecting")] == [1]  # one attempt, not five
            assert recorder.of("reconnected") == [] and len(server.handshakes) == 2
        finally:
            client.disconnect()
        assert len(recorder.of("close")) == 1
