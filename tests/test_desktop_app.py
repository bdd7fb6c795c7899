"""Drive samples/desktop_app.py's real Tk window under Xvfb: type, click Send, see the reply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
from support_docs import SAMPLES, NoDisplay, clean_env, run_python, xvfb_display

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")
try:
    import tkinter  # noqa: F401
except ImportError:  # pragma: no cover - depends on the Python build
    pytest.skip("tkinter is not available in this Python (install python3-tk / tk8.6-dev)", allow_module_level=True)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """An Xvfb display for this module's tests."""
    try:
        with xvfb_display() as name:
            yield name
    except NoDisplay as exc:
        pytest.skip(str(exc))


DRIVER = r"""
import json, sys, threading, time
import tkinter as tk

sys.path.insert(0, sys.argv[1])
import desktop_app
from realtime_sync import RealtimeClient
from realtime_sync.simulator import RealtimeSimulator

widget_threads = set()
original_insert = tk.Text.insert

def recording_insert(self, *args, **kwargs):
    widget_threads.add(threading.current_thread().name)
    return original_insert(self, *args, **kwargs)

tk.Text.insert = recording_insert

with RealtimeSimulator() as simulator, RealtimeClient(url=simulator.url) as client:
    client.update_session(modalities=["text"])
    root = tk.Tk()
    app = desktop_app.App(root, client)
    root.update()
    app.entry.focus_force()
    root.update()
    for char in "Hello from Tk":
        app.entry.event_generate("<KeyPress>", keysym="space" if char == " " else char)
    root.update()
    typed = app.entry.get()
    app.send_button.invoke()
    after_send = app.entry.get()
    deadline = time.monotonic() + 30

    def check():
        done = "assistant: " in app.text() and app.status.cget("text") == "ready"
        if done or time.monotonic() > deadline:
            root.quit()
        else:
            root.after(20, check)

    root.after(20, check)
    root.mainloop()
    print(json.dumps({
        "typed": typed,
        "after_send": after_send,
        "text": app.text(),
        "status": app.status.cget("text"),
        "talk_button": app.talk_button.cget("state"),
        "widget_threads": sorted(widget_threads),
    }))
    root.destroy()
"""


def _run_driver(driver: str, display: str, *args: str, cwd: Path = SAMPLES) -> Tuple[Dict[str, Any], str]:
    """Run a driver script (argv: the samples folder, then ``args``) on ``display``.

    Returns the JSON state it prints last, and all it wrote (stdout and stderr).
    """
    result = run_python(["-c", driver, str(SAMPLES), *args], timeout=90, env=clean_env(DISPLAY=display), cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1])), result.stdout + result.stderr


def test_type_send_and_see_the_reply_in_the_window(display: str) -> None:
    state, _ = _run_driver(DRIVER, display)
    assert state["typed"] == "Hello from Tk"  # the key presses reached the entry
    assert state["after_send"] == ""  # Send cleared it
    lines = state["text"].splitlines()
    assert lines[0] == "you: Hello from Tk"
    assert lines[1] == "assistant: Hello! How can I help you today?"
    assert state["status"] == "ready"
    assert state["talk_button"] == "disabled"  # no VoiceChat given: text only
    assert state["widget_threads"] == ["MainThread"]  # Tk touched only from the Tk thread


TOKEN_DRIVER = r"""
import json, sys, time
import tkinter as tk

sys.path.insert(0, sys.argv[1])
import desktop_app, token_server
from realtime_sync import RealtimeClient
from realtime_sync.errors import AuthenticationError
from realtime_sync.simulator import RealtimeSimulator

key = "sk-account-key-0123456789"
with RealtimeSimulator(require_api_key=key) as sim:
    server = token_server.serve_tokens(0, {"api_key": key, "base_url": sim.http_url})
    token_url = "http://127.0.0.1:%d/token" % server.server_address[1]
    options = desktop_app.client_options({"url": sim.url}, token_url)
    try:
        RealtimeClient(url=sim.url).connect(timeout=10)
        keyless = "connected"
    except AuthenticationError:
        keyless = "refused"
    with RealtimeClient(**options) as client:
        root = tk.Tk()
        app = desktop_app.App(root, client)
        root.update()
        app.entry.insert(0, "Hello with a secret")
        app.send_button.invoke()
        deadline = time.monotonic() + 30

        def check():
            if ("assistant: " in app.text() and app.status.cget("text") == "ready") or time.monotonic() > deadline:
                root.quit()
            else:
                root.after(20, check)

        root.after(20, check)
        root.mainloop()
        print(json.dumps({"key": options["api_key"][:3], "keyless": keyless, "text": app.text()}))
        root.destroy()
    server.shutdown()
"""


