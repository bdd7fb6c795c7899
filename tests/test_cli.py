"""The ``python -m realtime_sync`` command line, run as a real program against simulators."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support_docs import ROOT, clean_env, end_process, run_python, signal_and_wait

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")


def cli(*args: str, timeout: float = 60.0, stdin: str = "", **env: str) -> "subprocess.CompletedProcess[str]":
    return run_python(["-m", "realtime_sync", *args], timeout=timeout, env=clean_env(**env), stdin=stdin)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_lists_the_commands_and_exit_codes() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("demo", "chat", "voice", "events", "simulate"):
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def test_a_missing_command_is_a_usage_error() -> None:
    result = cli()
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_demo_talks_to_the_embedded_simulator_calls_the_tool_and_ends() -> None:
    result = cli("demo", "--speed", "0", timeout=90)  # unpaced: a second, not ten
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using the built-in simulator" in result.stderr
    out = result.stdout
    assert "you> Hello!" in out
    assert "assistant> Hello! How can I help you today?" in out
    assert re.search(r'\[tool call\] get_local_time\(\{"city": "Tokyo"\}\)', out), out
    assert re.search(r'\[tool result\] \{"city": "Tokyo", "local_time": "\d\d:\d\d", "utc_offset": "\+0900"\}', out), out
    assert re.search(r"assistant> Here is what get_local_time returned: city Tokyo, local time \d\d:\d\d", out), out
    assert re.search(r"Demo finished: 3 messages, 1 tool call, \d+ conversation items, [\d.]+ s\.", out), out


def test_replies_stream_in_many_text_deltas(simulator) -> None:
    events = cli("events", "--text-only", "--say", "Hello!", "--url", simulator.url)
    assert events.returncode == 0, events.stderr
    folded = [line for line in events.stdout.splitlines() if " response.output_text.delta " in line]  # GA wire names
    assert len(folded) == 1, events.stdout  # the stream is one line with its count
    match = re.search(r'  "(.*)" \((\d+) deltas\)$', folded[0])
    assert match and int(match.group(2)) > 3, folded[0]
    assert match.group(1).startswith("Hello! How can I help")


def test_chat_reads_messages_streams_replies_and_quits(simulator) -> None:
    result = cli("chat", "--url", simulator.url, stdin="Hello there\n/nonsense\nWhat is a delta?\n/quit\nnever sent\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Connected to %s" % simulator.url in out
    assert "assistant> Hello! How can I help you today?" in out
    assert "unknown command /nonsense" in out
    assert 'You asked: "What is a delta?"' in out
    assert "never sent" not in out
    assert "using the built-in simulator" not in result.stderr


def test_chat_voice_switch_reports_missing_audio_in_one_line_and_chat_goes_on(simulator) -> None:
    result = cli("chat", "--url", simulator.url, stdin="/voice\n/voice\nHi\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # Where a microphone and speaker exist, /voice switches them on and off;
    # elsewhere (CI) it says why it cannot, and text chat continues.
    assert ("voice on" in out and "voice off" in out) or out.count("voice is not available here: ") == 2, out
    assert "assistant> Hello!" in out
    assert "Traceback" not in result.stderr


def test_voice_without_a_device_is_a_one_line_error(simulator) -> None:
    result = cli("voice", "--url", simulator.url, "--input-device", "no such microphone xyz")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("realtime-sync: error: ")


def test_chat_ends_at_end_of_input_with_the_embedded_simulator() -> None:
    result = cli("chat", stdin="Hi\n")
    assert result.returncode == 0, result.stderr
    assert "using the built-in simulator" in result.stderr
    assert "assistant> Hello!" in result.stdout


def test_events_prints_one_line_per_event(simulator) -> None:
    result = cli("events", "--url", simulator.url, "--say", "Hello!")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    pattern = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (->|<-) (client|server) +[a-z_.]+")
    assert lines and all(pattern.match(line) for line in lines), lines[:5]
    types = [line.split()[3] for line in lines]
    assert types[0] == "session.update" or "session.update" in types[:3]
    assert "session.created" in types
    for expected in ("conversation.item.create", "response.create", "response.created",  # the GA wire's names
                     "response.output_audio.delta", "response.output_audio_transcript.delta", "response.done"):
        assert expected in types, expected
    audio = [line for line in lines if " response.output_audio.delta" in line]
    assert len(audio) == 1 and re.search(r"  \d+ ms audio \(\d+ deltas\)$", audio[0]), audio
    assert types.index("response.output_audio.delta") < types.index("response.output_audio.done") < types.index("response.done")
    assert types.index("response.done") > types.index("response.created")


def test_events_json_prints_the_raw_events_one_per_line(simulator) -> None:
    import base64

    result = cli("events", "--json", "--url", simulator.url, "--say", "Hi")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["source"] for r in records} == {"client", "server"}
    assert all(set(r) == {"time", "source", "event"} for r in records)
    deltas = [r["event"] for r in records if r["event"]["type"] == "response.output_audio.delta"]
    assert len(deltas) > 1  # unfolded: every event is its own line
    assert all(len(base64.b64decode(d["delta"], validate=True)) % 2 == 0 for d in deltas)  # the audio itself


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_simulate_serves_until_interrupted(stop_signal: int) -> None:
    from realtime_sync import RealtimeClient

    process = subprocess.Popen(
        [sys.executable, "-m", "realtime_sync", "simulate", "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=str(ROOT),
    )
    try:
        first = process.stdout.readline()
        match = re.search(r"listening on (ws://127\.0\.0\.1:\d+)", first)
        assert match, first
        with RealtimeClient(url=match.group(1)) as client:
            client.update_session(modalities=["text"])
            reply = client.ask("Hello!", timeout=30)
            assert reply["formatted"]["text"].startswith("Hello!")
        assert signal_and_wait(process, stop_signal) == (130 if stop_signal == signal.SIGINT else 0)  # Ctrl-C: 130
        assert "Traceback" not in process.stderr.read()
    finally:
        end_process(process)


def test_connection_errors_are_one_line_without_debug() -> None:
    result = cli("demo", "--url", "ws://127.0.0.1:%d" % closed_port(), "--timeout", "5")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines  # one line, no second "run again with --debug" line
    assert lines[0].startswith("realtime-sync: error: ")


def test_debug_shows_the_traceback() -> None:
    result = cli("chat", "--debug", "--url", "ws://127.0.0.1:%d" % closed_port(), "--timeout", "5")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("realtime-sync: error: ")


def test_a_refused_api_key_is_reported_and_never_printed() -> None:
    from realtime_sync.simulator import RealtimeSimulator

    with RealtimeSimulator(require_api_key="sk-right-key") as sim:
        result = cli("chat", "--url", sim.url, "--timeout", "10", OPENAI_API_KEY="sk-wrong-key-123")
    assert result.returncode == 1
    assert "401" in result.stderr
    assert "sk-wrong-key-123" not in result.stderr + result.stdout


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("realtime-sync")
    if not script.exists():
        pytest.skip("the realtime-sync console script is not installed next to %s" % sys.executable)
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30, env=clean_env())
    assert result.returncode == 0
    assert result.stdout.startswith("realtime-sync ")


RETIRED = {
    "type": "invalid_request_error",
    "code": "beta_api_shape_disabled",
    "message": "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
    "param": None,
    "event_id": None,
}


def test_the_beta_retirement_error_is_explained() -> None:
    """OpenAI's servers answer a beta connection with this error, then close with code 4000."""
    import threading

    from websockets.sync.server import serve

    def handler(connection) -> None:  # type: ignore[no-untyped-def]
        connection.send(json.dumps({"type": "error", "event_id": "event_1", "error": RETIRED}))
        connection.close(4000, "")

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.socket.getsockname()[1]
            result = cli("demo", "--url", "ws://127.0.0.1:%d" % port, "--timeout", "10")
        finally:
            server.shutdown()
            thread.join(timeout=10)
    assert result.returncode == 1, result.stdout + result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("realtime-sync: error: ")
    assert "beta_api_shape_disabled" in first, result.stderr
    assert "retired the beta Realtime protocol" in first and "--protocol ga" in first


