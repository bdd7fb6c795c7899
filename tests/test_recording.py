"""Record and replay: the recording format, the recorder, the replay server, the fixture, the command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from support_client import EventRecorder
from support_docs import ROOT, clean_env, run_python

from realtime_sync import RealtimeClient
from realtime_sync.errors import ConfigurationError, ServerError
from realtime_sync.recording import FORMAT, VERSION, ReplayDivergenceError, audio_bytes, read_recording
from realtime_sync.testing import realtime_replay  # noqa: F401 - the fixture, as pytest_plugins would give it

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")

from realtime_sync.simulator import RealtimeSimulator  # noqa: E402

SECRET = "sk-test-RECORDING-SECRET-0123456789"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


def weather(arguments: Dict[str, Any]) -> Dict[str, Any]:
    return {"location": arguments.get("location"), "sky": "sunny", "celsius": 21}


def converse(client: RealtimeClient, *questions: str) -> List[Any]:
    """Ask each question, return what the conversation ends with (no ids)."""
    client.connect(timeout=10)
    assert client.wait_for_session_created(timeout=10)
    for question in questions:
        assert client.ask(question, timeout=20) is not None
    shape = [
        (
            item["type"],
            item.get("role"),
            item.get("status"),
            item["formatted"].get("text"),
            item["formatted"].get("transcript"),
            len(item["formatted"]["audio"]),
            (item["formatted"].get("tool") or {}).get("arguments"),
            item["formatted"].get("output"),
        )
        for item in client.conversation.get_items()
    ]
    client.disconnect()
    return shape


def record_session(path: Path, protocol: str, *questions: str, **options: Any) -> List[Any]:
    with RealtimeSimulator(speed=None, protocol=protocol) as simulator:
        client = RealtimeClient(url=simulator.url, protocol=protocol, record=str(path), **options)
        client.add_tool(WEATHER, weather)
        return converse(client, *questions)


def replay_session(path: Path, *questions: str, strict: bool = True) -> List[Any]:
    with RealtimeSimulator(replay=str(path), replay_strict=strict) as simulator:
        client = RealtimeClient(url=simulator.url, protocol=simulator.protocol)
        client.add_tool(WEATHER, weather)
        shape = converse(client, *questions)
        simulator.check_replay()
    return shape


def server_errors(client: RealtimeClient) -> EventRecorder:
    """The server's ``error`` events on a client (``"server.error"``), recorded from before it connects."""
    return EventRecorder().record_on(client.realtime, "server.error")


def first_replay_error(recording: Path, protocol: str) -> Dict[str, Any]:
    """Connect a client speaking ``protocol`` (no tools) to a replay of ``recording``: the first error it gets."""
    with RealtimeSimulator(replay=str(recording)) as simulator:
        client = RealtimeClient(url=simulator.url, protocol=protocol)
        errors = server_errors(client)
        client.connect(timeout=10)
        error = errors.wait("server.error")[0]
        client.disconnect()
    return dict(error)


