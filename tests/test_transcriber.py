"""Transcription sessions: the simulator's GA ``session.type: "transcription"``, RealtimeTranscriber, the CLI.

The simulator's side is driven over a raw websocket-client connection, every
frame checked against ``openai.types.realtime`` (server events with
``RealtimeServerEvent``, client events with ``RealtimeClientEvent``, fields
the models do not declare refused). The transcriber's frames are checked the
same way through its ``client.*`` events.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import threading
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
from support_client import RawConnection
from support_ga import GaModels as Models

from realtime_sync import audio
from realtime_sync.errors import (
    ConfigurationError,
    ConnectionClosedError,
    HandshakeError,
    NotConnectedError,
    ServerError,
)
from realtime_sync.transcriber import RealtimeTranscriber, Utterance

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")

RATE = 24000


def tone(seconds: float, level: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.round(np.sin(2 * np.pi * 220 * t) * level * 32767).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


#: two turns of "speech": 1.0 s from 0.5 s, 0.6 s from 2.3 s (then 1.5 s of silence)
SPEECH = np.concatenate([silence(0.5), tone(1.0), silence(0.8), tone(0.6), silence(1.5)])


class Conn(RawConnection):
    """A raw connection to a transcription session: validates everything in both directions."""

    def __init__(self, url: str, models: Models, query: str = "?intent=transcription") -> None:
        super().__init__(url + "/v1/realtime" + query, models.server_event)
        self.models = models
        self.session = self.expect("session.created")["session"]
        self.expect("conversation.created")

    def send(self, event_type: str, *, check: bool = True, **fields: Any) -> None:
        event = {"type": event_type, **fields}
        if check:
            self.models.client_event(event)
        self.ws.send(json.dumps(event))

    def update(self, **session: Any) -> Dict[str, Any]:
        self.send("session.update", session={"type": "transcription", **session})
        return self.recv()

    def append(self, samples: np.ndarray) -> None:
        for start in range(0, len(samples), RATE // 10):
            self.send("input_audio_buffer.append", audio=audio.pcm16_to_base64(samples[start : start + RATE // 10]))


# -- the simulator's transcription sessions -------------------------------------------


def test_intent_transcription_opens_a_transcription_session(make_simulator: Any, models: Models) -> None:
    sim = make_simulator()
    conn = Conn(sim.url, models)
    try:
        session = conn.session
        assert session["type"] == "transcription" and session["object"] == "realtime.transcription_session"
        assert session["id"].startswith("sess_") and isinstance(session["expires_at"], int)
        assert session["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert set(session) == {"type", "object", "id", "expires_at", "audio", "include"}
    finally:
        conn.close()


def test_vad_segments_speech_and_streams_deltas_then_completed_with_logprobs(make_simulator: Any, models: Models) -> None:
    sim = make_simulator(transcriber=["hello there", "good bye"])
    conn = Conn(sim.url, models)
    try:
        updated = conn.update(
            audio={
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en", "prompt": "greetings"},
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                }
            },
            include=["item.input_audio_transcription.logprobs"],
        )
        assert updated["type"] == "session.updated"
        given = updated["session"]["audio"]["input"]
        assert given["transcription"] == {"model": "gpt-4o-mini-transcribe", "language": "en", "prompt": "greetings"}
        assert given["noise_reduction"] == {"type": "near_field"}
        assert given["turn_detection"]["silence_duration_ms"] == 300
        assert updated["session"]["include"] == ["item.input_audio_transcription.logprobs"]

        conn.append(SPEECH)
        first = conn.until("conversation.item.input_audio_transcription.completed")
        kinds = [e["type"] for e in first]
        assert kinds[:5] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        item_id = first[0]["item_id"]
        assert all(e.get("item_id", e.get("item", {}).get("id")) == item_id for e in first)
        assert first[0]["audio_start_ms"] == 200  # speech at 500 ms, less the 300 ms prefix padding
        assert first[1]["audio_end_ms"] == 1800  # speech end at 1500 ms plus 300 ms of silence
        deltas = [e for e in first if e["type"].endswith(".delta")]
        assert "".join(d["delta"] for d in deltas) == "hello there"
        assert all(d["logprobs"] and d["logprobs"][0]["bytes"] for d in deltas)
        completed = first[-1]
        assert completed["transcript"] == "hello there"
        assert [p["token"] for p in completed["logprobs"]] == ["hello", " there"]
        assert completed["usage"]["type"] == "tokens" and completed["usage"]["output_tokens"] == 2

        second = conn.until("conversation.item.input_audio_transcription.completed")
        assert second[-1]["transcript"] == "good bye"
        assert second[2]["previous_item_id"] == item_id  # committed, after the first turn
    finally:
        conn.close()


def test_a_failed_transcription_and_manual_commits(make_simulator: Any, models: Models) -> None:
    sim = make_simulator(transcriber=[None, "second"])
    conn = Conn(sim.url, models)
    try:
        conn.update(audio={"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}})
        conn.append(tone(0.5))
        conn.send("input_audio_buffer.commit")
        events = conn.until("conversation.item.input_audio_transcription.failed")
        assert [e["type"] for e in events][0] == "input_audio_buffer.committed"
        assert events[-1]["error"]["code"] == "audio_unintelligible" and events[-1]["error"]["message"]
        conn.append(tone(0.3))
        conn.send("input_audio_buffer.commit")
        done = conn.until("conversation.item.input_audio_transcription.completed")[-1]
        assert done["transcript"] == "second"
        assert done["usage"] == {"type": "duration", "seconds": 0.3}  # whisper-1 bills by duration
        assert "logprobs" not in done  # not included
    finally:
        conn.close()


@pytest.mark.parametrize(
    "session, code, param",
    [
        ({"audio": {"input": {"transcription": {"model": "gpt-realtime"}}}}, "invalid_value",
         "session.audio.input.transcription.model"),
        ({"audio": {"input": {"transcription": {"model": "gpt-4o-transcribe", "temperature": 1}}}}, "unknown_parameter",
         "session.audio.input.transcription.temperature"),
        ({"instructions": "be brief"}, "unknown_parameter", "session.instructions"),
        ({"audio": {"output": {"voice": "marin"}}}, "unknown_parameter", "session.audio.output"),
        ({"include": ["everything"]}, "invalid_value", "session.include[0]"),
        ({"audio": {"input": {"transcription": {"model": "gpt-realtime-whisper"}}}}, "invalid_value",
         "session.audio.input.turn_detection"),
        ({"audio": {"input": {"noise_reduction": {"type": "studio"}}}}, "invalid_value",
         "session.audio.input.noise_reduction.type"),
    ],
)
def test_bad_transcription_settings_get_the_live_error_shape(
    make_simulator: Any, models: Models, session: Dict[str, Any], code: str, param: str
) -> None:
    sim = make_simulator()
    conn = Conn(sim.url, models)
    try:
        conn.send("session.update", check=False, event_id="evt_bad1", session={"type": "transcription", **session})
        error = conn.expect("error")["error"]
        assert error["type"] == "invalid_request_error"
        assert (error["code"], error["param"], error["event_id"]) == (code, param, "evt_bad1")
        assert error["message"]
        # nothing changed: the session still works
        assert conn.update()["session"]["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
    finally:
        conn.close()


def test_a_transcription_session_refuses_realtime_settings_and_responses(make_simulator: Any, models: Models) -> None:
    sim = make_simulator()
    conn = Conn(sim.url, models)
    try:
        conn.send("session.update", session={"type": "realtime", "instructions": "hi"})
        error = conn.expect("error")["error"]
        assert (error["code"], error["param"]) == ("invalid_value", "session.type")
        assert "intent=transcription" in error["message"]
        conn.send("response.create")
        error = conn.expect("error")["error"]
        assert error["param"] == "type" and "transcription session" in error["message"]
    finally:
        conn.close()
    # and a conversation session refuses a transcription update, as the live service does
    conn = Conn(sim.url, models, query="")
    try:
        assert conn.session["type"] == "realtime"
        conn.send("session.update", session={"type": "transcription"})
        error = conn.expect("error")["error"]
        assert (error["code"], error["param"]) == ("invalid_value", "session.type")
    finally:
        conn.close()


# -- RealtimeTranscriber ---------------------------------------------------------------


def checked(transcriber: RealtimeTranscriber, models: Models) -> List[Dict[str, Any]]:
    """Validate every client event the transcriber writes; returns the list they are kept in."""
    sent: List[Dict[str, Any]] = []

    def check(event: Dict[str, Any]) -> None:
        models.client_event(event)
        sent.append(event)

    transcriber.api.on("client.*", check)
    return sent


def test_the_url_asks_for_a_transcription_session_and_no_model() -> None:
    from support_ws import FixtureServer

    with FixtureServer(reject_status=503, reject_body={"error": {"message": "no"}}) as server:
        transcriber = RealtimeTranscriber(server.url)
        with pytest.raises(HandshakeError):
            transcriber.connect(timeout=5)
    (handshake,) = server.handshakes
    assert handshake.path.endswith("?intent=transcription"), handshake.path
    assert "openai-beta" not in {name.lower() for name in handshake.headers}


def test_utterances_stream_through_callbacks_and_the_iterator(make_simulator: Any, models: Models) -> None:
    sim = make_simulator(transcriber=["hello there", None])
    seen: List[str] = []
    with RealtimeTranscriber(sim.url, language="en", prompt="names", include_logprobs=True, keep_audio=True) as stt:
        sent = checked(stt, models)
        assert stt.session is not None and stt.session["audio"]["input"]["transcription"]["language"] == "en"
        stt.on("utterance.started", lambda e: seen.append("started"))
        stt.on("utterance.delta", lambda e: seen.append("delta:" + e["delta"]))
        stt.on("utterance.completed", lambda e: seen.append("completed:" + e["utterance"].text))
        stt.on("utterance.failed", lambda e: seen.append("failed:" + e["error"]["code"]))
        stt.append_audio(audio.pcm16_to_float(SPEECH[: RATE * 2]))  # floats are accepted too
        stt.append_audio(SPEECH[RATE * 2 :])
        first, second = itertools.islice(stt.utterances(timeout=5), 2)
        assert [e["type"] for e in sent] == ["input_audio_buffer.append"] * 2
    assert seen == ["started", "delta:hello ", "delta:there", "completed:hello there", "started", "failed:audio_unintelligible"]
    assert isinstance(first, Utterance) and first.item_id.startswith("item_")
    assert (first.text, first.status, first.start_ms, first.end_ms) == ("hello there", "completed", 200, 2000)
    assert [p["token"] for p in first.logprobs or []] == ["hello", " there"]
    assert first.audio is not None and len(first.audio) == RATE * 1800 // 1000
    assert np.array_equal(first.audio, SPEECH[RATE * 200 // 1000 : RATE * 2000 // 1000])
    assert second.failed and second.error and second.text == "" and second.previous_item_id == first.item_id
    assert _client_threads() == []


def _client_threads() -> List[str]:
    """Names of live threads the client side started (the receive thread, a microphone...)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("realtime-sync") and "-sim" not in t.name]


