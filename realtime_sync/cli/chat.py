"""The ``chat`` and ``voice`` commands of the command line.

Both run their loop on the main thread, reading standard input; replies are
printed by callbacks on the socket thread (see :class:`ReplyPrinter`), and the
audio devices run on their own threads (``realtime_sync.devices``).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, Optional, TextIO, Union

from ..errors import RealtimeError, RealtimeTimeoutError, ReconnectingError
from .common import ReplyPrinter, connect_client, open_backend, simulator_speed

__all__ = ["run_chat", "run_voice"]

_HELP = "Type a message and press Enter. /voice switches the microphone on and off, /quit leaves."


def _read_line(stdin: TextIO, out: TextIO, prompt: str) -> Optional[str]:
    """Prompt and read one line; ``None`` at end of input."""
    if stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            out.write("\n")
            return None
    out.write(prompt)
    out.flush()
    line = stdin.readline()
    if not line:
        out.write("\n")
        return None
    return line.rstrip("\n")


def _device(value: Optional[str]) -> Union[int, str, None]:
    if value is None:
        return None
    return int(value) if value.strip().isdigit() else value


def _print_user_transcripts(client: Any, out: TextIO) -> Callable[[Dict[str, Any]], None]:
    """Print what the user said (input transcription) once it is complete. Socket thread.

    The wire event (the same name in both dialects), not ``conversation.updated``:
    on GA that also streams the words while they are transcribed.
    """

    def on_completed(event: Dict[str, Any]) -> None:
        transcript = event.get("transcript")
        if isinstance(transcript, str) and transcript.strip():
            out.write("you (voice)> %s\n" % transcript.strip())
            out.flush()

    client.realtime.on("server.conversation.item.input_audio_transcription.completed", on_completed)
    return on_completed


class _Voice:
    """The microphone and speaker of a chat session, switched on by ``/voice``."""

    def __init__(self, client: Any, args: argparse.Namespace, out: TextIO) -> None:
        self._client = client
        self._args = args
        self._out = out
        self._chat: Any = None

    @property
    def active(self) -> bool:
        return self._chat is not None

    def start(self) -> None:
        """Open the default devices and start listening; a missing device is reported, not raised."""
        try:
            from .. import devices
        except ImportError as exc:
            self._say("voice is not available here: %s" % exc)
            return
        self._client.update_session(
            modalities=["text", "audio"],
            input_audio_transcription={"model": "whisper-1"},
        )
        chat = devices.VoiceChat(self._client)  # default microphone and speaker, server VAD
        try:
            chat.start()
        except (ImportError, RealtimeError, OSError) as exc:
            self._client.update_session(modalities=["text"], turn_detection=None)
            self._say("voice is not available here: %s" % exc)
            return
        self._chat = chat
        self._say("voice on: speak, or type /voice to switch it off")

    def _say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def stop(self) -> None:
        """Stop listening and close the devices; back to text replies."""
        if self._chat is None:
            return
        chat, self._chat = self._chat, None
        chat.stop()
        if self._client.is_connected():
            self._client.update_session(modalities=["text"], turn_detection=None)
        self._out.write("voice off\n")
        self._out.flush()


def run_chat(args: argparse.Namespace, *, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Interactive text chat (``realtime-sync chat``). Returns the exit code.

    A reply that does not come within ``args.timeout`` seconds is given up on
    (cancelled) and reported on ``err`` on a line of its own; the chat goes on.

    Raises:
        RealtimeError: the connection failed or closed.
    """
    with open_backend(args.url, speed=simulator_speed(args)) as backend:
        client = connect_client(args, backend, modalities=["text"], turn_detection=None)
        printer = ReplyPrinter(out)
        printer.attach(client)
        _print_user_transcripts(client, out)
        voice = _Voice(client, args, out)
        try:
            out.write("Connected to %s. %s\n" % (backend.description, _HELP))
            out.flush()
            while True:
                line = _read_line(stdin, out, "you> ")
                if line is None:
                    break
                text = line.strip()
                if not text:
                    continue
                if text in ("/quit", "/exit", "/q"):
                    break
                if text == "/voice":
                    if voice.active:
                        voice.stop()
                    else:
                        voice.start()
                    continue
                if text in ("/help", "/?"):
                    out.write(_HELP + "\n")
                    continue
                if text.startswith("/"):
                    out.write("unknown command %s (try /voice, /quit or /help)\n" % text)
                    continue
                try:
                    printer.take_turn(client, text, args.timeout)
                except (RealtimeTimeoutError, ReconnectingError) as exc:  # abandoned, or cut off by a drop: go on
                    out.flush()
                    err.write("realtime-sync: error: %s\n" % exc)
                    err.flush()
        finally:
            voice.stop()
            client.disconnect()
    return 0


def run_voice(args: argparse.Namespace, *, stdin: TextIO, out: TextIO) -> int:
    """Voice conversation (``realtime-sync voice``). Returns the exit code.

    Raises:
        RealtimeError: the connection or an audio device failed.
        ImportError: pyaudio (the ``audio`` extra) is not installed.
    """
    try:
        from .. import devices
    except ImportError as exc:
        raise RealtimeError(
            "voice needs the audio extra: pip install -e '.[audio]' in the checkout "
            "(PortAudio first: apt-get install portaudio19-dev, or brew install portaudio): %s" % exc
        ) from exc
    if args.list_devices:
        found = devices.list_devices()
        if not found:
            out.write("PortAudio sees no audio devices here.\n")
        for device in found:
            roles = []
            if device.get("max_input_channels"):
                roles.append("input")
            if device.get("max_output_channels"):
                roles.append("output")
            out.write(
                "%3s  %-40s %-13s %g Hz\n"
                % (device.get("index"), device.get("name"), "+".join(roles), device.get("default_sample_rate", 0))
            )
        return 0
    microphone = devices.Microphone(_device(args.input_device))
    try:
        speaker = devices.Speaker(_device(args.output_device))
    except BaseException:
        microphone.close()
        raise
    with open_backend(args.url, speed=simulator_speed(args)) as backend:
        session: Dict[str, Any] = {
            "modalities": ["text", "audio"],
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": None if args.push_to_talk else {"type": "server_vad"},
        }
        client = connect_client(args, backend, **session)
        printer = ReplyPrinter(out)
        printer.attach(client)
        _print_user_transcripts(client, out)
        try:
            with devices.VoiceChat(client, microphone, speaker, push_to_talk=args.push_to_talk) as chat:
                if args.push_to_talk:
                    _push_to_talk_loop(chat, stdin, out)
                else:
                    out.write("Listening: speak to the assistant. Press Enter to stop.\n")
                    out.flush()
                    _read_line(stdin, out, "")
        finally:
            client.disconnect()
            microphone.close()
            speaker.close()
    return 0


def _push_to_talk_loop(chat: Any, stdin: TextIO, out: TextIO) -> None:
    while True:
        line = _read_line(stdin, out, "Press Enter to talk (q to quit): ")
        if line is None or line.strip().lower() in ("q", "/quit"):
            return
        chat.begin_turn()
        line = _read_line(stdin, out, "Recording... press Enter to send: ")
        chat.end_turn()
        if line is None:
            return
