"""A Tkinter chat window: type messages, or hold the button and talk.

    python samples/desktop_app.py          (--help for the options)

The rule for GUI toolkits: only the GUI thread touches widgets. The client's
callbacks run on its socket thread, so this app registers none: it takes
``client.events()``, a queue the client fills with ``(name, payload)`` pairs,
and the Tk thread drains that queue every few milliseconds with ``after()``
and updates the widgets. Sending (``send_text``,
``begin_turn``/``end_turn``) is safe from the Tk thread: sends never block on
the network.

Push-to-talk needs the ``audio`` extra (pyaudio) and a microphone; without
them the button is disabled and text chat still works. The window needs a
display: without one the app says so in one line and exits with status 1.
Ctrl-C in the terminal closes it (status 130).
"""

from __future__ import annotations

import argparse
import queue
import sys
from typing import Any, Dict, List, Optional, Tuple

try:
    import tkinter as tk
except ImportError:  # a Python built without Tk
    sys.exit("desktop_app: this Python has no tkinter (on Debian/Ubuntu: apt-get install python3-tk)")

from _common import server_options

from realtime_sync import RealtimeClient

POLL_MS = 30  # how often the Tk thread drains the event queue


class App:
    """The chat window for a connected ``RealtimeClient``.

    Args:
        root: the Tk root (or any container widget).
        client: a connected client.
        voice_chat: a push-to-talk ``realtime_sync.devices.VoiceChat``, already
            started, or ``None`` for text only.

    Attributes (for tests and extensions): ``transcript`` (the Text widget),
    ``entry``, ``send_button``, ``talk_button``, ``status``.
    """

    def __init__(self, root: tk.Misc, client: RealtimeClient, voice_chat: Any = None) -> None:
        self.root = root
        self.client = client
        self.voice_chat = voice_chat
        self._events: "queue.Queue[Tuple[str, Any]]" = client.events()  # filled by the socket thread
        self._open_item: Optional[str] = None
        self._talking = False

        if isinstance(root, tk.Tk):
            root.title("realtime_sync chat")
        self.transcript = tk.Text(root, width=70, height=20, wrap="word", state="disabled")
        self.transcript.tag_configure("user", foreground="#1a5fb4")
        self.transcript.tag_configure("assistant", foreground="#26a269")
        self.transcript.tag_configure("note", foreground="#777777")
        self.transcript.pack(fill="both", expand=True, padx=6, pady=6)

        row = tk.Frame(root)
        row.pack(fill="x", padx=6, pady=(0, 6))
        self.entry = tk.Entry(row)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda _event: self.send())
        self.send_button = tk.Button(row, text="Send", command=self.send)
        self.send_button.pack(side="left", padx=(6, 0))
        self.talk_button = tk.Button(row, text="Hold to talk")
        self.talk_button.pack(side="left", padx=(6, 0))
        if voice_chat is None:
            self.talk_button.configure(state="disabled", text="Hold to talk (no microphone)")
        else:
            self.talk_button.bind("<ButtonPress-1>", lambda _event: self.begin_talking())
            self.talk_button.bind("<ButtonRelease-1>", lambda _event: self.end_talking())
        self.status = tk.Label(root, text="connected", anchor="w")
        self.status.pack(fill="x", padx=6, pady=(0, 6))
        self.entry.focus_set()

        self.root.after(POLL_MS, self._drain)

    # -- Tk thread ---------------------------------------------------------
    def send(self) -> None:
        """Send the entry's text as a user message (Tk thread)."""
        text = self.entry.get().strip()
        if not text:
            return
        self.entry.delete(0, "end")
        self._write("you: %s\n" % text, "user")
        self.status.configure(text="waiting for the reply...")
        self.client.send_text(text)

    def begin_talking(self) -> None:
        """Start recording a push-to-talk turn (button pressed)."""
        if self.voice_chat is not None and not self._talking:
            self._talking = True
            self.status.configure(text="recording: release to send")
            self.voice_chat.begin_turn()

    def end_talking(self) -> None:
        """End the turn and ask for a reply (button released)."""
        if self.voice_chat is not None and self._talking:
            self._talking = False
            self.status.configure(text="waiting for the reply...")
            self.voice_chat.end_turn()

    def _drain(self) -> None:
        """Apply every queued event to the widgets, then check again in POLL_MS."""
        try:
            while True:
                kind, event = self._events.get_nowait()
                self._apply(kind, event)
        except queue.Empty:
            pass
        self.root.after(POLL_MS, self._drain)

    def _apply(self, kind: str, event: Any) -> None:
        if kind == "conversation.updated":
            item, delta = event.get("item") or {}, event.get("delta") or {}
            piece = delta.get("text") or delta.get("transcript")
            if item.get("role") == "assistant" and piece:
                if self._open_item != item.get("id"):
                    self._open_item = item.get("id")
                    self._write("assistant: ", "assistant")
                self._write(piece, "assistant")
            elif item.get("role") == "user" and delta.get("transcript"):
                self._write("you (voice): %s\n" % delta["transcript"].strip(), "user")
        elif kind == "conversation.item.completed":
            item = event.get("item") or {}
            if item.get("role") == "assistant":
                if self._open_item == item.get("id"):
                    self._write("\n", "assistant")
                    self._open_item = None
                self.status.configure(text="ready")
            elif item.get("type") == "function_call":
                self._write("[tool] %s(%s)\n" % (item.get("name"), item.get("arguments")), "note")
        elif kind == "error":
            self.status.configure(text="error: %s" % event.get("error"))
        elif kind == "close":
            self.status.configure(text="disconnected")
            self.send_button.configure(state="disabled")

    def _write(self, text: str, tag: str) -> None:
        self.transcript.configure(state="normal")
        self.transcript.insert("end", text, tag)
        self.transcript.configure(state="disabled")
        self.transcript.see("end")

    def text(self) -> str:
        """The whole transcript as plain text."""
        return self.transcript.get("1.0", "end-1c")


