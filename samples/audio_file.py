"""Send a WAV file as the user's turn and save the spoken reply as a WAV file.

    python samples/audio_file.py [question.wav] [--output reply.wav]

Without an input file, a short synthetic "spoken" sound is generated in
memory, so the sample runs anywhere. Without ``--output`` the reply is saved in
a new temporary directory (the path is printed): the sample writes nothing in
the current directory unless told to. The input is resampled to the session's
24 kHz pcm16, appended to the input audio buffer, and committed by
``create_response()`` (turn detection is off: we decide when the turn ends).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from typing import Any, Dict, List

import numpy as np
from _common import server_options

from realtime_sync import RealtimeClient
from realtime_sync.audio import read_wav, resample, write_wav

RATE = 24000  # pcm16 in the Realtime API is 24 kHz mono


def make_question() -> np.ndarray:
    """Return 1.8 s of a voiced, vowel-like sound with silence around it (24 kHz, int16)."""
    t = np.arange(int(1.2 * RATE)) / RATE
    pitch = 140 * (1 + 0.05 * np.sin(2 * np.pi * 2.5 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    voice = sum(np.sin(k * phase) * np.exp(-(((k * 140 - 700) / 300.0) ** 2)) for k in range(1, 20))
    voice *= np.hanning(len(voice)) ** 0.3 * 0.3 / np.max(np.abs(voice))
    silence = np.zeros(int(0.3 * RATE))
    samples = np.concatenate([silence, voice, silence])
    return np.round(samples * 32767).astype(np.int16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", help="a WAV file (16-bit PCM); generated if omitted")
    parser.add_argument(
        "--output", help="where to save the reply as a WAV file (default: reply.wav in a new temporary directory)"
    )
    args = parser.parse_args()

    if args.input is None:
        samples, rate = make_question(), RATE
        print("generated input: a synthetic vowel sound (give a WAV file to send your own)")
    else:
        samples, rate = read_wav(args.input)
        samples = resample(samples, rate, RATE)
    print("input: %.2f s of audio (%d Hz in the file)" % (len(samples) / RATE, rate))

    replies: List[Dict[str, Any]] = []
    done = threading.Event()

    def on_completed(event: Dict[str, Any]) -> None:  # socket thread
        item = event["item"]
        if item.get("role") == "assistant":
            replies.append(item)
            done.set()

    with server_options() as options:
        with RealtimeClient(**options) as client:
            client.update_session(  # GA's spelling; the flat one (turn_detection=None...) works too
                output_modalities=["audio"],  # spoken replies, with their transcript
                audio={"input": {
                    "turn_detection": None,  # manual turns: create_response() ends the turn
                    "transcription": {"model": "whisper-1"},
                }},
            )
            client.on("conversation.item.completed", on_completed)
            client.append_input_audio(samples)
            client.create_response()
            if not done.wait(timeout=60):
                sys.exit("no reply within 60 seconds")
            user = next(i for i in client.conversation.get_items() if i.get("role") == "user")
            print("heard: %s" % (user["formatted"]["transcript"] or "(no transcript)"))

    reply = replies[0]
    audio = reply["formatted"]["audio"]
    output = args.output or os.path.join(tempfile.mkdtemp(prefix="realtime_sync-"), "reply.wav")
    write_wav(output, audio, RATE)
    print("assistant said: %s" % reply["formatted"]["transcript"])
    print("saved %.2f s of reply audio to %s" % (len(audio) / RATE, output))


if __name__ == "__main__":
    main()
