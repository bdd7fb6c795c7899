"""Benchmark: cost of folding streamed assistant audio into a Conversation.

Feeds 1, 10 and 60 minutes of 50 ms ``response.audio.delta`` events (real
base64 payloads, as the server sends them) through
``Conversation.process_event`` into one assistant item, and prints the total
time and the cost per delta. With amortized O(delta) appends the per-delta
cost stays flat as the item grows; a copy per delta would make it grow with
the length of the reply (quadratic total).

Usage::

    python benchmarks/bench_conversation.py [--minutes 1 10 60] [--format pcm16]
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List, Optional

import numpy as np

from realtime_sync import audio
from realtime_sync.conversation import Conversation

__all__ = ["main", "run"]

DELTA_MS = 50


def _payloads(audio_format: str, count: int = 20) -> List[str]:
    """Base64 wire payloads of distinct 50 ms chunks of a 440 Hz tone."""
    rate = audio.sample_rate(audio_format)
    size = rate * DELTA_MS // 1000
    payloads = []
    for index in range(count):
        t = (np.arange(size) + index * size) / rate
        chunk = audio.float_to_pcm16(0.3 * np.sin(2 * np.pi * 440.0 * t))
        payloads.append(audio.encode_audio(chunk, audio_format))
    return payloads


def run(minutes: float, audio_format: str = "pcm16") -> Dict[str, Any]:
    """Process ``minutes`` of audio deltas; return timings in seconds."""
    conv = Conversation(output_audio_format=audio_format)
    base = {"response_id": "resp_bench", "item_id": "msg_bench", "output_index": 0, "content_index": 0}
    setup: List[Dict[str, Any]] = [
        {"event_id": "event_1", "type": "response.created",
         "response": {"id": "resp_bench", "object": "realtime.response", "status": "in_progress",
                      "status_details": None, "output": [], "usage": None}},
        {"event_id": "event_2", "type": "conversation.item.created", "previous_item_id": None,
         "item": {"id": "msg_bench", "object": "realtime.item", "type": "message",
                  "status": "in_progress", "role": "assistant", "content": []}},
        {"event_id": "event_3", "type": "response.content_part.added",
         "part": {"type": "audio", "transcript": ""}, **base},
    ]
    for event in setup:
        conv.process_event(event)
    payloads = _payloads(audio_format)
    count = int(minutes * 60 * 1000 // DELTA_MS)
    events = [
        {"event_id": f"event_d{n}", "type": "response.audio.delta", "delta": payloads[n % len(payloads)], **base}
        for n in range(count)
    ]
    start = time.perf_counter()
    for event in events:
        conv.process_event(event)
    elapsed = time.perf_counter() - start
    finish_start = time.perf_counter()
    conv.process_event({"event_id": "event_done", "type": "response.audio.done", **base})
    finish = time.perf_counter() - finish_start
    item = conv.get_item("msg_bench")
    assert item is not None
    samples = int(item["formatted"]["audio"].shape[0])
    expected = count * audio.sample_rate(audio_format) * DELTA_MS // 1000
    assert samples == expected, (samples, expected)
    return {"minutes": minutes, "deltas": count, "seconds": elapsed, "done_seconds": finish,
            "samples": samples, "megabytes": item["formatted"]["audio"].nbytes / 1e6}


def main() -> None:
    """Parse arguments, run the benchmark and print one line per duration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--format", default="pcm16", choices=audio.AUDIO_FORMATS)
    args = parser.parse_args()
    print(f"Conversation.process_event, {DELTA_MS} ms {args.format} response.audio.delta events, one item")
    print("(per-delta cost vs the first row: about 1x when appends are linear; a copy per delta")
    print(" would make it grow with the reply's length, e.g. 60x from 1 to 60 minutes)")
    print(f"{'audio':>8} {'deltas':>8} {'total s':>9} {'us/delta':>9} {'vs first':>9} {'audio.done s':>13} {'MB':>8}")
    first: Optional[float] = None
    for minutes in args.minutes:
        result = run(minutes, args.format)
        per_delta = result["seconds"] / max(result["deltas"], 1) * 1e6
        first = per_delta if first is None else first
        print(f"{minutes:>6g} m {result['deltas']:>8d} {result['seconds']:>9.3f} {per_delta:>9.1f} "
              f"{per_delta / first:>8.2f}x {result['done_seconds']:>13.4f} {result['megabytes']:>8.1f}")


if __name__ == "__main__":
    main()