def lines(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


QUESTIONS = ("Hello there!", "What is the weather in Paris?")


# -- record a live simulator session, replay it to a fresh client -----------------------


@pytest.mark.parametrize("protocol", ["ga", "beta"])
def test_a_recorded_simulator_session_replays_to_the_same_conversation(tmp_path: Path, protocol: str) -> None:
    path = tmp_path / "session.jsonl"
    recorded = record_session(path, protocol, *QUESTIONS)
    assert any(kind == "function_call" for kind, *_ in recorded), "the tool should have been called"
    recording = read_recording(path)
    assert recording.protocol == protocol
    # what was recorded is the wire in the session's dialect: the openai SDK's models of it accept every frame
    server_model, client_model = sdk_models(protocol)
    for frame in recording.frames():
        (server_model if frame.direction == "server" else client_model).validate_python(frame.event)
    assert replay_session(path, *QUESTIONS) == recorded


def test_the_file_is_json_lines_with_a_header_and_every_frame_in_order(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    with RealtimeSimulator(speed=None) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga", record=str(path))
        sent: List[Dict[str, Any]] = []
        received: List[Dict[str, Any]] = []
        client.realtime.on("client.*", sent.append)
        client.realtime.on("server.*", received.append)
        converse(client, "Hello!")
    header, *records = lines(path)
    assert header["format"] == FORMAT == "realtime-sync-recording" and header["version"] == VERSION == 1
    assert header["protocol"] == "ga" and header["audio"] == "kept" and header["url"] == simulator.url
    assert [r["dir"] for r in records][0] == "open" and records[-1]["dir"] == "close"
    assert records[-1]["error"] is False
    times = [r["t"] for r in records]
    assert times == sorted(times) and all(isinstance(t, float) for t in times)
    assert [r["event"] for r in records if r["dir"] == "client"] == sent
    assert [r["event"] for r in records if r["dir"] == "server"] == received
    # a server event is recorded before what the client sent because of it
    order = [(r["dir"], r.get("event", {}).get("type")) for r in records]
    assert order.index(("server", "conversation.item.done")) < order.index(("server", "response.done"))


def test_the_key_and_the_headers_are_never_written(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    with RealtimeSimulator(speed=None, require_api_key=SECRET) as simulator:
        client = RealtimeClient(
            url=simulator.url + "/v1/realtime?api-key=" + SECRET, api_key=SECRET, protocol="ga", record=str(path)
        )
        errors = server_errors(client)
        client.connect(timeout=10)
        assert client.wait_for_session_created(timeout=10)  # the simulator's session is registered
        # a server that echoes the key back in an error: masked before anything sees it, the recording too
        echo = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad key " + SECRET}}
        assert simulator.broadcast(echo) == 1
        assert "bad key" in errors.wait("server.error")[0]["error"]["message"]
        client.disconnect()
        converse(client, "Hello!")
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and SECRET[8:] not in text
    assert "Authorization" not in text and "Bearer" not in text
    assert "api-key=" in lines(path)[0]["url"]  # the URL is kept, its key masked


def test_record_audio_false_keeps_only_the_length_and_replays_silence(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    with RealtimeSimulator(speed=None, protocol="ga") as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga", record=str(path), record_audio=False)
        client.connect(timeout=10)
        assert client.wait_for_session_created(timeout=10)
        client.append_input_audio(bytes(4800))
        reply = client.ask("Hello!", timeout=20)
        assert reply is not None
        heard = len(reply["formatted"]["audio"])
        client.disconnect()
    records = lines(path)
    assert records[0]["audio"] == "elided"
    deltas = [r["event"]["delta"] for r in records if r.get("event", {}).get("type") == "response.output_audio.delta"]
    assert deltas and all(isinstance(d, int) for d in deltas)
    assert sum(deltas) == heard * 2
    appended = [r["event"]["audio"] for r in records if r.get("event", {}).get("type") == "input_audio_buffer.append"]
    assert appended == [4800]
    assert max(len(line) for line in path.read_text().splitlines()) < 4000  # no base64 audio left

    with RealtimeSimulator(replay=str(path)) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        client.connect(timeout=10)
        client.append_input_audio(bytes(4800))
        again = client.ask("Hello!", timeout=20)
        client.disconnect()
        simulator.check_replay()
    assert again is not None and len(again["formatted"]["audio"]) == heard
    assert not again["formatted"]["audio"].any()  # silence
    assert again["formatted"]["transcript"] == reply["formatted"]["transcript"]


def test_audio_bytes_counts_decoded_bytes() -> None:
    import base64

    for size in range(0, 10):
        assert audio_bytes(base64.b64encode(bytes(size)).decode()) == size


def test_the_record_context_and_several_connections(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    with RealtimeSimulator(speed=None) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        with client.record(str(first)) as recorder:
            with pytest.raises(ConfigurationError, match="already recording"):
                with client.record(str(second)):
                    pass
            converse(client, "Hello!")
            converse(client, "Hello again!")
        assert recorder.frames > 0 and recorder.error is None
        converse(client, "Not recorded.")
    recording = read_recording(first)
    assert len(recording.connections) == 2 and not second.exists()
    assert "Not recorded." not in first.read_text()

    # RealtimeClient(record=...) adds each connection to the same file
    path = tmp_path / "c.jsonl"
    with RealtimeSimulator(speed=None) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga", record=str(path))
        one = converse(client, "Hello!")
        two = converse(client, "What is 2 + 2?")
    assert len(read_recording(path).connections) == 2
    with RealtimeSimulator(replay=str(path)) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        assert converse(client, "Hello!") == one
        assert converse(client, "What is 2 + 2?") == two
        errors = server_errors(client)
        client.connect(timeout=10)  # a third connection: the recording has none
        error = errors.wait("server.error")[0]
        assert error is not None and "holds 2 connection(s); this is connection 3" in error["error"]["message"]
        client.disconnect()
    assert len(simulator.replay_divergences) == 1


# -- divergence, strict and lenient --------------------------------------------------------


@pytest.fixture
def hello_recording(tmp_path: Path) -> Path:
    path = tmp_path / "hello.jsonl"
    record_session(path, "ga", "Hello there!")
    return path


def test_a_divergent_client_gets_an_error_naming_expected_and_got(hello_recording: Path) -> None:
    with RealtimeSimulator(replay=str(hello_recording)) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        client.add_tool(WEATHER, weather)
        client.connect(timeout=10)
        with pytest.raises(ServerError) as caught:
            client.ask("Something else", timeout=10)
        client.disconnect()
    message = str(caught.value)
    assert caught.value.code == "replay_diverged"
    assert "client event 2 of connection 1" in message
    assert 'expected conversation.item.create with item.content[0].text = "Hello there!", got "Something else"' in message
    [divergence] = simulator.replay_divergences
    assert isinstance(divergence, ReplayDivergenceError) and str(divergence) in message
    with pytest.raises(ReplayDivergenceError, match="Something else"):
        simulator.check_replay()


def test_a_client_sending_another_event_type_is_named(hello_recording: Path) -> None:
    with RealtimeSimulator(replay=str(hello_recording)) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        client.add_tool(WEATHER, weather)
        errors = server_errors(client)
        client.connect(timeout=10)
        client.clear_input_audio()
        error = errors.wait("server.error")[0]
        first = client.realtime.send("input_audio_buffer.clear")
        later = errors.wait("server.error", 2)[1]  # the replay stopped at the first: every later event gets an error too
        client.disconnect()
    assert error is not None
    assert error["error"]["message"].endswith("expected conversation.item.create, got input_audio_buffer.clear")
    assert error["error"]["event_id"] is not None  # names the client's event
    assert later["error"]["event_id"] == first["event_id"] and later["error"]["code"] == "replay_diverged"
    assert later["error"]["message"] == "the replay stopped at an earlier divergence: " + error["error"]["message"]
    assert len(simulator.replay_divergences) == 1
    records = lines(hello_recording)
    line = [n for n, r in enumerate(records, start=1) if r.get("dir") == "client"][1]
    assert "(line %d)" % line in error["error"]["message"]  # and the recording's line


def test_lenient_matching_ignores_other_key_fields_and_extra_events(hello_recording: Path) -> None:
    with RealtimeSimulator(replay=str(hello_recording), replay_strict=False) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")  # no tool: session.update differs too
        client.connect(timeout=10)
        client.clear_input_audio()  # extra: ignored
        reply = client.ask("Something else", timeout=10)
        client.clear_input_audio()  # past the end: ignored
        client.disconnect()
    assert reply is not None and reply["formatted"]["transcript"] == "Hello! How can I help you today?"
    assert simulator.replay_divergences == []


def test_strict_matching_refuses_another_session_update(hello_recording: Path) -> None:
    error = first_replay_error(hello_recording, "ga")  # the client has not the recorded tool
    assert error is not None and "expected session.update with session.tools = " in error["error"]["message"]


def test_a_client_in_the_other_dialect_is_told_which(hello_recording: Path) -> None:
    error = first_replay_error(hello_recording, "beta")
    assert error is not None
    assert "speaks GA but the client asked for beta" in error["error"]["message"]
    assert "protocol='ga'" in error["error"]["message"]


# -- hand-written GA streams, in the shapes of openai.types.realtime -------------------------


def sdk_models(protocol: str = "ga") -> Any:
    """The openai SDK's pydantic models of server and client events: GA, or beta."""
    pydantic = pytest.importorskip("pydantic")
    realtime = pytest.importorskip("openai.types.realtime" if protocol == "ga" else "openai.types.beta.realtime")
    return pydantic.TypeAdapter(realtime.RealtimeServerEvent), pydantic.TypeAdapter(realtime.RealtimeClientEvent)


def ga_models() -> Any:
    return sdk_models("ga")


def hand_written_ga_stream() -> List[Dict[str, Any]]:
    session = {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_hand",
        "model": "gpt-realtime",
        "output_modalities": ["text"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": None, "transcription": None},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
        },
    }
    user = {
        "id": "item_user",
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hi"}],
    }
    reply = {"id": "item_reply", "object": "realtime.item", "type": "message", "status": "in_progress"}
    reply.update(role="assistant", content=[])
    done_reply = dict(reply, status="completed", content=[{"type": "output_text", "text": "Hello, world"}])
    response = {"id": "resp_1", "object": "realtime.response", "status": "in_progress", "output": [], "conversation_id": "conv_1"}
    part = {"type": "text", "text": ""}
    ids = {"item_id": "item_reply", "response_id": "resp_1", "output_index": 0, "content_index": 0}

    def server(event_type: str, **fields: Any) -> Dict[str, Any]:
        return {"dir": "server", "event": {"event_id": "event_%d" % len(fields), "type": event_type, **fields}}

    def client(event_type: str, **fields: Any) -> Dict[str, Any]:
        return {"dir": "client", "event": {"event_id": "evt_hand", "type": event_type, **fields}}

    return [
        server("session.created", session=session),
        client("session.update", session={"type": "realtime", "output_modalities": ["text"]}),
        server("session.updated", session=session),
        client("conversation.item.create", item={k: v for k, v in user.items() if k in ("type", "role", "content")}),
        server("conversation.item.added", previous_item_id=None, item=user),
        server("conversation.item.done", previous_item_id=None, item=user),
        client("response.create"),
        server("response.created", response=response),
        server("response.output_item.added", response_id="resp_1", output_index=0, item=reply),
        server("conversation.item.added", previous_item_id="item_user", item=reply),
        server("response.content_part.added", part=part, **ids),
        server("response.output_text.delta", delta="Hello, ", **ids),
        server("response.output_text.delta", delta="world", **ids),
        server("response.output_text.done", text="Hello, world", **ids),
        server("response.content_part.done", part={"type": "text", "text": "Hello, world"}, **ids),
        server("response.output_item.done", response_id="resp_1", output_index=0, item=done_reply),
        server("conversation.item.done", previous_item_id="item_user", item=done_reply),
        server("response.done", response=dict(response, status="completed", output=[done_reply])),
    ]


def write_recording(path: Path, records: List[Dict[str, Any]], protocol: str = "ga", **header: Any) -> Path:
    head = {"format": FORMAT, "version": VERSION, "protocol": protocol, "url": "wss://api.openai.com/v1/realtime"}
    head.update(header)
    body = [json.dumps(head)] + [json.dumps(dict(record, t=0.001 * n)) for n, record in enumerate(records)]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def test_a_hand_written_ga_stream_validates_and_replays(tmp_path: Path) -> None:
    server_model, client_model = ga_models()
    records = hand_written_ga_stream()
    for record in records:
        (server_model if record["dir"] == "server" else client_model).validate_python(record["event"])
    path = write_recording(tmp_path / "hand.jsonl", records)
    with RealtimeSimulator(replay=str(path), replay_strict=False) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        received: List[Dict[str, Any]] = []
        client.realtime.on("server.*", received.append)
        client.connect(timeout=10)
        assert client.wait_for_session_created(timeout=10)
        reply = client.ask("Hi", timeout=10)
        client.disconnect()
    assert reply is not None and reply["formatted"]["text"] == "Hello, world" and reply["status"] == "completed"
    assert [e["type"] for e in received] == [r["event"]["type"] for r in records if r["dir"] == "server"]
    for event in received:  # what the replay sent is still the GA shape
        server_model.validate_python(event)


def test_the_divergence_error_is_a_ga_error_event(hello_recording: Path) -> None:
    server_model, _ = ga_models()
    error = first_replay_error(hello_recording, "ga")
    assert error is not None
    assert server_model.validate_python(error).type == "error"


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no recording at .*: the file does not exist"),
        ("", "is not a realtime_sync recording: it is empty"),
        ("{not json\n", "is not a realtime_sync recording: its first line must be a header"),
        ('{"format": "vcr", "version": 1}\n', 'with "format": "realtime-sync-recording"'),
        ('{"format": "realtime-sync-recording", "version": 2, "protocol": "ga"}\n', "version 2 is newer .*upgrade"),
        ('{"format": "realtime-sync-recording", "version": "1", "protocol": "ga"}\n', "version must be an integer"),
        ('{"format": "realtime-sync-recording", "version": 1, "protocol": "v2"}\n', 'protocol must be "ga" or "beta"'),
        (
            '{"format": "realtime-sync-recording", "version": 1, "protocol": "ga"}\n{"t": 0, "dir": "server", "event": {"ty',
            "line 2: not valid JSON",
        ),
        (
            '{"format": "realtime-sync-recording", "version": 1, "protocol": "ga"}\n\n{"t": 0, "dir": "client", "event": 3}\n',
            'line 3: a client record needs an "event" object',
        ),
    ],
)
def test_a_missing_or_malformed_recording_is_a_configuration_error(tmp_path: Path, content: Optional[str], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        read_recording(path)
    with pytest.raises(ConfigurationError, match=message):
        RealtimeSimulator(replay=str(path))
    if content is not None:
        assert path.read_text(encoding="utf-8") == content  # nothing lost


def test_a_file_that_is_not_a_recording_is_never_replaced(tmp_path: Path, hello_recording: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n", encoding="utf-8")
    with RealtimeSimulator(speed=None) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga", record=str(precious))
        with pytest.raises(ConfigurationError, match="exists and is not a realtime_sync recording"):
            client.connect(timeout=10)
        assert precious.read_text(encoding="utf-8") == "my notes\n"
        client = RealtimeClient(url=simulator.url, protocol="ga", record=str(hello_recording))  # a recording: replaced
        converse(client, "What is 2 + 2?")
    assert "What is 2 + 2?" in hello_recording.read_text() and "Hello there!" not in hello_recording.read_text()


def test_readers_ignore_fields_and_records_they_do_not_know(tmp_path: Path) -> None:
    records: List[Dict[str, Any]] = [{"dir": "note", "text": "a later kind of record"}] + hand_written_ga_stream()
    records[1]["extra"] = {"added": "later"}
    path = write_recording(tmp_path / "later.jsonl", records, comment="a field added later")
    recording = read_recording(path)
    assert len(recording.connections) == 1 and len(recording.frames()) == len(records) - 1


def test_an_unwritable_recording_path_fails_connect_clearly(tmp_path: Path) -> None:
    with RealtimeSimulator(speed=None) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga", record=str(tmp_path / "missing" / "x.jsonl"))
        with pytest.raises(ConfigurationError, match="cannot record to .*x.jsonl"):
            client.connect(timeout=10)
        assert not client.is_connected()
    with pytest.raises(ConfigurationError, match="recording path"):
        RealtimeClient(record=3)  # type: ignore[arg-type]


# -- the pytest fixture ------------------------------------------------------------------------


def test_the_realtime_replay_fixture(realtime_replay: Any, hello_recording: Path) -> None:  # noqa: F811
    replay = realtime_replay(hello_recording)
    assert replay.protocol == "ga" and replay.url.startswith("ws://127.0.0.1:")
    client = replay.client()
    client.add_tool(WEATHER, weather)
    client.connect(timeout=10)
    reply = client.ask("Hello there!", timeout=10)
    assert reply is not None and reply["formatted"]["transcript"] == "Hello! How can I help you today?"
    replay.check()


def test_the_plugin_fails_a_test_whose_client_diverges(tmp_path: Path, hello_recording: Path) -> None:
    suite = tmp_path / "suite"
    (suite / "recordings").mkdir(parents=True)
    (suite / "recordings" / "hello.jsonl").write_bytes(hello_recording.read_bytes())
    (suite / "conftest.py").write_text('pytest_plugins = ["realtime_sync.testing"]\n')
    (suite / "test_bot.py").write_text(
        "WEATHER = %r\n"
        "def _client(replay):\n"
        "    client = replay.client()\n"
        "    client.add_tool(WEATHER, lambda args: {})\n"
        "    client.connect(timeout=10)\n"
        "    return client\n"
        "def test_same(realtime_replay):\n"
        "    reply = _client(realtime_replay('recordings/hello.jsonl')).ask('Hello there!', timeout=10)\n"
        "    assert 'help' in reply['formatted']['transcript']\n"
        "def test_other(realtime_replay):\n"
        "    client = _client(realtime_replay('recordings/hello.jsonl'))\n"
        "    try:\n"
        "        client.ask('Goodbye', timeout=10)\n"
        "    except Exception:\n"
        "        pass\n"
        "def test_allowed(realtime_replay):\n"
        "    replay = realtime_replay('recordings/hello.jsonl', allow_divergence=True)\n"
        "    client = _client(replay)\n"
        "    try:\n"
        "        client.ask('Goodbye', timeout=10)\n"
        "    except Exception as exc:\n"
        "        assert 'replay_diverged' in str(exc)\n"
        "    assert 'Goodbye' in str(replay.divergences[0])\n" % (WEATHER,)
    )
    result = run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)], env=clean_env(PYTHONPATH=str(ROOT)), cwd=tmp_path
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("1 failed, 2 passed in ") and "error" not in summary, result.stdout + result.stderr
    assert "FAILED suite/test_bot.py::test_other" in result.stdout  # (the reason beside it depends on pytest's version)
    assert 'the client diverged from the recording' in result.stdout
    assert 'got "Goodbye"' in result.stdout


# -- the command line ---------------------------------------------------------------------------


def test_events_record_then_replay_serves_it(tmp_path: Path) -> None:
    path = tmp_path / "cli.jsonl"
    env = clean_env(PYTHONPATH=str(ROOT))
    result = run_python(
        ["-m", "realtime_sync", "events", "--say", "Hello!", "--speed", "0", "--record", str(path), "--record-no-audio",
         "--color", "never"],
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Recorded the session to %s" % path in result.stderr
    recording = read_recording(path)
    assert recording.audio_elided and len(recording.connections) == 1

    printed = run_python(["-m", "realtime_sync", "replay", str(path), "--print", "--color", "never"], env=env, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert "-> client conversation.item.create" in printed.stdout and "<- server response.done" in printed.stdout

    server = subprocess.Popen(
        [sys.executable, "-m", "realtime_sync", "replay", str(path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(tmp_path),
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert banner.startswith("Replaying ") and "1 connection(s)" in banner, banner
        url = banner.split(" at ")[1].split(" ")[0]
        # a raw socket: the recorded first client event, then another user message than the recorded one
        import websocket

        header = ["OpenAI-Beta: realtime=v1"] if recording.protocol == "beta" else []
        ws = websocket.create_connection(url, header=header, timeout=10)
        ws.send(json.dumps(recording.connections[0][[f.direction for f in recording.connections[0]].index("client")].event))
        message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Something else"}]}
        ws.send(json.dumps({"type": "conversation.item.create", "item": message}))
        while True:
            error = json.loads(ws.recv())
            if error["type"] == "error":
                break
        ws.close()
        assert error is not None and error["error"]["code"] == "replay_diverged"
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 1 and 'got "Something else"' in err

    missing = run_python(["-m", "realtime_sync", "replay", str(tmp_path / "nope.jsonl")], env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "no recording at" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("fault", ["expire", "drop"])
def test_a_connection_the_server_ended_ends_the_same_way_in_replay(tmp_path: Path, fault: str) -> None:
    path = tmp_path / "ended.jsonl"
    with RealtimeSimulator(speed=None) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga", record=str(path))
        closed = threading.Event()
        client.on("close", lambda payload: closed.set())
        client.connect(timeout=10)
        assert client.ask("Hello!", timeout=10) is not None
        simulator.expire_sessions() if fault == "expire" else simulator.drop_connections()
        assert closed.wait(10)
        client.disconnect()
    [close] = read_recording(path).closes
    assert close is not None and close["by"] == "server"
    assert close["code"] == (1000 if fault == "expire" else None)

    with RealtimeSimulator(replay=str(path)) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        ends: List[Dict[str, Any]] = []
        ended = threading.Event()
        client.on("close", lambda payload: (ends.append(payload), ended.set()))
        client.connect(timeout=10)
        assert client.ask("Hello!", timeout=10) is not None
        assert ended.wait(10)
        client.disconnect()
        simulator.check_replay()
    if fault == "expire":
        assert ends[0]["code"] == 1000 and ends[0]["reason"] == "session expired" and not ends[0]["error"]
    else:
        assert ends[0]["code"] is None and ends[0]["error"]


def test_a_connection_the_client_ended_stays_open_in_replay(hello_recording: Path) -> None:
    [close] = read_recording(hello_recording).closes
    assert close is not None and close["by"] == "client"
    with RealtimeSimulator(replay=str(hello_recording)) as simulator:
        client = RealtimeClient(url=simulator.url, protocol="ga")
        client.add_tool(WEATHER, weather)
        client.connect(timeout=10)
        assert client.ask("Hello there!", timeout=10) is not None
        assert client.realtime.wait_for_next("server.error", timeout=0.3) is None  # nothing more comes
        assert client.is_connected()
        client.disconnect()


def test_a_reconnecting_client_replays_its_drop_and_its_reconnection(tmp_path: Path) -> None:
    from realtime_sync.client import ReconnectPolicy

    path = tmp_path / "reconnect.jsonl"

    def run(url: str, drop: Any, **options: Any) -> List[Any]:
        policy = ReconnectPolicy(2, initial_delay=0.01, jitter=0)
        client = RealtimeClient(url=url, protocol="ga", reconnect=policy, **options)
        reconnected = threading.Event()
        client.on("reconnected", lambda payload: reconnected.set())
        client.connect(timeout=10)
        assert client.ask("Hello!", timeout=10) is not None
        drop()
        assert reconnected.wait(10), "the client did not reconnect"
        assert client.ask("What is 2 + 2?", timeout=10) is not None
        items = client.conversation.get_items()
        shape = [(i["type"], i.get("role"), i["formatted"].get("text") or i["formatted"].get("transcript")) for i in items]
        client.disconnect()
        return shape

    with RealtimeSimulator(speed=None) as simulator:
        recorded = run(simulator.url, simulator.drop_connections, record=str(path))
    recording = read_recording(path)
    assert len(recording.connections) == 2 and recording.closes[0] is not None and recording.closes[0]["by"] == "server"
    with RealtimeSimulator(replay=str(path)) as simulator:
        replayed = run(simulator.url, lambda: None)  # the replay drops the first connection by itself
        simulator.check_replay()
    assert replayed == recorded


def test_replay_speed_keeps_the_recorded_latency(tmp_path: Path) -> None:
    import time

    records = hand_written_ga_stream()
    path = write_recording(tmp_path / "paced.jsonl", records)
    # the server took 0.4 s (recorded time) to answer the response.create
    text = path.read_text(encoding="utf-8").splitlines()
    paced = [text[0]]
    for line in text[1:]:
        record = json.loads(line)
        after_request = record["dir"] == "server" and record["event"]["type"].startswith("response.")
        record["t"] = 1.0 if after_request else 0.0
        paced.append(json.dumps(record))
    path.write_text("\n".join(paced) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="replay_speed"):
        RealtimeSimulator(replay=str(path), replay_speed=0)

    def answer_time(speed: Optional[float]) -> float:
        with RealtimeSimulator(replay=str(path), replay_strict=False, replay_speed=speed) as simulator:
            client = RealtimeClient(url=simulator.url, protocol="ga")
            client.connect(timeout=10)
            start = time.monotonic()
            assert client.ask("Hi", timeout=10) is not None
            took = time.monotonic() - start
            client.disconnect()
        return took

    assert answer_time(2.0) >= 0.45  # 1 s recorded, twice as fast


def test_a_stuck_disk_never_blocks_the_thread_that_records_and_nothing_is_lost(tmp_path: Path) -> None:
    from realtime_sync.recording import Recorder

    class StuckFile:
        """A file whose writes wait until the test lets them through."""

        def __init__(self, real: Any) -> None:
            self.real = real
            self.gate = threading.Event()
            self.writer_threads: List[str] = []

        def write(self, text: str) -> int:
            self.writer_threads.append(threading.current_thread().name)
            assert self.gate.wait(30)
            return int(self.real.write(text))

        def flush(self) -> None:
            self.real.flush()

        def close(self) -> None:
            self.real.close()

    path = tmp_path / "stuck.jsonl"
    recorder = Recorder(path, protocol="ga", url="ws://127.0.0.1:1")
    stuck = StuckFile(recorder._file)
    recorder._file = stuck  # type: ignore[assignment]
    event = {"event_id": "event_1", "type": "response.output_text.delta", "delta": "x"}
    for _ in range(500):  # all queued while the disk is stuck: the caller never waits
        recorder.frame("server", event)
    stuck.gate.set()
    recorder.close()
    assert set(stuck.writer_threads) == {"realtime-sync-recorder"}
    recording = read_recording(path)
    assert len(recording.frames()) == 500


def test_a_ctrl_c_as_the_replay_banner_is_printed_still_stops_and_reports(tmp_path: Path) -> None:
    import argparse
    import io
    import threading as _threading

    from realtime_sync.cli.replay import run_replay

    class InterruptedOut(io.StringIO):
        def write(self, text: str) -> int:
            raise KeyboardInterrupt  # Ctrl-C lands while the banner is written (before the wait for it)

    path = write_recording(tmp_path / "hand.jsonl", hand_written_ga_stream())
    args = argparse.Namespace(print=False, host="127.0.0.1", port=0, file=str(path), lenient=False, speed=None)
    err = io.StringIO()
    try:
        code = run_replay(args, out=InterruptedOut(), err=err)
    except KeyboardInterrupt:
        pytest.fail("the Ctrl-C escaped run_replay (its exit code would be 130, the divergences unreported)")
    assert code == 0  # no divergence: stopped cleanly
    assert not [t for t in _threading.enumerate() if t.name.startswith("realtime-sync-sim")]
