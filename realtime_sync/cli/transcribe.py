"""``realtime-sync transcribe [FILE]``: live captions from a transcription session.

Audio comes from FILE (a WAV file, any rate, resampled) or, without it, from
the microphone until Enter or Ctrl-C. Each utterance is one line: on a
terminal its deltas appear as they stream and the final text replaces them
in place; elsewhere (a pipe, a file) only the final lines are written. A
failed transcription prints ``[transcription failed: ...]``. Without
OPENAI_API_KEY the built-in simulator answers (its transcripts describe the
audio rather than hear it).
"""

from __future__ import annotations

import argparse
import threading
from typing import Any, Dict, Optional, TextIO

from ..errors import RealtimeError
from .common import client_options, open_backend

__all__ = ["run_transcribe", "CaptionPrinter", "add_transcribe_options"]

_CLEAR_LINE = "\r\x1b[K"


def add_transcribe_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``transcribe`` (the connection options come from the common parent)."""
    parser.add_argument("file", nargs="?", metavar="FILE", help="a WAV file to transcribe (default: the microphone)")
    parser.add_argument("--language", help="ISO-639-1 code of the speech, e.g. en (default: detected)")
    parser.add_argument("--prompt", help="text that guides the transcription (names, vocabulary)")
    parser.add_argument(
        "--vad",
        choices=("server", "semantic", "none"),
        default="server",
        help="how speech is cut into utterances (default server; none: a FILE is one utterance)",
    )
    parser.add_argument("--noise-reduction", choices=("near_field", "far_field"), help="filter the input audio first")
    parser.add_argument("--logprobs", action="store_true", help="show the mean log probability of each utterance")
    parser.add_argument("--timestamps", action="store_true", help="start each line with the utterance's audio span")
    parser.add_argument("--realtime", action="store_true", help="send FILE at its own pace, as a microphone would")
    parser.add_argument("--input-device", help="microphone index or name substring")


class CaptionPrinter:
    """Prints utterances as captions (callbacks run on the receive thread; a lock keeps lines whole)."""

    def __init__(self, out: TextIO, *, live: bool, timestamps: bool = False, logprobs: bool = False) -> None:
        self.out = out
        self.live = live
        self.timestamps = timestamps
        self.logprobs = logprobs
        self._lock = threading.Lock()

    def attach(self, transcriber: Any) -> None:
        transcriber.on("utterance.delta", self._on_delta)
        transcriber.on("utterance.completed", self._on_done)
        transcriber.on("utterance.failed", self._on_done)

    def _on_delta(self, event: Dict[str, Any]) -> None:
        if not self.live:
            return
        with self._lock:
            self.out.write(_CLEAR_LINE + self._prefix(event["utterance"]) + event["utterance"].text)
            self.out.flush()

    def _on_done(self, event: Dict[str, Any]) -> None:
        utterance = event["utterance"]
        if utterance.failed:
            error = utterance.error or {}
            text = "[transcription failed: %s]" % (error.get("message") or error.get("code") or "no reason given")
        else:
            text = utterance.text
        if self.logprobs and utterance.logprobs:
            mean = sum(float(entry.get("logprob", 0.0)) for entry in utterance.logprobs) / len(utterance.logprobs)
            text += "  (mean logprob %.3f)" % mean
        with self._lock:
            self.out.write((_CLEAR_LINE if self.live else "") + self._prefix(utterance) + text + "\n")
            self.out.flush()

    def _prefix(self, utterance: Any) -> str:
        if not self.timestamps or utterance.start_ms is None:
            return ""
        end = "" if utterance.end_ms is None else _clock(utterance.end_ms)
        return "[%s-%s] " % (_clock(utterance.start_ms), end)


def _clock(ms: int) -> str:
    seconds = ms / 1000.0
    return "%d:%05.2f" % (seconds // 60, seconds % 60)


def _turn_detection(args: argparse.Namespace) -> Optional[Dict[str, Any]]:
    if args.vad == "none":
        return None
    if args.vad == "semantic":
        return {"type": "semantic_vad"}
    return {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500}


def run_transcribe(args: argparse.Namespace, *, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """``realtime-sync transcribe [FILE]``. Returns the exit code.

    Raises:
        RealtimeError: the session was refused (a bad model...), the
            connection failed, or the microphone could not be used.
    """
    live = bool(getattr(out, "isatty", lambda: False)())
    printer = CaptionPrinter(out, live=live, timestamps=args.timestamps, logprobs=args.logprobs)
    from ..transcriber import RealtimeTranscriber

    with open_backend(args.url, notice=err) as backend:
        options = client_options(args, backend)
        options.pop("protocol", None)  # a transcription session speaks GA
        model = options.pop("model", None) or "gpt-4o-transcribe"
        transcriber = RealtimeTranscriber(
            model=model,
            language=args.language,
            prompt=args.prompt,
            turn_detection=_turn_detection(args),
            noise_reduction=args.noise_reduction,
            include_logprobs=args.logprobs,
            **options,
        )
        printer.attach(transcriber)
        transcriber.connect(timeout=args.timeout)
        try:
            if args.file:
                transcriber.transcribe_file(args.file, timeout=None, realtime=args.realtime)
                return 0
            try:
                transcriber.listen(_device(args.input_device))
            except ImportError as exc:
                raise RealtimeError(
                    "transcribing the microphone needs the audio extra: pip install -e '.[audio]' "
                    "(PortAudio first), or give a WAV FILE: %s" % exc
                ) from exc
            err.write("Listening: speak, and the captions appear here. Press Enter to stop.\n")
            err.flush()
            stdin.readline()
            return 0
        finally:
            transcriber.disconnect()


def _device(text: Optional[str]) -> Any:
    """A device given on the command line: an index when it is a number, else a name substring."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text
