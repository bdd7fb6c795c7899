"""realtime_sync.devices through real PortAudio, on a sound card made of files.

Each scenario runs in a child Python (ALSA reads its configuration once per
process) against the fake card of ``support_audio.py``; these tests check
what came out: the audio the microphone delivered, the events the client
sent, and the audio the playback device consumed.

Where pyaudio cannot be imported the device tests skip, saying why, unless
``REALTIME_SYNC_REQUIRE_AUDIO=1`` (CI), which makes that a failure.
"""

from __future__ import annotations

import ctypes.util
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

from realtime_sync import audio, devices
from realtime_sync.devices import _portaudio
from realtime_sync.errors import ConfigurationError, RealtimeError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import support_audio as card  # noqa: E402


def _audio_stack_problem() -> str:
    if not sys.platform.startswith("linux"):
        return "the fake sound card is an ALSA configuration: Linux only"
    try:
        import pyaudio  # noqa: F401
    except ImportError as exc:
        return (
            f"pyaudio is not importable ({exc}): install PortAudio (apt-get install "
            "portaudio19-dev) and `pip install -e '.[audio]'`"
        )
    if not ctypes.util.find_library("asound"):
        return "libasound (ALSA) is not installed"
    return ""


@pytest.fixture(scope="module")
def audio_stack() -> None:
    problem = _audio_stack_problem()
    if problem:
        if os.environ.get("REALTIME_SYNC_REQUIRE_AUDIO") == "1":
            pytest.fail(f"REALTIME_SYNC_REQUIRE_AUDIO=1 but {problem}")
        pytest.skip(problem)


@pytest.fixture
def voice_stack(audio_stack: None) -> None:
    """The audio stack plus the simulator (the ``server`` extra's websockets)."""
    pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")


def _scenario(name: str, tmp_path: Path, **params: Any) -> Dict[str, Any]:
    params.setdefault("speed", 2.0)  # the fake card runs its clock at twice real time
    return card.run_scenario(name, tmp_path / name, timeout=90, **params)


# -- without a sound card ---------------------------------------------------------


def test_missing_pyaudio_names_the_extra_and_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # import pyaudio -> ImportError
    monkeypatch.setattr(_portaudio, "_pyaudio_module", None)
    for make in (devices.Microphone, devices.Speaker, devices.list_devices):
        with pytest.raises(devices.AudioUnavailableError) as info:
            obj = make()
            obj.start()  # type: ignore[union-attr]
        message = str(info.value)
        assert "realtime_sync[audio]" in message
        assert "portaudio19-dev" in message and "brew install portaudio" in message
        assert isinstance(info.value, ImportError) and isinstance(info.value, RealtimeError)


def test_bad_arguments_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        devices.Microphone(audio_format="mp3")
    with pytest.raises(ConfigurationError):
        devices.Microphone(chunk_ms=5)
    with pytest.raises(ConfigurationError):
        devices.Speaker(audio_format="opus")


def test_constructors_open_nothing() -> None:
    mic = devices.Microphone(chunk_ms=20)
    speaker = devices.Speaker()
    assert mic.device_info is None and speaker.device_info is None
    assert mic.chunk_samples == 480
    assert speaker.interrupt() is None
    assert speaker.samples_played("nope") == 0
    assert speaker.wait_until_done(0.01) is True
    mic.close()
    speaker.close()


# -- through PortAudio ----------------------------------------------------------------


def test_list_devices_and_device_errors(audio_stack: None, tmp_path: Path) -> None:
    result = _scenario("devices", tmp_path)
    default = [d for d in result["devices"] if d["name"] == "default"]
    assert default, result["devices"]
    assert default[0]["max_input_channels"] > 0 and default[0]["max_output_channels"] > 0
    assert default[0]["default_input"] and default[0]["default_output"]
    assert default[0]["host_api"] == "ALSA"
    errors = result["errors"]
    for key in ("mic_name", "mic_rate", "speaker_index"):
        name, _message, mro, seconds = errors[key]
        assert name == "AudioDeviceError" and "OSError" in mro and "RealtimeError" in mro
        assert seconds < 15  # fails at once, waits for nothing (a loaded machine is slow, not 15 s slow)
    assert "no-such-microphone" in errors["mic_name"][1] and "'default'" in errors["mic_name"][1]
    assert "1000000 Hz" in errors["mic_rate"][1]
    assert "999" in errors["speaker_index"][1]
    assert errors["mic_by_name"] is None  # "DEFAULT" matches "default", case-insensitively


