"""Run every sample in samples/ as a program, against the simulator, and check what it prints."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from support_docs import SAMPLES, NoDisplay, clean_env, end_process, run_python, signal_and_wait, xvfb_display

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")


def run_sample(name: str, *args: str, timeout: float = 60.0, **env: str) -> str:
    """Run a sample in an empty directory; it must succeed and leave the directory empty."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        result = run_python([str(SAMPLES / name), *args], timeout=timeout, env=clean_env(**env), cwd=Path(folder))
        assert result.returncode == 0, "%s failed (%s):\n%s\n%s" % (name, result.returncode, result.stdout, result.stderr)
        assert list(Path(folder).iterdir()) == [], "%s wrote into the current directory" % name
    return result.stdout


def test_hello_prints_the_reply_from_the_embedded_simulator() -> None:
    result = run_python([str(SAMPLES / "hello.py")], timeout=60)
    assert result.returncode == 0, result.stderr
    assert "using the built-in simulator" in result.stderr
    reply = result.stdout.strip()
    assert reply.startswith("assistant: ")
    assert "How can I help you" in reply


def test_hello_uses_the_server_named_by_realtime_sync_url(simulator) -> None:
    out = run_sample("hello.py", REALTIME_SYNC_URL=simulator.url)
    assert out.startswith("assistant: Hello!")


def test_streaming_prints_deltas_as_they_arrive() -> None:
    out = run_sample("streaming.py", "Where do deltas come from?")
    lines = out.splitlines()
    assert lines[0] == "you: Where do deltas come from?"
    assert lines[1].startswith("assistant: ") and "Where do deltas come from?" in lines[1]
    assert lines[2].startswith("[completed] ") and " completed: " in lines[2]
    count = int(lines[-1].strip("[]").split()[0])
    assert count > 1, "the reply should arrive in several text deltas"


def test_tools_runs_the_python_function_and_answers_with_its_result() -> None:
    out = run_sample("tools.py", "word stats for: one fish two fish red fish blue fish")
    assert '[tool call] word_stats({"text": ' in out
    assert '[tool output] {"words": ' in out
    assert "fish (4)" in out
    answer = [line for line in out.splitlines() if line.startswith("assistant: ")]
    assert answer and "fish (4)" in answer[0], out


def test_audio_file_generates_input_and_saves_a_spoken_reply(tmp_path: Path) -> None:
    output = tmp_path / "reply.wav"
    out = run_sample("audio_file.py", "--output", str(output))
    assert "generated input: " in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reply.wav"]  # the question stays in memory
    assert "heard: " in out and "assistant said: " in out
    with wave.open(str(output), "rb") as wav:
        assert wav.getframerate() == 24000 and wav.getnchannels() == 1 and wav.getsampwidth() == 2
        frames = wav.getnframes()
    assert frames > 24000 * 0.5, "the reply should hold at least half a second of audio"
    assert "saved %.2f s of reply audio" % (frames / 24000) in out


def test_audio_file_accepts_a_given_wav_at_another_rate(tmp_path: Path) -> None:
    import numpy as np

    from realtime_sync.audio import write_wav

    source = tmp_path / "mine.wav"
    t = np.arange(16000) / 16000.0
    write_wav(str(source), np.round(np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16), 16000)
    out = run_sample("audio_file.py", str(source), "--output", str(tmp_path / "out.wav"))
    assert "generated input" not in out
    assert "input: 1.00 s of audio (16000 Hz in the file)" in out
    assert (tmp_path / "out.wav").stat().st_size > 44


def test_history_seeds_earlier_turns_and_continues() -> None:
    out = run_sample("history.py")
    assert out.startswith("assistant: ")
    listing = out.split("conversation:")[1].strip().splitlines()
    roles = [line.split()[0] for line in listing]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert "My name is Ada" in listing[0]
    assert "Which way should I travel, then?" in listing[4]


def test_audio_file_writes_nothing_in_the_current_directory(tmp_path: Path) -> None:
    result = run_python([str(SAMPLES / "audio_file.py")], timeout=60, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    saved = Path(re.search(r"saved [\d.]+ s of reply audio to (.+)$", result.stdout, re.M).group(1))
    try:
        assert saved.name == "reply.wav" and saved.stat().st_size > 44
        assert tmp_path not in saved.parents
    finally:
        shutil.rmtree(saved.parent)


def test_transcribe_prints_each_utterance_as_it_streams_then_its_span() -> None:
    out = run_sample("transcribe.py", "--logprobs")
    lines = out.splitlines()
    assert lines[0].startswith("generated input: ")
    utterances = [line for line in lines if line.startswith("[utterance ")]
    assert len(utterances) == 2, out
    assert re.match(r"\[utterance 1\] \d+-\d+ ms '\(inaudible: [\d.]+ seconds of speech\)'$", utterances[0]), out
    assert lines.count("(inaudible: 1.8 seconds of speech)") == 1  # the deltas, printed as they came
    assert sum(line.startswith("  tokens: ") for line in lines) == 2


def test_desktop_app_has_help() -> None:
    pytest.importorskip("tkinter")
    result = run_python([str(SAMPLES / "desktop_app.py"), "--help"], timeout=60, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: desktop_app.py")


def test_desktop_app_without_a_display_says_so_in_one_line() -> None:
    pytest.importorskip("tkinter")
    env = clean_env()
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    result = run_python([str(SAMPLES / "desktop_app.py")], timeout=60, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("desktop_app: cannot open a window"), result.stderr
    assert "set DISPLAY" in lines[0]


def test_desktop_app_exits_quietly_on_ctrl_c(tmp_path: Path) -> None:
    pytest.importorskip("tkinter")
    try:
        with xvfb_display() as display:
            process = subprocess.Popen(
                [sys.executable, str(SAMPLES / "desktop_app.py")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=clean_env(DISPLAY=display),
                cwd=str(tmp_path),
            )
            try:
                assert process.stdout is not None and process.stderr is not None
                assert process.stdout.readline().startswith("desktop_app: window open")
                assert signal_and_wait(process, signal.SIGINT) == 130
                stderr = process.stderr.read()
                assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
            finally:
                end_process(process)
    except NoDisplay as exc:
        pytest.skip(str(exc))


def test_record_replay_records_replays_and_shows_a_divergence(tmp_path: Path) -> None:
    from support_docs import ROOT

    kept = tmp_path / "kept.jsonl"
    out = run_sample("record_replay.py", "--keep", str(kept), PYTHONPATH=str(ROOT))
    lines = out.splitlines()
    assert lines[0].startswith("recorded 4 messages to a recording of ")
    assert lines[1:3] == ["user: Hello!", "assistant: Hello! How can I help you today?"]
    assert "replay matches the recording" in lines
    assert any(
        line.startswith("a diverging client is told: expected conversation.item.create with item.content[0].text")
        and 'got "Something else entirely"' in line
        for line in lines
    ), out
    from realtime_sync.recording import read_recording

    assert read_recording(kept).audio_elided
