"""Benchmark: the cost of folding a long stream into a Conversation, in time and memory.

Four figures, each a ratio within one run (the machines are noisy):

* audio: 1, 10 and 60 minutes of 50 ms ``response.audio.delta`` events (real
  base64 payloads) into one assistant item; the cost per delta stays flat
  (about 1x) when appends are amortized O(delta);
* memory: the peak while a 60-minute reply streams in, over the samples held
  at the end: tracemalloc's peak (it counts reserved capacity) and the
  memory really used (Linux: anonymous resident pages plus the audio memory
  files, sampled after each delta, or the resident-set high-water mark if
  larger; see ``_memory.py``). Target: at most 1.15x, never 2x;
* text: 1, 8 and 64 MiB of text, transcript and function-call arguments in
  1 KiB deltas; 8x the text should cost about 8x the time (a copy per delta
  made it ~60x);
* items: 5,000 and 40,000 items created (with a response each); 8x the items
  should cost about 8x the time.

Usage::

    python benchmarks/bench_conversation.py [--minutes 1 10 60] [--format pcm16]
        [--skip audio memory text items]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from _memory import PeakMemory, status_kib

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


def memory(minutes: float = 60, chunk_ms: int = 1000) -> Dict[str, Any]:
    """Stream a ``minutes`` reply in ``chunk_ms`` deltas; peak memory over the samples held."""
    conv = Conversation()
    base = {"response_id": "resp_m", "item_id": "msg_m", "output_index": 0, "content_index": 0}
    conv.process_event({"event_id": "e1", "type": "conversation.item.created",
                        "item": {"id": "msg_m", "type": "message", "role": "assistant", "content": []}})
    conv.process_event({"event_id": "e2", "type": "response.content_part.added",
                        "part": {"type": "audio", "transcript": ""}, **base})
    size = 24_000 * chunk_ms // 1000
    payload = audio.encode_audio(audio.float_to_pcm16(0.3 * np.sin(np.arange(size) / 10.0)), "pcm16")
    event = {"event_id": "e3", "type": "response.audio.delta", "delta": payload, **base}
    count = int(minutes * 60 * 1000 // chunk_ms)
    # The pages the reply really uses (one delta payload is reused): anonymous resident pages plus the
    # audio memory files, sampled after every delta, or the kernel's VmHWM if larger (_memory.PeakMemory).
    peak_memory = PeakMemory()
    peak_memory.start()
    for _ in range(count):
        conv.process_event(event)
        peak_memory.sample()
    conv.process_event({"event_id": "e4", "type": "response.audio.done", **base})
    item = conv.get_item("msg_m")
    assert item is not None
    held = int(item["formatted"]["audio"].nbytes)
    peak_memory.stop()
    rss_peak = peak_memory.peak() / held if status_kib("VmRSS") is not None else None
    conv.clear()
    del item
    gc.collect()
    # tracemalloc: every allocation, reserved capacity included (a second run).
    conv = Conversation()
    conv.process_event({"event_id": "e1", "type": "conversation.item.created",
                        "item": {"id": "msg_m", "type": "message", "role": "assistant", "content": []}})
    conv.process_event({"event_id": "e2", "type": "response.content_part.added",
                        "part": {"type": "audio", "transcript": ""}, **base})
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(count):
            conv.process_event(event)
        conv.process_event({"event_id": "e4", "type": "response.audio.done", **base})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"minutes": minutes, "megabytes": held / 1e6, "traced_peak": (peak - start) / held,
            "resident_peak": rss_peak}


def _timed(run: Any, size: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run(size)
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


_TEXT_EVENTS = {"text": "response.text.delta", "transcript": "response.audio_transcript.delta",
                "arguments": "response.function_call_arguments.delta"}


def _feed_text(kind: str, mebibytes: int) -> None:
    conv = Conversation()
    if kind == "arguments":
        item: Dict[str, Any] = {"id": "fc_t", "type": "function_call", "name": "f", "call_id": "c", "arguments": ""}
    else:
        part = {"type": "text", "text": ""} if kind == "text" else {"type": "audio", "transcript": ""}
        item = {"id": "fc_t", "type": "message", "role": "assistant", "content": [part]}
    conv.process_event({"event_id": "e1", "type": "conversation.item.created", "item": item})
    chunk = "abcdefgh" * 128
    events = [{"event_id": "e", "type": _TEXT_EVENTS[kind], "item_id": "fc_t", "content_index": 0, "delta": chunk}
              for _ in range(mebibytes * 1024)]
    for event in events:
        conv.process_event(event)


def text(sizes: Tuple[int, ...] = (1, 8, 64)) -> List[Tuple[str, List[float]]]:
    """Seconds to stream each size (MiB) of each kind of text, 1 KiB per delta."""
    return [(kind, [_timed(lambda mib, kind=kind: _feed_text(kind, mib), size) for size in sizes])
            for kind in _TEXT_EVENTS]


def _create_items(count: int) -> None:
    conv = Conversation()
    events = []
    for n in range(count):
        events.append({"event_id": "e", "type": "response.created", "response": {"id": f"resp_{n}", "output": []}})
        events.append({"event_id": "e", "type": "conversation.item.created", "item": {
            "id": f"msg_{n}", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}})
    for event in events:
        conv.process_event(event)


def items(counts: Tuple[int, ...] = (5_000, 40_000)) -> List[float]:
    """Seconds to create each count of items (and as many responses)."""
    return [_timed(_create_items, count) for count in counts]


def main() -> None:
    """Parse arguments, run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--format", default="pcm16", choices=audio.AUDIO_FORMATS)
    parser.add_argument("--skip", nargs="*", default=[], choices=["audio", "memory", "text", "items"])
    args = parser.parse_args()
    if "audio" not in args.skip:
        _audio_figures(args.minutes, args.format)
    if "memory" not in args.skip:
        result = memory(max(args.minutes))
        resident = "n/a" if result["resident_peak"] is None else f"{result['resident_peak']:.2f}x"
        print(f"\nmemory, {result['minutes']:g}-minute reply ({result['megabytes']:.1f} MB of samples held): "
              f"peak held {resident} (target <= 1.15x; before: 2.0x, a buffer grown by copying plus a final "
              f"copy); tracemalloc peak {result['traced_peak']:.2f}x (the Python heap: from about 44 s the "
              f"samples live in memory maps, which it does not see)")
    if "text" not in args.skip:
        print("\ntext deltas, 1 KiB each: seconds for 1 / 8 / 64 MiB (target: 8x the text in about 8x the time)")
        for kind, times in text():
            print(f"  {kind:>10}: {times[0]:.4f} / {times[1]:.4f} / {times[2]:.4f} s   "
                  f"8x: {times[1] / times[0]:.1f}x, 64x: {times[2] / times[0]:.1f}x")
    if "items" not in args.skip:
        small, large = items()
        print(f"\nitems created: 5,000 in {small:.3f} s, 40,000 in {large:.3f} s: 8x the items in "
              f"{large / small:.1f}x the time (target about 8x)")
    sys.stdout.flush()


def _audio_figures(minutes_list: List[float], audio_format: str) -> None:
    print(f"Conversation.process_event, {DELTA_MS} ms {audio_format} response.audio.delta events, one item")
    print("(per-delta cost vs the first row: about 1x when appends are linear; a copy per delta")
    print(" would make it grow with the reply's length, e.g. 60x from 1 to 60 minutes)")
    print(f"{'audio':>8} {'deltas':>8} {'total s':>9} {'us/delta':>9} {'vs first':>9} {'audio.done s':>13} {'MB':>8}")
    first: Optional[float] = None
    for minutes in minutes_list:
        result = run(minutes, audio_format)
        per_delta = result["seconds"] / max(result["deltas"], 1) * 1e6
        first = per_delta if first is None else first
        print(f"{minutes:>6g} m {result['deltas']:>8d} {result['seconds']:>9.3f} {per_delta:>9.1f} "
              f"{per_delta / first:>8.2f}x {result['done_seconds']:>13.4f} {result['megabytes']:>8.1f}")


if __name__ == "__main__":
    main()