def test_transcribe_file_returns_the_utterances_in_order(make_simulator: Any, models: Models, tmp_path: Path) -> None:
    sim = make_simulator(transcriber=["one", "two"])
    path = tmp_path / "speech.wav"
    audio.write_wav(path, audio.resample(SPEECH[: int(RATE * 2.9)], RATE, 16000), 16000)  # ends mid-speech
    with RealtimeTranscriber(sim.url, turn_detection={"type": "semantic_vad", "eagerness": "high"}) as stt:
        sent = checked(stt, models)
        utterances = stt.transcribe_file(path, timeout=10)
        assert [u.text for u in utterances] == ["one", "two"]
        assert all(u.start_ms is not None and u.end_ms is not None for u in utterances)
        assert utterances[1].start_ms > utterances[0].end_ms  # type: ignore[operator]
        assert stt.wait_for_utterance(timeout=0.05) is None  # not yielded again
        assert {e["type"] for e in sent} >= {"input_audio_buffer.append", "session.update"}


def test_manual_turns_are_committed_by_the_caller(make_simulator: Any, models: Models) -> None:
    sim = make_simulator(transcriber=["first", "second"])
    with RealtimeTranscriber(sim.url, model="whisper-1", turn_detection=None) as stt:
        sent = checked(stt, models)
        stt.append_audio(tone(0.5))
        stt.commit()
        stt.append_audio(tone(0.25, 0.1), rate=RATE)
        stt.commit()
        got = [stt.wait_for_utterance(timeout=5) for _ in range(2)]
        assert [e["type"] for e in sent].count("input_audio_buffer.commit") == 2
    assert [(u.text, u.start_ms, u.end_ms) for u in got if u] == [("first", 0, 500), ("second", 500, 750)]