def test_no_input_device_is_a_clear_error_and_leaves_nothing_running(audio_stack: None, tmp_path: Path) -> None:
    result = _scenario("no_input", tmp_path, capture=False)
    assert [d["max_input_channels"] for d in result["devices"]] == [0]
    name, message, seconds = result["microphone"]
    assert name == "AudioDeviceError" and "no input sound device" in message and seconds < 15
    assert result["voice_chat"][0] == "AudioDeviceError"
    assert result["threads"] == []  # the speaker VoiceChat had opened is closed again
    assert result["chat_devices"] == [True, True]


@pytest.mark.parametrize(
    "audio_format, device_rate",
    [("pcm16", 48000), ("pcm16", 44100), ("g711_ulaw", 48000)],
)
def test_captured_tone_arrives_intact(audio_stack: None, tmp_path: Path, audio_format: str, device_rate: int) -> None:
    result = _scenario(
        "capture", tmp_path, audio_format=audio_format, chunk_ms=40, freq=440, seconds=1.0, device_rate=device_rate
    )
    rate = audio.sample_rate(audio_format)
    assert result["said"] and result["rate"] == rate and result["device_rate"] == device_rate
    assert result["dtypes"] == ["int16"] and result["threads"] == ["realtime-sync-mic"]
    lengths = result["chunk_lengths"]
    assert result["chunk_samples"] == rate * 40 // 1000
    assert all(n == result["chunk_samples"] for n in lengths[:-1])
    assert 0 < lengths[-1] <= result["chunk_samples"]
    captured = card.load(tmp_path / "capture", "captured.raw")
    _assert_microphone_delivered_the_device_input(tmp_path / "capture", captured, audio_format, device_rate)
    _assert_tone(captured, rate, 440, 1.0, device_rate)


def _assert_microphone_delivered_the_device_input(
    directory: Path, delivered: np.ndarray, audio_format: str, device_rate: int
) -> None:
    """Every sample PortAudio handed the microphone, resampled, in order: nothing doubled or dropped."""
    rate = audio.sample_rate(audio_format)
    device_input = card.load(directory, "device_input.raw")
    expected = audio.resample(device_input, device_rate, rate)  # one call; the microphone streams
    assert len(delivered) == len(expected), (len(delivered), len(expected))
    if device_rate == rate:  # no resampling: exact, through the wire format's codec
        if audio_format != "pcm16":
            expected = audio.decode_audio(audio.encode_audio(expected, audio_format), audio_format)
        np.testing.assert_array_equal(delivered, expected)
    else:  # streaming and one-call resampling agree to rounding
        assert np.abs(delivered.astype(np.int32) - expected).max(initial=0) <= 1


def _assert_tone(samples: np.ndarray, rate: int, freq: float, seconds: float, device_rate: int) -> None:
    """The tone the card was told to say arrived: its length, pitch and (when the card did not convert
    rates) its exact shape. ALSA's rate conversion on the fake card can, under heavy CPU load, repeat
    a few ms of input before PortAudio hands it to us (the microphone is checked against that input
    above), so through it only a tone of about the right length and pitch is required."""
    span = card.active_span(samples, rate)
    assert span is not None, "no sound at all"
    start, end = span
    intact = device_rate == card.CARD_RATE
    assert abs((end - start) / rate - seconds) <= (0.01 if intact else 0.1), (start, end)
    assert abs(card.dominant_frequency(samples[start:end], rate) - freq) < (1.0 if intact else 2.0)
    if intact:  # a clean sine at the expected level, nothing doubled or dropped
        # (0.97, not 0.99: under heavy load the fake card's file plugin was seen to
        # smear a few ms even at its own rate, 0.982; what our code delivered is
        # checked sample for sample against the device's input above)
        _offset, score = card.align(samples, card.tone(freq, seconds, rate=rate))
        assert score > 0.97, score


@pytest.mark.parametrize("audio_format", ["pcm16", "g711_alaw"])
def test_microphone_streams_into_the_client(voice_stack: None, tmp_path: Path, audio_format: str) -> None:
    result = _scenario("capture_to_client", tmp_path, audio_format=audio_format, freq=600, seconds=0.5)
    rate = audio.sample_rate(audio_format)
    assert result["rate"] == rate
    assert result["appends"] > 5 and result["committed_samples"] == result["sent_samples"]
    sent = card.load(tmp_path / "capture_to_client", "wire.raw")  # the appends' audio, decoded
    _assert_microphone_delivered_the_device_input(tmp_path / "capture_to_client", sent, audio_format, result["device_rate"])
    _assert_tone(sent, rate, 600, 0.5, result["device_rate"])