def test_the_app_connects_with_a_secret_from_a_token_endpoint(display: str) -> None:
    state, output = _run_driver(TOKEN_DRIVER, display)
    assert state["key"] == "ek_"  # the app held a client secret, never the account's key
    assert state["keyless"] == "refused"  # the simulator demands a key: the secret is what let the app in
    lines = state["text"].splitlines()
    assert lines[0] == "you: Hello with a secret" and lines[1].startswith("assistant: ")
    assert "sk-account-key" not in output


PUSH_TO_TALK_DRIVER = r"""
import json, sys, time
from pathlib import Path

sys.path.insert(0, sys.argv[1])  # samples/
sys.path.insert(0, sys.argv[2])  # tests/
from support_audio import CARD_RATE, FakeSoundCard, silence, tone  # a sound card made of FIFOs

card = FakeSoundCard(Path(sys.argv[3]))  # before PortAudio starts: it points HOME at the card
card.start()

import numpy as np
import tkinter as tk

import desktop_app
from realtime_sync import RealtimeClient
from realtime_sync.simulator import RealtimeSimulator

try:
    with RealtimeSimulator() as simulator, RealtimeClient(url=simulator.url) as client:
        voice_chat = desktop_app.start_voice(client)
        assert voice_chat is not None, "push-to-talk did not start on the fake card"
        root = tk.Tk()
        app = desktop_app.App(root, client, voice_chat)
        root.update()
        button = app.talk_button
        button.event_generate("<ButtonPress-1>", x=5, y=5)
        root.update()
        status_while_talking = app.status.cget("text")
        card.say(np.concatenate([tone(300, 0.8, amplitude=0.3), silence(0.1)]))
        card.wait_said(10)
        button.event_generate("<ButtonRelease-1>", x=5, y=5)
        deadline = time.monotonic() + 30

        def check():
            if app.status.cget("text") == "ready" or time.monotonic() > deadline:
                root.quit()
            else:
                root.after(20, check)

        root.after(20, check)
        root.mainloop()
        heard = card.wait_played(lambda played: len(played) and int(np.abs(played).max()) > 1000, timeout=10)
        voice_chat.stop()
        user = [i for i in client.conversation.get_items() if i.get("role") == "user"]
        print(json.dumps({
            "status_while_talking": status_while_talking,
            "text": app.text(),
            "status": app.status.cget("text"),
            "user_audio_seconds": len(user[0]["formatted"]["audio"]) / 24000 if user else 0,
            "heard_reply": bool(heard),
        }))
        root.destroy()
finally:
    card.stop()
"""


def test_push_to_talk_button_sends_speech_and_shows_the_reply(display: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    try:
        import pyaudio  # noqa: F401
    except ImportError:
        if os.environ.get("REALTIME_SYNC_REQUIRE_AUDIO") == "1":
            pytest.fail("pyaudio is required (REALTIME_SYNC_REQUIRE_AUDIO=1) but cannot be imported")
        pytest.skip("pyaudio is not installed (the audio extra; needs PortAudio)")
    tests_dir = str(SAMPLES.parent / "tests")
    state, _ = _run_driver(PUSH_TO_TALK_DRIVER, display, tests_dir, str(tmp_path), cwd=tmp_path)
    assert state["status_while_talking"] == "recording: release to send"
    lines = state["text"].splitlines()
    assert any(line.startswith("you (voice): (inaudible: ") for line in lines), lines  # the simulator's transcript
    assert any(line.startswith("assistant: I heard you") for line in lines), lines
    assert state["status"] == "ready"
    assert 0.5 < state["user_audio_seconds"] < 2.0
    assert state["heard_reply"], "the reply's audio never reached the (fake) speaker"