def test_a_timeout_ends_the_iteration_and_wait_returns_none(make_simulator: Any) -> None:
    sim = make_simulator()
    with RealtimeTranscriber(sim.url) as stt:
        assert list(stt.utterances(timeout=0.05)) == []
        assert stt.wait_for_utterance(timeout=0.01) is None


def test_a_connection_that_ends_fails_the_iterator(make_simulator: Any) -> None:
    sim = make_simulator(transcriber=["kept"])
    stt = RealtimeTranscriber(sim.url).connect(timeout=5)
    done = threading.Event()
    stt.on("utterance.completed", lambda e: done.set())  # before the audio: it may be transcribed at once
    stt.append_audio(SPEECH[: RATE * 2])
    assert done.wait(5)
    closed = threading.Event()
    stt.on("close", lambda e: closed.set())
    sim.drop_connections()
    assert closed.wait(5)
    iterator = stt.utterances(timeout=5)
    assert next(iterator).text == "kept"  # what finished before the end is still given
    with pytest.raises(ConnectionClosedError):
        next(iterator)
    stt.close()
    assert not stt.is_connected() and _client_threads() == []


def test_waiting_from_a_callback_or_unconnected_is_refused(make_simulator: Any) -> None:
    stt = RealtimeTranscriber(make_simulator(transcriber=["x"]).url)
    with pytest.raises(NotConnectedError):
        stt.wait_for_utterance(timeout=0.01)
    problems: List[BaseException] = []

    def wait_here(event: Dict[str, Any]) -> None:
        try:
            stt.wait_for_utterance(timeout=1)
        except RuntimeError as exc:
            problems.append(exc)

    with stt.connect(timeout=5):
        stt.on("utterance.started", wait_here)
        stt.append_audio(SPEECH[: RATE * 2])
        assert stt.wait_for_utterance(timeout=5) is not None
    assert len(problems) == 1 and "callback" in str(problems[0])