def test_stop_delivers_the_last_partial_chunk(audio_stack: None, tmp_path: Path) -> None:
    result = _scenario("capture", tmp_path, audio_format="pcm16", chunk_ms=1000, freq=300, seconds=0.3, tail=0.3)
    lengths = result["chunk_lengths"]
    assert lengths and lengths[-1] < result["chunk_samples"]  # never a full second: only stop() sent it
    captured = card.load(tmp_path / "capture", "captured.raw")
    _assert_microphone_delivered_the_device_input(tmp_path / "capture", captured, "pcm16", result["device_rate"])
    _assert_tone(captured, 24000, 300, 0.3, result["device_rate"])


@pytest.mark.parametrize("device_rate", [None, 44100, 16000])
def test_speaker_plays_every_sample_and_counts_per_item(audio_stack: None, tmp_path: Path, device_rate: Any) -> None:
    result = _scenario("speaker", tmp_path, device_rate=device_rate)
    assert result["done"] is True
    assert result["device_rate"] == (device_rate or 24000)
    assert result["played"] == result["lengths"]  # in the items' 24 kHz units, whatever the device rate
    # play() queues and returns even while the device takes nothing; the speaker thread feeds the
    # device at the device's pace, and counts as played only what the device took
    assert result["play_returned_while_held"] is True, result
    assert result["busy_while_held"] is True and result["drained_while_held"] is False, result
    assert result["played_while_held"] < result["lengths"][2] // 2, result
    expected = card.load(tmp_path / "speaker", "expected.raw")
    played = card.load(tmp_path / "speaker", "played.raw")
    heard, score = _played_item(played, expected, 24000)
    assert score > 0.999, score  # resampled, not distorted: no gaps, repeats or clicks
    assert abs(heard - len(expected)) <= 3, (heard, len(expected))


def _played_item(played: np.ndarray, item: np.ndarray, item_rate: int) -> tuple:
    """Where the item's audio sits in the card's recording: (samples of it heard, correlation)."""
    reference = audio.resample(item, item_rate, card.CARD_RATE)
    offset, score = card.align(played, reference)
    heard = (len(played) - offset) * item_rate / card.CARD_RATE
    return heard, score


@pytest.mark.parametrize("audio_format", ["pcm16", "g711_ulaw"])
def test_spoken_turn_is_answered_through_the_speaker(voice_stack: None, tmp_path: Path, audio_format: str) -> None:
    result = _scenario("turn", tmp_path, reply="Hello there, friend.", speech_seconds=0.6, audio_format=audio_format)
    assert result["turn_detection"] == "server_vad"
    received = result["received"]
    for name in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "response.done"):
        assert name in received
    assert [c["role"] for c in result["completed"]] == ["user", "assistant"]
    rate = audio.sample_rate(audio_format)
    item = card.load(tmp_path / "turn", "item.raw")
    played = card.load(tmp_path / "turn", "played.raw")
    assert len(item) > rate  # "Hello there, friend." is about 1.3 s of speech
    assert result["samples_played"] == len(item)
    heard, score = _played_item(played, item, rate)
    assert score > 0.99, score
    assert abs(heard - len(item)) <= rate * 0.03, (heard, len(item))


@pytest.mark.parametrize(
    "audio_format, speaker_device_rate, sim_speed",
    [
        ("pcm16", None, None),  # the whole reply arrives at once: the speaker's queue is dropped
        ("g711_ulaw", 44100, None),  # 8 kHz items on a 44.1 kHz device
        ("pcm16", None, 2.0),  # the reply still streams (for 7.6 s): the response is cancelled too
    ],
)
def test_barge_in_stops_playback_and_truncates_where_it_stopped(
    voice_stack: None, tmp_path: Path, audio_format: str, speaker_device_rate: Any, sim_speed: Any
) -> None:
    # about 15 s of speech, so the reply is still playing when the interruption arrives even on a
    # machine so loaded that the barge-in takes seconds
    reply = (
        "This is a rather long answer that you will not hear to the end. It goes on and on about "
        "nothing in particular, sentence after sentence, so that there is always more of it left "
        "to play when somebody finally starts talking over it."
    )
    result = _scenario(
        "barge_in",
        tmp_path,
        reply=reply,
        interrupt_after=0.8,
        audio_format=audio_format,
        speaker_device_rate=speaker_device_rate,
        sim_speed=sim_speed,
        speed=1.0,  # the card at real time, slower than the reply streams in: the speaker never runs dry
    )
    rate = audio.sample_rate(audio_format)
    chunk = rate * result["chunk_ms"] // 1000
    item = card.load(tmp_path / "barge_in", "item.raw")  # all the audio the client received for it
    played = card.load(tmp_path / "barge_in", "played_final.raw")
    truncate = result["truncate"]
    assert truncate["item_id"] == result["item_id"] and truncate["content_index"] == 0
    assert truncate["audio_end_ms"] == result["samples_played"] * 1000 // rate
    truncated_samples = truncate["audio_end_ms"] * rate // 1000
    heard, score = _played_item(played, item, rate)
    assert score > 0.99, score
    # the truncate names what the device actually played, within one chunk. `played_final`
    # is read after the stream closed: audio the speaker handed over before the cut still
    # sounds on a real device (pyaudio cannot drop it), and closing flushes the fake one.
    assert abs(heard - truncated_samples) <= chunk, (heard, truncated_samples, chunk)
    # playback stopped: the reply was cut after the 0.8 s heard before the barge-in, long before its end
    from realtime_sync.simulator import synthesize_speech  # the server extra (voice_stack has it)

    full = len(synthesize_speech(reply, rate))  # the simulator's voice: the whole reply, had nobody spoken
    assert 0.8 * rate < heard < full - 3 * rate, (heard, full)
    assert result["is_playing_after"] is False
    # response.cancel goes out only while the response is still active
    assert result["cancels"] == (1 if sim_speed else 0)