def _require_pyaudio() -> None:
    try:
        import pyaudio  # noqa: F401
    except ImportError:
        if os.environ.get("REALTIME_SYNC_REQUIRE_AUDIO") == "1":
            pytest.fail("pyaudio is required (REALTIME_SYNC_REQUIRE_AUDIO=1) but cannot be imported")
        pytest.skip(
            "pyaudio is not installed (the audio extra; needs PortAudio): "
            "run make test again, or .venv/bin/pip install -e '.[audio]'"
        )


def test_voice_hears_a_spoken_turn_and_answers_through_the_speaker(simulator, tmp_path: Path) -> None:
    """`realtime-sync voice` on a sound card made of files (tests/support_audio.py)."""
    import queue
    import threading

    import numpy as np

    _require_pyaudio()
    from support_audio import FakeSoundCard, silence, tone

    home = os.environ.get("HOME")
    card = FakeSoundCard(tmp_path / "card")  # it points HOME at the card: only the child should see that
    if home is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = home
    card.start()
    lines: "queue.Queue[str]" = queue.Queue()
    process = subprocess.Popen(
        [sys.executable, "-m", "realtime_sync", "voice", "--url", simulator.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(HOME=str(card.home)),
        cwd=str(ROOT),
    )
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()

    def next_line(prefix: str, timeout: float = 30.0) -> str:
        while True:
            line = lines.get(timeout=timeout)
            if line.startswith(prefix):
                return line

    try:
        assert next_line("Listening").startswith("Listening: speak")
        card.say(np.concatenate([silence(0.3), tone(300, 1.0, amplitude=0.3), silence(1.2)]))
        assert "(inaudible: " in next_line("you (voice)> ")
        assert next_line("assistant> ").startswith("assistant> I heard you")
        heard = card.wait_played(lambda played: len(played) > 0 and int(np.abs(played).max()) > 1000, timeout=20)
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0, process.stderr.read()
        assert heard, "the reply's audio never reached the (fake) speaker"
    finally:
        end_process(process, reader)
        card.stop()


def test_events_takes_messages_from_standard_input(simulator) -> None:
    result = cli("events", "--text-only", "--url", simulator.url, stdin="Hello!\n\nWhat is new?\n")
    assert result.returncode == 0, result.stderr
    sent = [line for line in result.stdout.splitlines() if " conversation.item.create " in line]
    assert len(sent) == 2 and sent[0].endswith('user "Hello!"') and sent[1].endswith('user "What is new?"')
    assert sum(" response.done " in line for line in result.stdout.splitlines()) == 2


def test_model_voice_and_instructions_reach_the_session(simulator) -> None:
    result = cli(
        "events", "--json", "--text-only", "--url", simulator.url, "--say", "Hi",
        "--model", "gpt-4o-realtime-preview-2024-12-17", "--voice", "coral", "--instructions", "Be terse.",
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line)["event"] for line in result.stdout.splitlines()]
    created = next(e for e in events if e["type"] == "session.created")
    assert created["session"]["model"] == "gpt-4o-realtime-preview-2024-12-17"
    updated = [e for e in events if e["type"] == "session.updated"][-1]["session"]  # a GA session
    assert updated["audio"]["output"]["voice"] == "coral" and updated["instructions"] == "Be terse."
    assert updated["output_modalities"] == ["text"]