def test_bad_settings_are_refused_clearly(make_simulator: Any) -> None:
    with pytest.raises(ConfigurationError, match="conversation model"):
        RealtimeTranscriber(model="gpt-realtime")
    with pytest.raises(ConfigurationError, match="noise_reduction"):
        RealtimeTranscriber(noise_reduction="loud")
    with pytest.raises(ConfigurationError, match="turn_detection"):
        RealtimeTranscriber(turn_detection={"type": "push_to_talk"})
    sim = make_simulator()
    for stt, param in (
        (RealtimeTranscriber(sim.url, model="whisper-2"), "session.audio.input.transcription.model"),
        (RealtimeTranscriber(sim.url, session={"audio": {"input": {"echo": True}}}), "session.audio.input.echo"),
    ):
        with pytest.raises(ServerError) as caught:
            stt.connect(timeout=5)
        assert caught.value.error["param"] == param
        assert "transcription session was refused" in str(caught.value) and param in str(caught.value)
        assert not stt.is_connected()
    assert _client_threads() == []


# -- the command line -------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _cli_args(*argv: str) -> argparse.Namespace:
    from realtime_sync.cli.main import build_parser

    args = build_parser().parse_args(["transcribe", *argv])
    args.server_errors = []
    return args


def test_cli_transcribes_a_file_with_live_captions(
    make_simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realtime_sync.cli.transcribe import run_transcribe

    sim = make_simulator(transcriber=["hello there", None])
    path = tmp_path / "speech.wav"
    audio.write_wav(path, SPEECH, RATE)
    out, err = Terminal(), io.StringIO()
    code = run_transcribe(_cli_args(str(path), "--url", sim.url, "--timestamps"), stdin=io.StringIO(), out=out, err=err)
    assert code == 0
    text = out.getvalue()
    assert "\r\x1b[K[0:00.20-0:02.00] hello \r\x1b[K[0:00.20-0:02.00] hello there\r\x1b[K" in text
    lines = [line.rsplit("\x1b[K", 1)[-1] for line in text.split("\n") if line]
    assert lines == [
        "[0:00.20-0:02.00] hello there",
        "[0:02.00-0:03.40] [transcription failed: The audio could not be transcribed.]",
    ]


def test_cli_without_a_key_uses_the_simulator_and_prints_final_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from realtime_sync.cli.main import main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("REALTIME_SYNC_URL", raising=False)
    path = tmp_path / "speech.wav"
    audio.write_wav(path, SPEECH, RATE)
    assert main(["transcribe", str(path), "--model", "gpt-4o-mini-transcribe", "--logprobs"]) == 0
    captured = capsys.readouterr()
    assert "using the built-in simulator" in captured.err
    lines = captured.out.splitlines()
    assert len(lines) == 2 and "\r" not in captured.out
    assert lines[0].startswith("(inaudible: 1.8 seconds of speech)  (mean logprob ")
    assert main(["transcribe", str(path), "--model", "whisper-2"]) == 1
    assert "session.audio.input.transcription.model" in capsys.readouterr().err


def test_cli_transcribe_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from realtime_sync.cli.main import main

    with pytest.raises(SystemExit):
        main(["transcribe", "--help"])
    assert "microphone" in capsys.readouterr().out



class FakeMicrophone:
    """Stands in for ``realtime_sync.devices.Microphone``: its worker thread delivers SPEECH in 40 ms chunks."""

    made: List["FakeMicrophone"] = []

    def __init__(self, device: Any = None, *, callback: Any, **options: Any) -> None:
        self.device, self.callback, self.options = device, callback, options
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._work, name="realtime-sync-mic")
        FakeMicrophone.made.append(self)

    def start(self) -> None:
        self.thread.start()

    def _work(self) -> None:
        step = RATE * 40 // 1000
        for start in range(0, len(SPEECH), step):
            if self.stopped.is_set():
                return
            self.callback(SPEECH[start : start + step])

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)


