"""Talk to the assistant with your microphone and hear it answer; speak over it to interrupt.

Run it with ``python samples/voice_chat.py``. With ``OPENAI_API_KEY`` set it
talks to OpenAI; without, to the built-in simulator (which paces its replies
like a live model, answers every spoken turn, but cannot understand speech).

Options:
    --push-to-talk        no voice detection: press Enter to talk, Enter to send
    --input-device X      microphone: index or part of the name (see --list-devices)
    --output-device X     speaker: index or part of the name
    --list-devices        print the audio devices PortAudio sees, then exit
    --turns N             stop after N answers (default: run until Enter / q)

Needs the audio extra: ``pip install 'realtime_sync[audio]'`` (PortAudio
first: ``apt-get install portaudio19-dev`` or ``brew install portaudio``).
Use headphones: with loudspeakers the assistant may hear itself and
interrupt its own answer.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any, Dict, List, Optional, Union

from _common import server_options

from realtime_sync import RealtimeClient, RealtimeError
from realtime_sync.devices import Microphone, Speaker, VoiceChat, list_devices


def _device(text: Optional[str]) -> Union[int, str, None]:
    """A device option: an index when it is a number, else a part of the name."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


def _print_devices() -> None:
    found = list_devices()
    if not found:
        print("PortAudio sees no audio devices here (see the README's troubleshooting section).")
    for device in found:
        roles = [
            role
            for role, key in (("input", "max_input_channels"), ("output", "max_output_channels"))
            if device[key] > 0
        ]
        marks = [
            mark
            for mark, key in (("default input", "default_input"), ("default output", "default_output"))
            if device[key]
        ]
        print(
            "%3d  %-40s %-12s %6.0f Hz  %s"
            % (device["index"], device["name"], "+".join(roles), device["default_sample_rate"], ", ".join(marks))
        )


class Transcript:
    """Prints what each side said, and counts the assistant's finished answers.

    Its callbacks run on the client's socket thread: they only print and count.
    """

    def __init__(self, client: RealtimeClient, turns: Optional[int]) -> None:
        self.turns = turns
        self.answers = 0
        self.done = threading.Event()
        self.lock = threading.Lock()
        client.on("conversation.item.completed", self._on_completed)
        client.on("conversation.interrupted", lambda event: print("[you interrupted]", flush=True))
        client.on("error", self._on_error)

    def _on_completed(self, event: Dict[str, Any]) -> None:
        item = event["item"]
        if item.get("type") != "message":
            return
        formatted = item.get("formatted") or {}
        said = (formatted.get("transcript") or formatted.get("text") or "").strip()
        role = item.get("role")
        if role == "user":
            print("you: %s" % (said or "(audio)"), flush=True)
        elif role == "assistant":
            print("assistant: %s" % said, flush=True)
            with self.lock:
                self.answers += 1
                if self.turns is not None and self.answers >= self.turns:
                    self.done.set()

    def _on_error(self, event: Dict[str, Any]) -> None:
        print("[error] %s" % event.get("error"), file=sys.stderr, flush=True)


def _wait_for_enter(done: threading.Event) -> None:
    """Set ``done`` when the user presses Enter (or stdin ends); runs on a daemon thread."""

    def read() -> None:
        try:
            sys.stdin.readline()
        except (OSError, ValueError):
            pass
        done.set()

    threading.Thread(target=read, name="voice-chat-stdin", daemon=True).start()


def _push_to_talk(chat: VoiceChat, transcript: Transcript) -> None:
    while not transcript.done.is_set():
        try:
            line = input("Press Enter to talk (q + Enter to quit): ")
        except EOFError:
            return
        if line.strip().lower() == "q":
            return
        chat.begin_turn()
        try:
            input("Recording... press Enter to send: ")
        except EOFError:
            pass  # stdin ended: send what was recorded, then stop at the next prompt
        chat.end_turn()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Voice chat with barge-in (realtime_sync sample).")
    parser.add_argument("--push-to-talk", action="store_true", help="Enter to talk, Enter to send")
    parser.add_argument("--input-device", help="microphone index or part of its name")
    parser.add_argument("--output-device", help="speaker index or part of its name")
    parser.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    parser.add_argument("--turns", type=int, help="stop after this many answers")
    args = parser.parse_args(argv)

    try:
        if args.list_devices:
            _print_devices()
            return 0
        with server_options(realtime=True) as options:
            with RealtimeClient(**options) as client:
                client.update_session(
                    output_modalities=["audio"],
                    instructions="You are a friendly voice assistant. Keep answers short.",
                    audio={"input": {"transcription": {"model": "whisper-1"}}, "output": {"voice": "marin"}},
                )
                transcript = Transcript(client, args.turns)
                microphone = Microphone(_device(args.input_device))
                speaker = Speaker(_device(args.output_device))
                failed = threading.Event()

                def on_error(error: BaseException) -> None:  # a device died: say so and stop
                    print("[audio device error] %s" % error, file=sys.stderr, flush=True)
                    failed.set()
                    transcript.done.set()

                chat = VoiceChat(client, microphone, speaker, push_to_talk=args.push_to_talk, on_error=on_error)
                try:
                    with chat:
                        print(
                            "Microphone: %s. Speaker: %s."
                            % (microphone.device_info["name"], speaker.device_info["name"]),  # type: ignore[index]
                            flush=True,
                        )
                        if args.push_to_talk:
                            _push_to_talk(chat, transcript)
                        else:
                            print("Listening: just talk. Press Enter to stop.", flush=True)
                            if args.turns is None:
                                _wait_for_enter(transcript.done)
                            transcript.done.wait()
                        speaker.wait_until_done(timeout=30.0)  # let the last answer finish
                finally:
                    microphone.close()
                    speaker.close()
                return 1 if failed.is_set() else 0
    except RealtimeError as exc:  # missing pyaudio/PortAudio, no device, connection problems
        print("error: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