def test_without_the_server_extra_the_simulator_notice_says_what_to_install(tmp_path: Path) -> None:
    blocked = tmp_path / "websockets"
    blocked.mkdir()
    (blocked / "__init__.py").write_text('raise ImportError("websockets is blocked for this test")\n')
    result = run_python(["-m", "realtime_sync", "demo"], env=clean_env(PYTHONPATH=str(tmp_path)), timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("realtime-sync: error: no OPENAI_API_KEY is set")
    assert "pip install -e '.[server]' in the checkout" in first  # the package installs from a clone today


def test_ctrl_c_in_chat_exits_130_cleanly(simulator) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "realtime_sync", "chat", "--url", simulator.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=str(ROOT),
    )
    try:
        assert process.stdout.readline().startswith("Connected to ")
        assert signal_and_wait(process, signal.SIGINT) == 130
        assert "Traceback" not in process.stderr.read()
    finally:
        end_process(process)


def test_event_lines_summarise_each_kind_of_event() -> None:
    import base64

    from realtime_sync.cli.events import describe_event, format_event_line

    audio = base64.b64encode(b"\0\0" * 2400).decode()  # 100 ms of pcm16 at 24 kHz
    assert describe_event({"type": "response.audio.delta", "delta": audio}) == "100 ms audio"
    assert describe_event({"type": "input_audio_buffer.append", "audio": audio}) == "100 ms audio"
    assert describe_event({"type": "response.text.delta", "delta": "Hi\nthere"}) == '"Hi\\nthere"'
    long_text = describe_event({"type": "response.text.done", "text": "x" * 200})
    assert long_text.endswith('..."') and len(long_text) < 70
    assert describe_event(
        {"type": "response.function_call_arguments.done", "name": "f", "arguments": '{"a": 1}'}
    ) == 'f({"a": 1})'
    assert describe_event(
        {"type": "error", "error": {"type": "invalid_request_error", "code": "bad", "message": "nope"}}
    ) == "bad: nope"
    assert describe_event(
        {"type": "input_audio_buffer.speech_started", "item_id": "item_1", "audio_start_ms": 320}
    ) == "item_id=item_1 audio_start_ms=320"
    # events this program does not know pass through with their type
    line = format_event_line(
        {"time": "2024-10-01T12:00:00.250000+00:00", "source": "server",
         "event": {"type": "output_audio_buffer.started", "response_id": "resp_1"}}
    )
    assert re.match(r"^\d\d:\d\d:\d\d\.250 <- server output_audio_buffer\.started  response_id=resp_1$", line), line
    assert format_event_line({"time": "garbage", "source": "client", "event": {}}).endswith("-> client ?")