def start_voice(client: RealtimeClient) -> Any:
    """Start push-to-talk with the default microphone and speaker, or return ``None``.

    On success the session is switched to spoken replies (with their
    transcript) and transcription of what the user says; without pyaudio,
    PortAudio or a device, it stays text only and the reason is printed.
    """
    try:
        from realtime_sync.devices import VoiceChat

        voice_chat = VoiceChat(client, push_to_talk=True)  # turn detection off: the button decides
        voice_chat.start()
    except Exception as exc:  # no pyaudio, no PortAudio, or no device
        print("push-to-talk disabled: %s" % exc, file=sys.stderr)
        client.update_session(modalities=["text"])
        return None
    client.update_session(modalities=["text", "audio"], input_audio_transcription={"model": "whisper-1"})
    return voice_chat


def open_window() -> Optional[tk.Tk]:
    """The Tk root window, or ``None`` (and one line on stderr) when there is no display."""
    try:
        return tk.Tk()
    except tk.TclError as exc:
        print(
            "desktop_app: cannot open a window (%s); run it in a desktop session, or set DISPLAY" % exc,
            file=sys.stderr,
        )
        return None


def client_options(options: Dict[str, Any], token_url: Optional[str]) -> Dict[str, Any]:
    """The client's keyword arguments; with ``token_url`` its key is a secret fetched from there.

    The split a shipped app needs: your server keeps the account's key and
    hands out ``ek_...`` secrets (``create_client_secret()``), each bound to
    the session your server chose and valid for minutes; the app holds only that.
    """
    if not token_url:
        return options
    from token_server import fetch_secret  # the app half of samples/token_server.py

    return dict(options, api_key=fetch_secret(token_url))


def main(argv: Optional[List[str]] = None) -> int:
    """Open the window, connect, and run until the window is closed; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="desktop_app.py",
        description="A Tkinter chat window for the Realtime API: type messages, or hold the button and talk.",
        epilog="Talks to OpenAI when OPENAI_API_KEY is set, to REALTIME_SYNC_URL when that is set, "
        "else to the built-in simulator. Push-to-talk needs the audio extra and a microphone.",
    )
    parser.add_argument(
        "--token-url",
        metavar="URL",
        help="connect with a short-lived client secret from your own token endpoint (POST URL -> "
        '{"value": "ek_..."}, see samples/token_server.py) instead of an API key: an app you ship '
        "must never hold the account's key",
    )
    args = parser.parse_args(argv)
    root = open_window()  # before connecting: without a display there is nothing to connect for
    if root is None:
        return 1
    try:
        with server_options(realtime=True) as options:
            with RealtimeClient(**client_options(options, args.token_url)) as client:
                voice_chat = start_voice(client)
                App(root, client, voice_chat)
                print("desktop_app: window open (close it, or press Ctrl-C here, to quit)", flush=True)
                try:
                    root.mainloop()
                finally:
                    if voice_chat is not None:
                        voice_chat.stop()
    except KeyboardInterrupt:  # Ctrl-C in the terminal: close quietly
        return 130
    finally:
        try:
            root.destroy()
        except tk.TclError:  # already closed by the user
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