@pytest.fixture
def fake_microphone(monkeypatch: pytest.MonkeyPatch) -> Any:
    import realtime_sync.devices

    FakeMicrophone.made = []
    monkeypatch.setattr(realtime_sync.devices, "Microphone", FakeMicrophone)
    return FakeMicrophone


def test_listen_feeds_the_microphone_into_the_session(make_simulator: Any, fake_microphone: Any) -> None:
    sim = make_simulator(transcriber=["from the microphone", "again"])
    with RealtimeTranscriber(sim.url) as stt:
        microphone = stt.listen("USB", chunk_ms=40)
        assert (microphone.device, microphone.options) == ("USB", {"chunk_ms": 40})
        with pytest.raises(ConfigurationError):
            stt.listen()
        got = [u.text for u in itertools.islice(stt.utterances(timeout=5), 2)]
        assert stt.wait_for_utterance(timeout=0.2) is None  # the microphone's speech made two, no more
    assert got == ["from the microphone", "again"]
    assert microphone.stopped.is_set() and not microphone.thread.is_alive()  # disconnect() closed it
    assert _client_threads() == []


def test_cli_without_a_file_listens_until_enter(make_simulator: Any, fake_microphone: Any) -> None:
    from realtime_sync.cli.transcribe import run_transcribe

    sim = make_simulator(transcriber=["one", "two"])
    finished = threading.Event()

    class Keyboard(io.StringIO):
        def readline(self, *args: Any) -> str:  # Enter, once both captions are out
            assert finished.wait(10)
            return "\n"

    class Screen(io.StringIO):
        def write(self, text: str) -> int:
            result = super().write(text)
            if self.getvalue().count("\n") == 2:
                finished.set()
            return result

    out, err = Screen(), io.StringIO()
    args = _cli_args("--url", sim.url, "--input-device", "2", "--vad", "semantic")
    assert run_transcribe(args, stdin=Keyboard(), out=out, err=err) == 0
    assert out.getvalue().splitlines() == ["one", "two"]
    assert "Press Enter to stop" in err.getvalue()
    assert fake_microphone.made[0].device == 2 and fake_microphone.made[0].stopped.is_set()