class GAProxy:
    """A GA-dialect front for a beta simulator: what OpenAI's live service looks like on the wire.

    It accepts connections without the ``OpenAI-Beta`` header (refusing those
    that send it, as OpenAI's GA endpoint ignores beta clients), translates
    each client frame from GA to beta and each server frame from beta to GA
    with :mod:`realtime_sync.dialects`, and relays them to the simulator.
    """

    def __init__(self, upstream_url: str) -> None:
        from websockets.sync.server import serve

        self.upstream_url = upstream_url
        self.beta_headers_seen: "list[str]" = []
        self.client_types: "list[str]" = []
        self.server_types: "list[str]" = []
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.url = "ws://127.0.0.1:%d" % self._server.socket.getsockname()[1]

    def __enter__(self) -> "GAProxy":
        import threading

        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def _handle(self, connection) -> None:  # type: ignore[no-untyped-def]
        import threading

        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        from realtime_sync import dialects

        beta = connection.request.headers.get("OpenAI-Beta")
        if beta:
            self.beta_headers_seen.append(beta)
        path = connection.request.path
        query = path[path.index("?"):] if "?" in path else ""
        with connect(self.upstream_url + query, additional_headers={"OpenAI-Beta": "realtime=v1"}) as upstream:

            def downstream() -> None:
                try:
                    for frame in upstream:
                        event = dialects.server_to_wire(json.loads(frame), "ga")
                        self.server_types.append(event["type"])
                        connection.send(json.dumps(event))
                except ConnectionClosed:
                    pass
                connection.close()

            relay = threading.Thread(target=downstream, daemon=True)
            relay.start()
            try:
                for frame in connection:
                    event = json.loads(frame)
                    self.client_types.append(event["type"])
                    upstream.send(json.dumps(dialects.client_from_wire(event, "ga")))
            except ConnectionClosed:
                pass
            upstream.close()
            relay.join(timeout=10)


