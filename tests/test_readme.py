"""Every ```python block of README.md runs, as its own program, against the simulator.

Convention (documented at the end of the README): a block runs as written,
as a script in a fresh interpreter, in an empty temporary directory, without
OPENAI_API_KEY. A block that imports tkinter gets an Xvfb display. A block
that uses ``realtime_sync.devices`` runs on the file-backed sound card of
``support_audio.py`` (HOME pointing at its ``.asoundrc``): this test speaks
into its microphone, waits for the spoken reply to come out of its speaker,
then presses Enter on the block's ``input()`` prompt. There are no skip
markers: every block runs (the sound-card one skips, saying why, only where
pyaudio or ALSA is missing, unless ``REALTIME_SYNC_REQUIRE_AUDIO=1``).
"""

from __future__ import annotations

import ctypes.util
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import List, NamedTuple

import numpy as np
import pytest
from support_docs import ROOT, NoDisplay, clean_env, end_process, run_python, xvfb_display

README = ROOT / "README.md"
_BLOCK = re.compile(r"^```python[ \t]*\n(?P<code>.*?)^```", re.S | re.M)


class Block(NamedTuple):
    line: int
    code: str


def python_blocks(text: str) -> List[Block]:
    return [Block(text.count("\n", 0, m.start("code")), m.group("code")) for m in _BLOCK.finditer(text)]


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_runnable_examples_and_no_skip_markers() -> None:
    assert len(BLOCKS) >= 8
    assert "readme-test: skip" not in README.read_text(encoding="utf-8"), "every README block runs: no skip markers"
    assert any("realtime_sync.devices" in b.code for b in BLOCKS), "the voice example is run on the fake card"


@pytest.mark.parametrize("block", BLOCKS, ids=["line%d" % b.line for b in BLOCKS])
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    pytest.importorskip("websockets", reason="the README examples use the simulator (server extra)")
    script = tmp_path / ("test_readme_line%d.py" % block.line)  # a file, so __file__ works
    script.write_text(block.code, encoding="utf-8")
    if "realtime_sync.devices" in block.code:
        _run_on_the_fake_sound_card(block, script, tmp_path)
        return
    if "tkinter" in block.code:
        pytest.importorskip("tkinter", reason="this Python has no tkinter")
        try:
            with xvfb_display() as display:
                result = run_python([str(script)], timeout=90, env=clean_env(DISPLAY=display), cwd=tmp_path)
        except NoDisplay as exc:
            pytest.skip(str(exc))
    else:
        result = run_python([str(script)], timeout=90, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, "README.md line %d failed:\n%s\n%s" % (block.line, result.stdout, result.stderr)
    left = sorted(p.name for p in tmp_path.iterdir() if p != script)
    assert left == [], "README.md line %d wrote %s into the current directory" % (block.line, left)


def _audio_stack_problem() -> str:
    """Why the fake sound card cannot run here ("" when it can); as in test_devices.py."""
    if not sys.platform.startswith("linux"):
        return "the fake sound card is an ALSA configuration: Linux only"
    try:
        import pyaudio  # noqa: F401
    except ImportError as exc:
        return (
            "pyaudio is not importable (%s): install PortAudio (apt-get install portaudio19-dev "
            "or brew install portaudio), then run `make test` again or `.venv/bin/pip install -e '.[audio]'`" % exc
        )
    if not ctypes.util.find_library("asound"):
        return "libasound (ALSA) is not installed"
    return ""


def _require_audio_stack() -> None:
    problem = _audio_stack_problem()
    if problem:
        if os.environ.get("REALTIME_SYNC_REQUIRE_AUDIO") == "1":
            pytest.fail("REALTIME_SYNC_REQUIRE_AUDIO=1 but %s" % problem)
        pytest.skip("the voice example needs a sound card: %s" % problem)


def _run_on_the_fake_sound_card(block: Block, script: Path, tmp_path: Path) -> None:
    """Run a voice block with the fake card as its default microphone and speaker.

    The block is expected to prompt with ``input()`` once its devices run, print
    ``assistant: ...`` for each finished answer and end when Enter is pressed.
    """
    _require_audio_stack()
    import support_audio as card  # the module imports numpy only; the card needs ALSA

    sound = card.FakeSoundCard(tmp_path / "card", set_home=False)  # the child gets HOME=sound.home
    sound.start()
    lines: "queue.Queue[str]" = queue.Queue()
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr_file:  # a file, so a chatty child can never block on the pipe
        process = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            env=clean_env(HOME=str(sound.home)),
            cwd=str(tmp_path),
        )
    assert process.stdin is not None and process.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    seen: List[str] = []

    def next_line(prefix: str, timeout: float = 30.0) -> str:
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    "README.md line %d printed no %r line; its output:\n%s\n%s"
                    % (block.line, prefix, "".join(seen), stderr_path.read_text())
                ) from None
            seen.append(line)
            if line.startswith(prefix):
                return line

    def seconds_of_sound(played: np.ndarray) -> float:
        span = card.active_span(played, card.CARD_RATE, threshold=0.01)
        return 0.0 if span is None else (span[1] - span[0]) / card.CARD_RATE

    try:
        next_line("Talk to the assistant")  # the input() prompt: the devices are running
        sound.say(np.concatenate([card.silence(0.3), card.tone(300, 1.0, amplitude=0.3), card.silence(1.2)]))
        answer = next_line("assistant: ")
        # the simulator's spoken answer is about 5.5 s of synthetic speech: most of it was played
        heard = sound.wait_played(lambda played: seconds_of_sound(played) > 4.0, timeout=20)
        process.stdin.write("\n")  # Enter: the block leaves its with-blocks and ends
        process.stdin.flush()
        returncode = process.wait(timeout=30)
    finally:
        end_process(process, reader)
        sound.stop()
    assert returncode == 0, "README.md line %d failed:\n%s\n%s" % (block.line, "".join(seen), stderr_path.read_text())
    assert "simulator" in answer, answer  # the simulator's reply to speech it cannot understand
    assert heard, "the reply's audio never reached the (fake) speaker: %.1f s of sound" % seconds_of_sound(
        sound.played()
    )


def test_the_files_and_commands_the_readme_names_exist() -> None:
    text = README.read_text(encoding="utf-8")
    for path in sorted(set(re.findall(r"\b((?:samples|benchmarks)/[\w.]+\.(?:py|ipynb))", text))):
        assert (ROOT / path).exists(), path
    from realtime_sync.cli.main import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for command in re.findall(r"python -m realtime_sync (\w+)", text):
        assert command in commands, command


def _section(text: str, title: str) -> str:
    start = text.index("\n## %s\n" % title)
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_error_list_names_every_exception_and_only_those() -> None:
    import builtins

    import realtime_sync.errors as errors

    text = README.read_text(encoding="utf-8")
    bullet = text[text.index("- **Errors**") :]
    bullet = bullet[: bullet.index("\n\n")]
    named = set(re.findall(r"`(?:[\w.]*\.)?(\w+Error)`", bullet)) - set(dir(builtins))
    exported = {name for name in errors.__all__ if name.endswith("Error")}
    assert exported - named == set(), "the README's error list leaves out %s" % sorted(exported - named)
    assert named - exported == set(), "the README's error list names %s, not in realtime_sync.errors" % sorted(
        named - exported
    )


def test_the_install_section_starts_from_a_clone_and_keeps_the_published_command() -> None:
    install = _section(README.read_text(encoding="utf-8"), "Install")
    assert "not on PyPI yet" in install
    assert install.index('pip install -e ".[server]"') < install.index('pip install "realtime_sync[server]"')
