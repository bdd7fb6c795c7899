"""Live speech-to-text: captions for speech, as it is recognised.

    python samples/transcribe.py [speech.wav] [--language en] [--logprobs]

A transcription session (no assistant, no replies) cuts the audio into
utterances with the server's voice detection and streams each one's text.
Without a WAV file, two short synthetic "spoken" bursts are generated in
memory and sent as arrays, the way a microphone's chunks would be. Each
utterance prints its words as they arrive, then its final line with its
audio span. Against the built-in simulator the transcripts describe the
audio (it cannot hear); with OPENAI_API_KEY they are real.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import server_options

from realtime_sync.audio import read_wav, resample
from realtime_sync.transcriber import RealtimeTranscriber

RATE = 24000


def make_speech() -> np.ndarray:
    """Two vowel-like bursts (1.0 s and 0.7 s) with silence around them (24 kHz, int16)."""

    def burst(seconds: float, pitch: float) -> np.ndarray:
        t = np.arange(int(seconds * RATE)) / RATE
        phase = 2 * np.pi * pitch * t
        voice = sum(np.sin(k * phase) * np.exp(-(((k * pitch - 700) / 300.0) ** 2)) for k in range(1, 20))
        return np.asarray(voice * np.hanning(len(t)) ** 0.3 * 0.3 / np.max(np.abs(voice)))

    silence = np.zeros(int(0.8 * RATE))
    samples = np.concatenate([silence, burst(1.0, 140), silence, burst(0.7, 180), silence, silence])
    return np.round(samples * 32767).astype(np.int16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", help="a WAV file of speech; generated if omitted")
    parser.add_argument("--language", help="ISO-639-1 code of the speech, e.g. en")
    parser.add_argument("--logprobs", action="store_true", help="ask for token log probabilities")
    args = parser.parse_args()

    if args.input is None:
        samples = make_speech()
        print("generated input: two synthetic bursts of 'speech' (give a WAV file to send your own)")
    else:
        samples, rate = read_wav(args.input)
        samples = resample(samples, rate, RATE)

    with server_options() as options:
        with RealtimeTranscriber(
            model="gpt-4o-transcribe", language=args.language, include_logprobs=args.logprobs, **options
        ) as transcriber:
            # Callbacks run on the receive thread, one at a time and in order: all the
            # printing happens there, so a line never breaks into another utterance's words.
            shown = []

            def show(event: dict) -> None:
                utterance = event["utterance"]
                shown.append(utterance)
                status = "failed: %s" % utterance.error if utterance.failed else repr(utterance.text)
                print()  # ends the line of streamed words
                print("[utterance %d] %s-%s ms %s" % (len(shown), utterance.start_ms, utterance.end_ms, status))
                if utterance.logprobs:
                    print("  tokens:", ", ".join("%s %.2f" % (p["token"], p["logprob"]) for p in utterance.logprobs))

            transcriber.on("utterance.delta", lambda event: print(event["delta"], end="", flush=True))
            transcriber.on("utterance.completed", show)
            transcriber.on("utterance.failed", show)

            for start in range(0, len(samples), RATE // 10):  # 100 ms chunks, as from a microphone
                transcriber.append_audio(samples[start : start + RATE // 10])

            count = 0
            for _utterance in transcriber.utterances(timeout=10.0):  # ends after 10 s without an utterance
                count += 1  # each one was printed by show() before the iterator handed it out
                if args.input is None and count == 2:
                    break  # the generated speech has two utterances
    print("done: %d utterance(s)" % count, file=sys.stderr)


if __name__ == "__main__":
    main()