def test_demo_speaks_the_ga_dialect_that_openai_requires(simulator) -> None:
    with GAProxy(simulator.url) as proxy:
        result = cli("demo", "--protocol", "ga", "--url", proxy.url, "--speed", "0", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[tool call] get_local_time(" in result.stdout
    assert "assistant> Here is what get_local_time returned: city Tokyo" in result.stdout
    assert "Demo finished: 3 messages, 1 tool call" in result.stdout
    assert proxy.beta_headers_seen == []  # no OpenAI-Beta header on a GA connection
    assert "conversation.item.added" in proxy.server_types  # the client got GA names...
    assert "response.output_text.delta" in proxy.server_types  # ...and understood them
    assert "session.update" in proxy.client_types


def test_events_shows_the_ga_wire_names(simulator) -> None:
    with GAProxy(simulator.url) as proxy:
        result = cli("events", "--protocol", "ga", "--text-only", "--say", "Hi", "--url", proxy.url)
    assert result.returncode == 0, result.stdout + result.stderr
    types = [line.split()[3] for line in result.stdout.splitlines()]
    for ga_name in ("conversation.item.added", "response.output_text.delta", "response.output_text.done"):
        assert ga_name in types, ga_name
    assert "response.text.delta" not in types


# -- issue 13: one-line errors, bad values, headers and proxies, the event log, simulate ----


def test_a_slow_reply_is_reported_on_its_own_line_and_the_chat_goes_on() -> None:
    """A reply slower than --timeout (a simulator at a fifth of real time) is given up on; the chat goes on."""
    result = subprocess.run(
        [sys.executable, "-m", "realtime_sync", "chat", "--timeout", "1.5", "--speed", "0.2"],
        input="Hello there\nSecond message\n",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, as on a terminal
        text=True,
        timeout=60,
        env=clean_env(),
        cwd=str(ROOT),
    )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 2, lines  # both messages were sent: the first timeout did not end the chat
    for line in errors:
        assert line.startswith("realtime-sync: error: no reply within 1.5 seconds"), lines
    assert not any("assistant>" in line and "error" in line for line in lines), lines
    assert "Traceback" not in result.stdout


BAD_VALUES = [
    (["chat", "--timeout", "-1"], "--timeout"),
    (["chat", "--timeout", "soon"], "--timeout"),
    (["demo", "--speed", "-2"], "--speed"),
    (["events", "--url", "ftp://example.com"], "--url"),
    (["chat", "--header", "no colon here"], "--header"),
    (["chat", "--proxy", "ftp://example.com:21"], "--proxy"),
    (["chat", "--proxy", "http://example.com:99999"], "--proxy"),
    (["simulate", "--port", "99999"], "--port"),
]

# One child process runs the command line's main() on every bad command line
# (as `python -m realtime_sync` does) and reports each exit code and stderr.
_USAGE_DRIVER = """
import contextlib, io, json, sys
from realtime_sync.__main__ import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    results.append({"code": code, "stderr": err.getvalue()})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def usage_errors() -> Dict[str, Any]:
    """What the command line says about each of BAD_VALUES (keyed by the joined argv), from one process."""
    argvs = [argv if "--url" in argv or argv[0] == "simulate" else [*argv, "--url", "ws://127.0.0.1:1"]
             for argv, _ in BAD_VALUES]
    result = run_python(["-c", _USAGE_DRIVER, json.dumps(argvs)], timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return {" ".join(argv): outcome for (argv, _), outcome in zip(BAD_VALUES, json.loads(result.stdout))}


@pytest.mark.parametrize("argv, option", BAD_VALUES)
def test_bad_values_are_usage_errors_in_argparse_words(usage_errors: Dict[str, Any], argv: List[str], option: str) -> None:
    outcome = usage_errors[" ".join(argv)]
    stderr = outcome["stderr"]
    assert outcome["code"] == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("realtime-sync %s: error: argument %s" % (argv[0], option)), stderr
    assert "usage: realtime-sync %s" % argv[0] in stderr
    assert "Traceback" not in stderr and "OverflowError" not in stderr


def test_simulate_is_the_simulators_own_program() -> None:
    """`realtime-sync simulate` and `python -m realtime_sync.simulator` take the same options."""
    ours = cli("simulate", "--help", timeout=30)
    theirs = run_python(["-m", "realtime_sync.simulator", "--help"], env=clean_env(), timeout=30)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert ours.stdout.startswith("usage: realtime-sync simulate ")
    assert theirs.stdout.startswith("usage: python -m realtime_sync.simulator ")

    def options(text: str) -> "list[str]":
        return sorted(set(re.findall(r"(?<![\w-])--[a-z][\w-]*", text)))

    assert options(ours.stdout) == options(theirs.stdout) and "--port" in options(ours.stdout)


def test_headers_reach_the_handshake() -> None:
    import threading

    from websockets.sync.server import serve

    seen: "list[dict[str, str]]" = []

    def handler(connection) -> None:  # type: ignore[no-untyped-def]
        seen.append({k.lower(): v for k, v in connection.request.headers.raw_items()})
        connection.close(1000, "")

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = "ws://127.0.0.1:%d" % server.socket.getsockname()[1]
            result = cli("events", "--url", url, "--say", "Hi", "--timeout", "5",
                         "--header", "api-key: azure-123", "--header", "X-Trace:abc")
        finally:
            server.shutdown()
            thread.join(timeout=10)
    assert result.returncode == 1  # the server closes at once: one error line
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert seen and seen[0].get("api-key") == "azure-123" and seen[0].get("x-trace") == "abc", seen


def test_proxy_and_headers_become_client_options_only_when_given() -> None:
    from realtime_sync.cli import build_parser
    from realtime_sync.cli.common import Backend, client_options

    backend = Backend("ws://127.0.0.1:1", simulated=True, description="test")
    plain = client_options(build_parser().parse_args(["chat"]), backend)
    assert "proxy" not in plain and "headers" not in plain  # clients without the keyword still work
    given = client_options(
        build_parser().parse_args(["chat", "--proxy", "http://proxy.local:3128", "--header", "A: 1"]), backend
    )
    assert given["proxy"] == "http://proxy.local:3128" and given["headers"] == {"A": "1"}


def test_a_proxy_that_refuses_is_named_in_the_one_line_error() -> None:
    port = closed_port()
    result = cli("chat", "--url", "ws://192.0.2.1:9/v1/realtime", "--proxy", "127.0.0.1:%d" % port, "--timeout", "5")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("realtime-sync: error: "), lines
    assert "proxy" in lines[0] and "127.0.0.1:%d" % port in lines[0], lines


def test_events_filters_by_type_with_globs(simulator) -> None:
    result = cli("events", "--text-only", "--url", simulator.url, "--say", "Hi",
                 "--type", "response.*", "--type", "session.created")
    assert result.returncode == 0, result.stderr
    types = [line.split()[3] for line in result.stdout.splitlines()]
    assert "session.created" in types and "response.done" in types and "response.output_text.delta" in types
    assert all(t.startswith("response.") or t == "session.created" for t in types), types
    as_json = cli("events", "--json", "--text-only", "--url", simulator.url, "--say", "Hi", "--type", "*.done")
    assert as_json.returncode == 0, as_json.stderr
    json_types = {json.loads(line)["event"]["type"] for line in as_json.stdout.splitlines()}
    assert json_types and all(t.endswith(".done") for t in json_types), json_types


def test_events_colour_by_source_only_when_asked_or_on_a_terminal(simulator) -> None:
    piped = cli("events", "--text-only", "--url", simulator.url, "--say", "Hi")
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout  # a pipe gets plain text
    coloured = cli("events", "--text-only", "--color", "always", "--url", simulator.url, "--say", "Hi")
    assert coloured.returncode == 0, coloured.stderr
    lines = coloured.stdout.splitlines()
    client_line = next(line for line in lines if "session.update" in line)
    server_line = next(line for line in lines if "session.created" in line)
    assert "\x1b[36m-> client" in client_line and "\x1b[32m<- server" in server_line
    assert "\x1b[" not in cli("events", "--text-only", "--url", simulator.url, "--say", "Hi", NO_COLOR="1").stdout


def test_the_event_log_folds_deltas_and_updates_a_terminal_in_place() -> None:
    import io

    from realtime_sync.cli.events import EventLog

    def record(source: str, **event: object) -> "dict[str, object]":
        return {"time": "2024-10-01T12:00:00.000000+00:00", "source": source, "event": event}

    out = io.StringIO()
    log = EventLog(out, live=True)
    log.write(record("server", type="response.text.delta", item_id="i1", delta="Hel"))
    log.write(record("server", type="response.text.delta", item_id="i1", delta="lo"))
    assert out.getvalue().endswith("response.text.delta x2")  # the status line, no newline yet
    log.write(record("server", type="response.text.done", item_id="i1", text="Hello"))
    lines = out.getvalue().split("\r\x1b[K")[-1].splitlines()
    assert lines[0].endswith('response.text.delta  "Hello" (2 deltas)')
    assert lines[1].endswith('response.text.done  "Hello"')
    piped = io.StringIO()
    log = EventLog(piped)
    log.write(record("server", type="response.audio.delta", item_id="i1", delta="AAAA" * 1200))
    log.write(record("client", type="response.cancel"))
    log.close()
    assert piped.getvalue().splitlines()[-1].endswith("response.audio.delta  75 ms audio (1 delta)")
    assert "\r" not in piped.getvalue()


def test_events_stops_quietly_when_its_reader_goes_away(simulator) -> None:
    command = "%s -m realtime_sync events --url %s --say Hi --say again | head -n 1" % (sys.executable, simulator.url)
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=60, env=clean_env(), cwd=str(ROOT)
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_events_on_a_terminal_is_coloured_and_folds_deltas_in_place(simulator) -> None:
    """Under a pseudo-terminal (what a user sees): colours by default, one status line rewritten in place."""
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "realtime_sync", "events", "--text-only", "--url", simulator.url, "--say", "Hi"],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=str(ROOT),
    )
    os.close(terminal)
    chunks = []
    try:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the program ended and closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        os.close(controller)
        end_process(process)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "\x1b[36m-> client" in screen and "\x1b[32m<- server" in screen  # coloured without --color
    assert re.search(r"\r\x1b\[K  \.\.\. response\.(output_)?text\.delta x\d", screen)  # a count rewritten in place
    assert re.search(r'response\.(output_)?text\.delta\x1b\[0m  "Hello! How can I help you today\?" \(\d+ deltas\)', screen)