def test_commits_with_vad_keep_the_speech_start_and_a_refused_commit_shifts_nothing(make_simulator: Any) -> None:
    sim = make_simulator(transcriber=["cut short", "later"])
    errors: List[Any] = []
    with RealtimeTranscriber(sim.url) as stt:
        stt.on("error", lambda e: errors.append(e["error"]))
        stt.commit()  # nothing buffered: the server refuses it
        stt.append_audio(np.concatenate([silence(0.5), tone(0.6)]))  # speech still going on...
        stt.commit()  # ...ended here
        first = stt.wait_for_utterance(timeout=5)
        stt.append_audio(np.concatenate([silence(0.5), tone(0.5), silence(1.0)]))
        second = stt.wait_for_utterance(timeout=5)
    assert [e.code for e in errors] == ["input_audio_buffer_commit_empty"]
    assert first is not None and (first.text, first.start_ms, first.end_ms) == ("cut short", 200, 1100)
    assert second is not None and (second.text, second.start_ms, second.end_ms) == ("later", 1300, 2600)


def test_chunks_at_another_rate_are_resampled_as_one_stream(make_simulator: Any) -> None:
    sim = make_simulator(transcriber=["resampled"])
    source = audio.resample(tone(0.5), RATE, 16000)
    with RealtimeTranscriber(sim.url, turn_detection=None, keep_audio=True) as stt:
        for start in range(0, len(source), 320):  # 20 ms chunks at 16 kHz
            stt.append_audio(source[start : start + 320], rate=16000)
        stt.commit()  # sends what the resampler held back first
        utterance = stt.wait_for_utterance(timeout=5)
    assert utterance is not None and utterance.audio is not None
    whole = audio.resample(source, 16000, RATE)
    assert len(utterance.audio) == len(whole) and (utterance.start_ms, utterance.end_ms) == (0, 500)
    assert np.max(np.abs(utterance.audio.astype(int) - whole.astype(int))) <= 1  # no seams at the chunk edges


def test_the_iterator_hands_out_an_utterance_after_its_callbacks_ran(make_simulator: Any) -> None:
    sim = make_simulator(transcriber=["a", None, "c"])
    called: List[str] = []
    release = threading.Event()

    def slow_callback(event: Dict[str, Any]) -> None:  # receive thread: holds the utterance back
        assert release.wait(5)
        called.append(event["utterance"].item_id)

    with RealtimeTranscriber(sim.url) as stt:
        stt.on("utterance.completed", slow_callback)
        stt.on("utterance.failed", slow_callback)
        stt.append_audio(np.concatenate([SPEECH, SPEECH[: int(RATE * 1.5)], silence(1.0)]))  # three turns
        assert stt.wait_for_utterance(timeout=0.2) is None  # held back by the callback
        release.set()
        handed_out = []
        for utterance in stt.utterances(timeout=5):
            assert utterance.item_id in called
            handed_out.append(utterance.text)
            if len(handed_out) == 3:
                break
    assert handed_out == ["a", "", "c"]
