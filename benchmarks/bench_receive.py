"""Benchmark: the receive path, bare websocket-client loop vs RealtimeAPI.

A local server (``_stream_server.py``) streams a long spoken reply -- by
default 10 minutes of 50 ms pcm16 ``response.audio.delta`` frames, 12000
frames of about 3.4 kB -- as fast as the client reads. Side by side, in one
run, alternating so both see the same machine load:

* ``bare``: websocket-client's blocking ``recv()`` + ``json.loads`` + base64
  decode in a plain loop: the least a client can do per frame.
* ``RealtimeAPI``: the library with its defaults, a ``server.*`` callback that
  base64-decodes each delta; frames are read by the connection's own buffered
  frame reader on the receive thread (``realtime_sync/_transport/frames.py``),
  parsed once and dispatched twice (``server.response.audio.delta``,
  ``server.*``).

The target is ``bare / RealtimeAPI <= 1.2`` (RealtimeAPI within 1.2x).
``--split`` adds two columns that take the difference apart: ``bare +
dispatch`` (the bare loop feeding the same EventHandler dispatch as
RealtimeAPI: the library's own per-event cost) and ``bare, on a thread``
(the bare loop unchanged, but run on a background thread, where RealtimeAPI's
receive loop must run).

What was configured, and why (found with ``--profile``, cProfile):
websocket-client validates the UTF-8 of every text frame in pure Python by
default (``_utils._validate_utf8``, a per-byte loop unless the unmaintained
``wsaccel`` is installed). On 3.4 kB frames that check costs more than the
rest of the path together. Both loops here pass ``skip_utf8_validation=True``
-- RealtimeAPI always does -- because decoding the frame with
``bytes.decode("utf-8")`` (RealtimeAPI) or ``str`` (``recv()``) before
``json.loads`` validates UTF-8 in C and rejects the same bad frames. The bare
loop is otherwise websocket-client's ordinary ``create_connection``
configuration, plus a socket timeout (60 s) because RealtimeAPI keeps one
(30 s) too: a library must not let a stalled read or write hang a thread for
ever. With a timeout CPython polls before every ``recv()`` (about 2.5 us per
frame here, three reads per frame); a blocking socket would save that in both
loops. ``--default-bare`` adds the bare loop with websocket-client's
out-of-the-box UTF-8 check, for comparison. Frame unmasking is not a cost on
this path (servers do not mask); masking only touches what the client sends.

Two more things RealtimeAPI does on this path, both found by profiling:

* websocket-client reads each frame with several small ``recv`` calls (two
  for the header, more for the payload) and its ``WebSocketApp`` loop adds a
  ``selectors`` wait and a ping check per frame. RealtimeAPI uses
  websocket-client for the handshake only; its connection then reads the
  socket in 64 kB blocks and parses every frame in the block from one
  buffer (``FrameReader`` in ``realtime_sync/_transport/frames.py``), waiting
  in ``poll`` only when the buffer holds no complete frame. Pings are sent by
  the receive thread itself (no keep-alive thread).
* ``json.loads`` wraps ``JSONDecoder.raw_decode`` in two whitespace regex
  matches (about 1 us a frame); RealtimeAPI calls the documented
  ``raw_decode``, checks that the value ends the frame, and leaves anything
  but one bare JSON value to ``json.loads``. The bare loop keeps
  ``json.loads``, as the goal defines it.

What is left between the two columns: the two dispatches (about 0.5 us per
frame, see ``bare + dispatch``), the listener calls per frame, and
running on a background thread at all (``bare, on a thread``). Run-to-run
noise on a shared machine is several percent: compare the rounds (the
per-round ratios are printed with their spread), and prefer the CPU column.
The script also times ``disconnect()`` after each RealtimeAPI run (close
frame, the server's answer, receive thread joined).

Usage::

    python benchmarks/bench_receive.py [--minutes 10] [--rounds 5] [--split] [--default-bare] [--profile]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import pstats
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import websocket
from _stream_server import TRIGGER_EVENT, bare_loop, start_stream_server

from realtime_sync.api import RealtimeAPI
from realtime_sync.events import EventHandler

__all__ = ["main", "realtime_api_loop", "bare_dispatch_loop", "bare_loop_on_thread"]


def bare_dispatch_loop(url: str, n_frames: int) -> Dict[str, float]:
    """The bare loop, but each event goes through EventHandler dispatch as in RealtimeAPI."""
    handler = EventHandler()
    count = samples = 0
    b64decode = base64.b64decode

    def on_event(event: Dict[str, Any]) -> None:
        nonlocal count, samples
        if event["type"] == "response.audio.delta":
            samples += len(b64decode(event["delta"])) // 2
            count += 1

    handler.on("server.*", on_event)
    ws = websocket.create_connection(url, timeout=60.0, skip_utf8_validation=True)
    try:
        loads, dispatch = json.loads, handler.dispatch
        started, cpu_started = time.perf_counter(), time.thread_time()
        ws.send(json.dumps(TRIGGER_EVENT))
        while count < n_frames:
            event = loads(ws.recv())
            dispatch("server." + event["type"], event)
            dispatch("server.*", event)
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    finally:
        ws.close()
    return _result(count, elapsed, cpu, samples)


def bare_loop_on_thread(url: str, n_frames: int) -> Dict[str, float]:
    """The bare loop, unchanged, run on a background thread."""
    result: Dict[str, float] = {}
    thread = threading.Thread(target=lambda: result.update(bare_loop(url, n_frames)), name="bench-bare")
    thread.start()
    thread.join(600.0)
    if not result:
        raise RuntimeError("the bare loop on a thread did not finish")
    return result


def realtime_api_loop(url: str, n_frames: int, *, profile: Optional[cProfile.Profile] = None) -> Dict[str, float]:
    """Receive ``n_frames`` deltas through RealtimeAPI's ``server.*`` dispatch.

    The receive thread's CPU time is taken from the first delta to the last;
    ``profile`` is enabled on that thread over the same span.
    """
    api = RealtimeAPI(url)
    done = threading.Event()
    count = samples = 0
    cpu_started = cpu = 0.0
    b64decode = base64.b64decode

    def on_event(event: Dict[str, Any]) -> None:
        nonlocal count, samples, cpu_started, cpu
        if event["type"] == "response.audio.delta":
            if count == 0:
                cpu_started = time.thread_time()
                if profile is not None:
                    profile.enable()
            samples += len(b64decode(event["delta"])) // 2
            count += 1
            if count == n_frames:
                if profile is not None:
                    profile.disable()
                cpu = (time.thread_time() - cpu_started) * n_frames / max(1, n_frames - 1)
                done.set()

    api.on("server.*", on_event)
    api.connect(timeout=10.0)
    try:
        started = time.perf_counter()
        api.send("response.create")
        if not done.wait(600.0):
            raise RuntimeError(f"only {count} of {n_frames} deltas arrived")
        elapsed = time.perf_counter() - started
    finally:
        closing = time.perf_counter()
        api.disconnect()
        disconnect_s = time.perf_counter() - closing
    result = _result(count, elapsed, cpu, samples)
    result["disconnect_ms"] = disconnect_s * 1000
    return result


def _result(count: int, elapsed: float, cpu: float, samples: int) -> Dict[str, float]:
    return {
        "events": float(count),
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "cpu_us_per_event": cpu / count * 1e6,
        "audio_s": samples / 24000,
    }


def _print_profile(title: str, profile: cProfile.Profile, limit: int = 14) -> None:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(limit)
    print(f"\n--- cProfile: {title} (sorted by own time) ---")
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print("\n".join(lines[start : start + limit + 1]))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the reply (default 10)")
    parser.add_argument("--chunk-ms", type=int, default=50, help="audio per delta in ms (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs of each (default 5)")
    parser.add_argument(
        "--split",
        action="store_true",
        help="also time the bare loop with EventHandler dispatch, and on a background thread",
    )
    parser.add_argument(
        "--default-bare",
        action="store_true",
        help="also time the bare loop with websocket-client's pure-Python UTF-8 check",
    )
    parser.add_argument("--profile", action="store_true", help="print cProfile tables after the runs")
    args = parser.parse_args(argv)

    n_frames = int(round(args.minutes * 60_000 / args.chunk_ms))
    print(f"streaming {n_frames} response.audio.delta frames ({args.minutes:g} min of {args.chunk_ms} ms pcm16)")
    url, stop = start_stream_server(n_frames, chunk_ms=args.chunk_ms)
    loops: Dict[str, Callable[[], Dict[str, float]]] = {
        "bare": lambda: bare_loop(url, n_frames),
        "RealtimeAPI": lambda: realtime_api_loop(url, n_frames),
    }
    if args.split:
        loops["bare + dispatch"] = lambda: bare_dispatch_loop(url, n_frames)
        loops["bare, on a thread"] = lambda: bare_loop_on_thread(url, n_frames)
    if args.default_bare:
        loops["bare, default utf-8 check"] = lambda: bare_loop(url, n_frames, skip_utf8_validation=False)
    rates: Dict[str, List[float]] = {name: [] for name in loops}
    cpus: Dict[str, List[float]] = {name: [] for name in loops}
    disconnect_ms: List[float] = []
    try:
        # one untimed warm-up of each, then alternate
        for loop in loops.values():
            loop()
        for round_index in range(args.rounds):
            for name, loop in loops.items():
                result = loop()
                assert result["events"] == n_frames
                rates[name].append(result["events_per_s"])
                cpus[name].append(result["cpu_us_per_event"])
                if "disconnect_ms" in result:
                    disconnect_ms.append(result["disconnect_ms"])
            print(
                f"round {round_index + 1}: "
                + ", ".join(
                    f"{name} {rates[name][-1]:,.0f}/s ({cpus[name][-1]:.1f} us cpu)" for name in loops
                )
                + f"; ratio {rates['bare'][-1] / rates['RealtimeAPI'][-1]:.2f}x wall,"
                f" {cpus['RealtimeAPI'][-1] / cpus['bare'][-1]:.2f}x cpu",
                flush=True,
            )
        if args.profile:
            profile = cProfile.Profile()
            bare_loop(url, n_frames, profile=profile)
            _print_profile("bare loop (main thread)", profile)
            profile = cProfile.Profile()
            realtime_api_loop(url, n_frames, profile=profile)
            _print_profile("RealtimeAPI (receive thread)", profile)
            if args.default_bare:
                profile = cProfile.Profile()
                bare_loop(url, n_frames, skip_utf8_validation=False, profile=profile)
                _print_profile("bare loop, default UTF-8 check", profile)
    finally:
        stop()

    median = statistics.median
    print()
    print(f"{'loop':<28}{'events/s median':>16}{'best':>9}{'cpu us/event':>14}{'x real time':>13}")
    for name in loops:
        rate = median(rates[name])
        print(
            f"{name:<28}{rate:>16,.0f}{max(rates[name]):>9,.0f}{median(cpus[name]):>14.1f}"
            f"{rate * args.chunk_ms / 1000:>13,.0f}"
        )
    wall = median(rates["bare"]) / median(rates["RealtimeAPI"])
    cpu = median(cpus["RealtimeAPI"]) / median(cpus["bare"])
    wall_rounds = [b / r for b, r in zip(rates["bare"], rates["RealtimeAPI"])]
    cpu_rounds = [r / b for b, r in zip(cpus["bare"], cpus["RealtimeAPI"])]
    print("\nRealtimeAPI cost relative to the bare loop (1.2x target):")
    print(
        f"  wall clock, events/s medians:     {wall:.2f}x  ({'within' if wall <= 1.2 else 'NOT within'} 1.2x);"
        f" rounds {min(wall_rounds):.2f}x-{max(wall_rounds):.2f}x"
    )
    print(
        f"  receive-thread CPU per event:     {cpu:.2f}x  ({'within' if cpu <= 1.2 else 'NOT within'} 1.2x);"
        f" rounds {min(cpu_rounds):.2f}x-{max(cpu_rounds):.2f}x"
    )
    print("  (the CPU figure is the steadier one on a loaded machine)")
    print(
        f"  disconnect() after a run: median {median(disconnect_ms):.1f} ms,"
        f" max {max(disconnect_ms):.1f} ms"
    )
    if args.split:
        threaded = median(rates["bare, on a thread"]) / median(rates["RealtimeAPI"])
        threaded_cpu = median(cpus["RealtimeAPI"]) / median(cpus["bare, on a thread"])
        print(
            f"  against the bare loop on a thread: {threaded:.2f}x wall, {threaded_cpu:.2f}x CPU"
        )
    print(f"python {sys.version.split()[0]}, websocket-client {websocket.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