def test_push_to_talk_sends_only_between_begin_and_end(voice_stack: None, tmp_path: Path) -> None:
    result = _scenario("push_to_talk", tmp_path, reply="Okay.", speech_seconds=0.5)
    assert result["turn_detection"] is None
    assert result["appended_before"] == 0
    sent = result["sent"]
    assert sent.count("input_audio_buffer.commit") == 1 and sent.count("response.create") == 1
    last_append = max(i for i, t in enumerate(sent) if t == "input_audio_buffer.append")
    assert sent.index("input_audio_buffer.commit") > last_append
    user = card.load(tmp_path / "push_to_talk", "user.raw")
    _assert_tone(user, 24000, 550, 0.5, result["mic_device_rate"])
    assert len(user) < 24000 * 1.0  # the 440 Hz tone spoken before begin_turn() is not in the turn
    item = card.load(tmp_path / "push_to_talk", "item.raw")
    played = card.load(tmp_path / "push_to_talk", "played.raw")
    heard, score = _played_item(played, item, 24000)
    assert score > 0.99 and abs(heard - len(item)) <= 24000 * 0.03


def test_devices_that_die_mid_stream_are_reported_without_hanging(audio_stack: None, tmp_path: Path) -> None:
    result = _scenario("unplug", tmp_path)
    # microphone: the capture clock stops with the device still open (reads block)
    assert result["mic_error_reported"], result
    assert result["mic_error"][0] == "AudioDeviceError" and "unplugged" in result["mic_error"][1]
    # not before stall_timeout (0.5 s) without audio, by the microphone's own clock
    idle = float(re.search(r"\(([0-9.]+) s without data\)", result["mic_error"][1]).group(1))  # type: ignore[union-attr]
    assert idle >= 0.5, result["mic_error"]
    assert result["mic_running_after_error"] is False
    assert result["mic_chunks"] >= 5  # the 0.2 s before the failure was delivered
    # close(timeout=1.0) returns although PortAudio is stuck for good (about 2 s: two 1 s waits)
    assert result["mic_close_seconds"] < 10
    # speaker: the playback device goes away while writing
    # wait_until_done(10) raised: woken by the failure, not by its timeout (which returns False)
    assert result["speaker_wait"][0] == "AudioDeviceError", result["speaker_wait"]
    assert result["play_after_error"] == "AudioDeviceError"
    assert result["speaker_close_seconds"] < 10  # close(timeout=1.0) with the device gone


def test_voice_chat_sample_answers_a_spoken_turn(voice_stack: None, tmp_path: Path, simulator: Any) -> None:
    import subprocess

    sample = Path(__file__).resolve().parent.parent / "samples" / "voice_chat.py"
    sound = card.FakeSoundCard(tmp_path / "card", speed=4.0, set_home=False)
    sound.start()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "REALTIME_SYNC_URL")}
    env.update(HOME=str(sound.home), REALTIME_SYNC_URL=simulator.url, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(sample), "--turns", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Listening"):
                break
        sound.say(np.concatenate([card.silence(0.2), card.tone(440, 0.6, amplitude=0.3), card.silence(1.0)]))
        out, err = proc.communicate(timeout=60)
        sound.wait_playback_quiet(0.2, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sound.stop()
    out = "".join(lines) + out
    assert proc.returncode == 0, (out, err)
    assert "Microphone: default. Speaker: default." in out
    assert "\nyou: " in out
    answer = [line for line in out.splitlines() if line.startswith("assistant: ")]
    assert answer and "simulator" in answer[0], out
    played = sound.played()
    span = card.active_span(played, card.CARD_RATE, threshold=0.01)
    assert span is not None
    # the spoken answer (about 5.6 s of synthetic speech) came out of the speaker
    assert (span[1] - span[0]) / card.CARD_RATE > 4.0
