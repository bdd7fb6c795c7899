"""Benchmark: realtime_sync against the naive floor and the official SDK, GA wire.

Prints one table, every figure beside its target. A server in ANOTHER process
(``_ga_stream.py``) streams a long spoken reply in the GA dialect -- by
default 10 minutes: 12,000 ``response.output_audio.delta`` events of 50 ms
pcm16 and 1,200 transcript deltas, 13,211 events, shapes checked against
``openai.types.realtime`` -- as fast as the client reads, on loopback.

Contenders, run in alternating rounds (``--rounds``, 5 by default) so all see
the same machine load; each figure is the median of the per-round ratios:

* ``floor``: websocket-client's blocking ``recv()`` + ``json.loads`` + base64
  decode of each audio delta, the decoded audio kept (a list of bytes);
* ``RealtimeClient`` (``protocol="ga"``): the whole library, the Conversation
  keeping the item and all its audio decoded to one int16 array;
* ``raw floor``: ``recv()`` + ``json.loads``, nothing else;
* ``RealtimeAPI`` (``protocol="ga"``): the socket layer, a ``server.*``
  callback counting events (the raw events, no conversation);
* ``openai SDK``: ``OpenAI(websocket_base_url=...).realtime.connect()`` (the
  SDK's synchronous GA connection), iterating its typed events and
  base64-decoding each audio delta, kept, as its users must;
* sending: ``append_input_audio(int16 array)`` of 20 ms chunks as fast as it
  returns, against ``ws.send(json.dumps(...))`` of the same chunk that the
  user base64-encodes, to a sink that reads and discards.

Wall time is from the request that starts the stream to the last event
handled (connection set-up is not timed). CPU is the client process's time
(all its threads; the server runs elsewhere) per event; it is the steadier
figure on a loaded machine, and the table gives both.

Also printed, with their targets: the peak and steady memory of a fresh
process that receives a ``--memory-minutes`` (60) reply through
RealtimeClient, over the raw PCM it holds (``_memory.PeakMemory``: anonymous
resident pages plus the conversation's audio memory files, sampled every
``_SAMPLE_EVERY`` deltas, or the kernel's ``VmHWM`` reset just before the
stream, whichever is larger; both minus what the process held just before
the stream; the floor measured the same way); the paced latency from
the server writing a delta to the ``conversation.updated`` callback (p99
target well under 2 ms), beside a bare websocket-client loop on the same
paced stream (what the loaded machine itself adds); the CPU of an idle connected client (about 0); and
the import time of ``realtime_sync`` against the ``openai`` package with what
its realtime connection loads before its first event (the resource, its
pydantic event types, ``websockets``), each in a fresh interpreter, minus an
empty one (medians of 5).

Usage::

    python benchmarks/bench_floor.py [--minutes 10] [--rounds 5] [--memory-minutes 60]
                                     [--latency-events 300] [--idle 3] [--profile NAME]
                                     [--only send,append]
"""

from __future__ import annotations

import argparse
import base64
import compileall
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import websocket
from _ga_stream import (
    CHUNK_MS,
    ITEM_ID,
    MODEL,
    RESPONSE_ID,
    SAMPLE_RATE,
    audio_delta_count,
    epilogue,
    prologue,
    reply_event_count,
    session_created,
    start_server_process,
)
from _memory import PeakMemory

__all__ = ["main"]

Run = Callable[[str, float], Dict[str, float]]

# -- receiving ------------------------------------------------------------------------


def floor_full(url: str, minutes: float) -> Dict[str, float]:
    """recv + json.loads + base64 decode of each audio delta, the audio kept."""
    ws = websocket.create_connection(url, timeout=60, skip_utf8_validation=True)
    try:
        loads, b64decode = json.loads, base64.b64decode
        kept: List[bytes] = []
        count = 0
        ws.recv()  # session.created
        started, cpu0 = time.perf_counter(), time.process_time()
        ws.send(json.dumps({"type": "response.create"}))
        while True:
            event = loads(ws.recv())
            count += 1
            kind = event["type"]
            if kind == "response.output_audio.delta":
                kept.append(b64decode(event["delta"]))
            elif kind == "response.done":
                break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        ws.close()
    return {"seconds": elapsed, "cpu": cpu, "events": count + 1, "samples": sum(map(len, kept)) // 2}


def floor_raw(url: str, minutes: float) -> Dict[str, float]:
    """recv + json.loads, nothing else."""
    ws = websocket.create_connection(url, timeout=60, skip_utf8_validation=True)
    try:
        loads = json.loads
        count = 0
        ws.recv()
        started, cpu0 = time.perf_counter(), time.process_time()
        ws.send(json.dumps({"type": "response.create"}))
        while True:
            event = loads(ws.recv())
            count += 1
            if event["type"] == "response.done":
                break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        ws.close()
    return {"seconds": elapsed, "cpu": cpu, "events": count + 1}


def client_full(url: str, minutes: float) -> Dict[str, float]:
    """RealtimeClient (GA): the conversation keeps the item and its audio as int16."""
    from realtime_sync import RealtimeClient

    client = RealtimeClient(url=url, protocol="ga")
    done = threading.Event()
    errors: List[Any] = []
    client.on("error", errors.append)
    client.realtime.on("server.response.done", lambda event: done.set())
    client.connect(timeout=30)
    try:
        if not client.wait_for_session_created(timeout=30):
            raise RuntimeError("no session.created")
        started, cpu0 = time.perf_counter(), time.process_time()
        client.create_response()
        if not done.wait(600):
            raise RuntimeError("RealtimeClient: no response.done")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        item = client.conversation.get_item(ITEM_ID)
        samples = int(item["formatted"]["audio"].shape[0]) if item is not None else 0
    finally:
        client.disconnect()
    if errors:
        raise RuntimeError(f"RealtimeClient reported errors: {errors[:3]}")
    expected = audio_delta_count(minutes) * SAMPLE_RATE * CHUNK_MS // 1000
    if samples != expected:
        raise RuntimeError(f"the conversation kept {samples} samples, not {expected}")
    return {"seconds": elapsed, "cpu": cpu, "events": reply_event_count(minutes), "samples": samples}


def api_raw(url: str, minutes: float) -> Dict[str, float]:
    """RealtimeAPI (GA): a server.* callback counting the raw events."""
    from realtime_sync import RealtimeAPI

    api = RealtimeAPI(url=url, protocol="ga")
    done = threading.Event()
    first = threading.Event()
    counter = [0]

    def on_event(event: Dict[str, Any]) -> None:
        counter[0] += 1
        kind = event["type"]
        if kind == "response.done":
            done.set()
        elif kind == "session.created":
            first.set()

    api.on("server.*", on_event)
    api.connect(timeout=30)
    try:
        if not first.wait(30):
            raise RuntimeError("no session.created")
        started, cpu0 = time.perf_counter(), time.process_time()
        api.send("response.create")
        if not done.wait(600):
            raise RuntimeError("RealtimeAPI: no response.done")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        api.disconnect()
    return {"seconds": elapsed, "cpu": cpu, "events": counter[0]}


def sdk_full(url: str, minutes: float) -> Dict[str, float]:
    """The openai SDK's sync GA connection, decoding (and keeping) each audio delta."""
    from openai import OpenAI

    sdk = OpenAI(api_key="sk-test", websocket_base_url=url)
    kept: List[bytes] = []
    count = 0
    b64decode = base64.b64decode
    with sdk.realtime.connect(model=MODEL) as connection:
        events = iter(connection)
        next(events)  # session.created
        started, cpu0 = time.perf_counter(), time.process_time()
        connection.response.create()
        for event in events:
            count += 1
            if event.type == "response.output_audio.delta":
                kept.append(b64decode(event.delta))
            elif event.type == "response.done":
                break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return {"seconds": elapsed, "cpu": cpu, "events": count + 1, "samples": sum(map(len, kept)) // 2}


# -- sending ----------------------------------------------------------------------------

_SEND_CHUNK_MS = 20


def _chunks(minutes: float) -> Tuple[List[np.ndarray], int]:
    size = SAMPLE_RATE * _SEND_CHUNK_MS // 1000
    count = int(round(minutes * 60 * 1000 / _SEND_CHUNK_MS))
    rng = np.random.default_rng(1)
    distinct = [(rng.standard_normal(size) * 3000).astype(np.int16) for _ in range(16)]
    return distinct, count


def send_floor(url: str, minutes: float) -> Dict[str, float]:
    """ws.send(json.dumps(...)) of each 20 ms chunk, base64-encoded by the user."""
    distinct, count = _chunks(minutes)
    ws = websocket.create_connection(url, timeout=60, skip_utf8_validation=True)
    try:
        ws.recv()
        dumps, b64encode = json.dumps, base64.b64encode
        started, cpu0 = time.perf_counter(), time.process_time()
        for index in range(count):
            chunk = distinct[index % 16]
            ws.send(dumps({"type": "input_audio_buffer.append", "audio": b64encode(chunk.tobytes()).decode("ascii")}))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        ws.close()
    return {"seconds": elapsed, "cpu": cpu, "events": count}


def send_client(url: str, minutes: float) -> Dict[str, float]:
    """RealtimeClient.append_input_audio(int16 array) of each 20 ms chunk."""
    from realtime_sync import RealtimeClient

    distinct, count = _chunks(minutes)
    client = RealtimeClient(url=url, protocol="ga")
    client.connect(timeout=30)
    try:
        if not client.wait_for_session_created(timeout=30):
            raise RuntimeError("no session.created")
        append = client.append_input_audio
        started, cpu0 = time.perf_counter(), time.process_time()
        for index in range(count):
            append(distinct[index % 16])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        client.disconnect()
    return {"seconds": elapsed, "cpu": cpu, "events": count}


# -- rounds -----------------------------------------------------------------------------


def rounds(
    contenders: List[Tuple[str, Run, str]], urls: Dict[str, str], minutes: float, n_rounds: int
) -> Dict[str, List[Dict[str, float]]]:
    """Run every contender once per round, in turn; return each one's runs."""
    results: Dict[str, List[Dict[str, float]]] = {name: [] for name, _, _ in contenders}
    for index in range(n_rounds):
        order = contenders if index % 2 == 0 else contenders[::-1]
        for name, run, target in order:
            results[name].append(run(urls[target], minutes))
    return results


def ratio(results: Dict[str, List[Dict[str, float]]], ours: str, floor: str, key: str) -> Tuple[float, float, float]:
    """Median, lowest and highest of the per-round ratios ours / floor."""
    values = [a[key] / b[key] for a, b in zip(results[ours], results[floor])]
    return statistics.median(values), min(values), max(values)


# -- memory (in a fresh process) ------------------------------------------------------------


_SAMPLE_EVERY = 20  # audio deltas between two memory samples (each reads /proc: ~0.1 ms)


def memory_child(url: str, minutes: float, who: str) -> None:
    """Receive the reply (in this fresh process) and print its memory figures as JSON (bytes).

    The peak is :class:`_memory.PeakMemory`'s: anonymous resident pages plus
    the conversation's audio memory files, sampled every
    ``_SAMPLE_EVERY`` audio deltas, or the kernel's ``VmHWM``, whichever is
    larger (``VmHWM`` alone misses the file pages a grown map has not touched).
    """
    memory = PeakMemory()
    if who == "client":
        from realtime_sync import RealtimeClient

        client = RealtimeClient(url=url, protocol="ga")
        done = threading.Event()
        deltas = [0]

        def on_delta(event: Dict[str, Any]) -> None:  # after the conversation took the delta in
            deltas[0] += 1
            if deltas[0] % _SAMPLE_EVERY == 0:
                memory.sample()

        client.realtime.on("server.response.output_audio.delta", on_delta)
        client.realtime.on("server.response.done", lambda event: done.set())
        client.connect(timeout=30)
        client.wait_for_session_created(timeout=30)
        memory.start()
        client.create_response()
        if not done.wait(900):
            raise RuntimeError("no response.done")
        item = client.conversation.get_item(ITEM_ID)
        assert item is not None
        held = int(item["formatted"]["audio"].nbytes)
        memory.stop()
        steady = memory.steady()
        client.disconnect()
    else:  # the floor: chunks kept as bytes, as decoded
        ws = websocket.create_connection(url, timeout=60, skip_utf8_validation=True)
        ws.recv()
        memory.start()
        ws.send(json.dumps({"type": "response.create"}))
        kept: List[bytes] = []
        while True:
            event = json.loads(ws.recv())
            if event["type"] == "response.output_audio.delta":
                kept.append(base64.b64decode(event["delta"]))
                if len(kept) % _SAMPLE_EVERY == 0:
                    memory.sample()
            elif event["type"] == "response.done":
                break
        held = sum(map(len, kept))
        memory.stop()
        steady = memory.steady()
        ws.close()
    print(json.dumps({"peak": memory.peak(), "sampled": memory.sampled, "high_water": memory.high_water,
                      "steady": steady, "held": held}))


def memory(minutes: float, who: str) -> Dict[str, float]:
    url, _, stop = start_server_process(minutes, cache=False)
    try:
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--memory-child", who, url, str(minutes)],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        stop()
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    held = figures["held"]
    high_water = figures["high_water"]
    return {
        "held_mb": held / 1e6,
        "peak": figures["peak"] / held,
        "sampled": figures["sampled"] / held,
        "high_water": float("nan") if high_water is None else high_water / held,
        "steady": figures["steady"] / held,
    }


# -- paced latency and idle (GA, in-process server) -------------------------------------------


def latency_ga(n_events: int, interval: float) -> Tuple[float, float]:
    """p50, p99 (ms) from the server writing a GA audio delta to conversation.updated."""
    from bench_client import PacedServer, _percentiles

    from realtime_sync import RealtimeClient

    server = PacedServer(n_events, interval, preamble=[session_created()] + prologue(), epilogue=epilogue(""))
    server._delta = dict(server._delta, type="response.output_audio.delta", item_id=ITEM_ID, response_id=RESPONSE_ID)
    client = RealtimeClient(url=server.url, protocol="ga")
    called: List[float] = []
    stamps: List[float] = []
    done = threading.Event()

    def on_updated(payload: Dict[str, Any]) -> None:
        if payload["delta"] is not None and "audio" in payload["delta"]:
            called.append(time.perf_counter())
            if len(called) == n_events:
                done.set()

    client.on("conversation.updated", on_updated)
    client.realtime.on("server.response.output_audio.delta", lambda event: stamps.append(event["t_sent"]))
    try:
        client.connect(timeout=30)
        if not done.wait(120):
            raise RuntimeError("the latency run did not finish")
    finally:
        client.disconnect()
        server.stop()
    return _percentiles([seen - sent for seen, sent in zip(called, stamps)])


def latency_bare_ga(n_events: int, interval: float) -> Tuple[float, float]:
    """p50, p99 (ms) of the same paced stream through a bare websocket-client loop (the machine's floor)."""
    from bench_client import PacedServer, _percentiles

    server = PacedServer(n_events, interval, preamble=[session_created()] + prologue(), epilogue=epilogue(""))
    server._delta = dict(server._delta, type="response.output_audio.delta", item_id=ITEM_ID, response_id=RESPONSE_ID)
    ws = websocket.create_connection(server.url, timeout=60, skip_utf8_validation=True)
    lags: List[float] = []
    try:
        ws.send(json.dumps({"type": "response.create"}))
        while len(lags) < n_events:
            event = json.loads(ws.recv())
            if event["type"] == "response.output_audio.delta":
                base64.b64decode(event["delta"])
                lags.append(time.perf_counter() - event["t_sent"])
    finally:
        ws.close()
        server.stop()
    return _percentiles(lags)


def idle_ga(seconds: float) -> Tuple[float, float]:
    """Process CPU seconds while a connected GA client waits ``seconds`` for an item."""
    from bench_client import PacedServer

    from realtime_sync import RealtimeClient

    server = PacedServer(0, 0.0, preamble=[session_created()], epilogue=[])
    client = RealtimeClient(url=server.url, protocol="ga")
    try:
        client.connect(timeout=30)
        client.wait_for_session_created(timeout=10)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        client.wait_for_next_item(timeout=seconds)
        return time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        client.disconnect()
        server.stop()


def idle_bare(seconds: float) -> float:
    """Process CPU seconds of a bare ``threading.Event().wait(seconds)``: what waiting costs on this machine.

    On some virtual machines the timer and accounting alone bill a few ms
    per second of a blocked wait to the process; the client's idle figure is
    judged over this.
    """
    cpu0 = time.process_time()
    threading.Event().wait(seconds)
    return time.process_time() - cpu0


def import_times(rounds_: int = 5) -> Dict[str, float]:
    """Median wall time (s) of each import in a fresh interpreter, minus an empty interpreter."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    programs = {
        "empty": "pass",
        "realtime_sync": "from realtime_sync import RealtimeClient",
        "openai": "from openai import OpenAI",
        # what the SDK's realtime connection has loaded by its first event: the
        # resource, its typed events (pydantic models) and websockets
        "openai_realtime": "from openai import OpenAI; import openai.resources.realtime, openai.types.realtime, "
        "websockets.sync.client",
    }
    # Bytecode as an installed package has it (pip compiles on install; the
    # openai package's is in site-packages): without it, a PYTHONDONTWRITEBYTECODE
    # environment would time compiling this package's sources on every run.
    compileall.compile_dir(os.path.join(here, "realtime_sync"), quiet=1)
    times: Dict[str, List[float]] = {name: [] for name in programs}
    for _ in range(rounds_):
        for name, program in programs.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", program], check=True, cwd=here)
            times[name].append(time.perf_counter() - started)
    empty = statistics.median(times["empty"])
    return {name: statistics.median(values) - empty for name, values in times.items() if name != "empty"}


# -- main ----------------------------------------------------------------------------------------


def _json_backend() -> str:
    from realtime_sync._transport import encoding

    return str(encoding.JSON_BACKEND)


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the streamed reply")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (medians of the ratios)")
    parser.add_argument("--memory-minutes", type=float, default=60.0, help="reply length of the RSS run (0: skip)")
    parser.add_argument("--latency-events", type=int, default=300)
    parser.add_argument("--interval", type=float, default=20.0, help="ms between paced deltas")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle waiting to measure")
    parser.add_argument("--profile", help="cProfile one contender (floor, client, raw, api, sdk, send, append)")
    parser.add_argument(
        "--only",
        help="comma-separated contenders to run (e.g. send,append): only their rows, no memory/latency/idle/import",
    )
    parser.add_argument(
        "--json", choices=("auto", "stdlib"), default="auto", help="stdlib: run realtime_sync without orjson"
    )
    parser.add_argument("--memory-child", nargs=3, metavar=("WHO", "URL", "MINUTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.json == "stdlib":
        sys.modules["orjson"] = None  # type: ignore[assignment]  # realtime_sync's fallback: the json module
    if args.memory_child:
        who, url, minutes = args.memory_child
        memory_child(url, float(minutes), who)
        return 0

    receive: List[Tuple[str, Run, str]] = [
        ("floor", floor_full, "stream"),
        ("client", client_full, "stream"),
        ("raw", floor_raw, "stream"),
        ("api", api_raw, "stream"),
        ("sdk", sdk_full, "stream"),
        ("send", send_floor, "sink"),
        ("append", send_client, "sink"),
    ]
    try:
        import openai.resources.realtime.realtime  # noqa: F401 - the GA connection (recent openai releases)
    except ImportError:
        print("  (this openai package has no GA realtime connection: the SDK row is skipped; pip install -U openai)")
        receive = [c for c in receive if c[0] != "sdk"]
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(wanted) - {name for name, _, _ in receive})
        if unknown:
            parser.error(f"--only: unknown contender(s) {', '.join(unknown)}")
        receive = [c for c in receive if c[0] in wanted]
    stream_url, sink_url, stop = start_server_process(args.minutes)
    urls = {"stream": stream_url, "sink": sink_url}
    try:
        if args.profile:
            import cProfile
            import pstats

            run = {name: fn for name, fn, _ in receive}[args.profile]
            target = {name: t for name, _, t in receive}[args.profile]
            profile = cProfile.Profile()
            profile.enable()
            run(urls[target], args.minutes)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return 0
        for _name, run, target in receive:  # warm-up: imports, first connections
            run(urls[target], args.minutes)
        results = rounds(receive, urls, args.minutes, args.rounds)
    finally:
        stop()

    n_events = reply_event_count(args.minutes)
    if set(results) - {"send", "append"}:
        what = f"a {args.minutes:g}-minute GA audio reply, {n_events:,} events"
    else:
        what = f"{_chunks(args.minutes)[1]:,} input chunks of {_SEND_CHUNK_MS} ms sent"
    print(
        f"== {what} over loopback (server in another "
        f"process); {args.rounds} alternating rounds; ratios are medians of per-round ratios [lowest-highest]"
    )
    print(f"  {'':44s} {'wall s':>7s} {'events/s':>9s} {'CPU us/ev':>9s}")
    labels = {
        "floor": "floor: recv + json.loads + b64decode, kept",
        "client": "RealtimeClient GA, full conversation",
        "raw": "raw floor: recv + json.loads",
        "api": "RealtimeAPI GA, server.* callback",
        "sdk": "openai SDK sync GA connection + decode",
        "send": "send floor: ws.send(json.dumps(b64))",
        "append": "append_input_audio(int16), 20 ms chunks",
    }
    for name, runs in results.items():
        wall = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu"] / r["events"] for r in runs) * 1e6
        events = runs[0]["events"]
        print(f"  {labels[name]:44s} {wall:7.3f} {events / wall:9.0f} {cpu:9.1f}")

    rows: List[Tuple[str, str, str, float, bool]] = [
        ("RealtimeClient full conversation vs the naive floor", "client", "floor", 0.8, False),
        ("RealtimeAPI raw events vs bare recv + json.loads", "api", "raw", 0.7, False),
        ("RealtimeClient vs the openai SDK's sync GA connection", "client", "sdk", 0.25, False),
        ("append_input_audio(int16) 20 ms vs bare send(json.dumps)", "append", "send", 1.3, False),
    ]
    print("== the issue's table (ours / theirs; lower is better)")
    print(f"  {'':58s} {'wall':>22s} {'CPU':>22s} {'target':>7s}  verdict (wall, CPU)")
    for label, ours, theirs, target, _ in rows:
        if ours not in results or theirs not in results:
            continue
        w = ratio(results, ours, theirs, "seconds")
        c = ratio(results, ours, theirs, "cpu")
        print(
            f"  {label:58s} {w[0]:5.2f}x [{w[1]:.2f}-{w[2]:.2f}]     {c[0]:5.2f}x [{c[1]:.2f}-{c[2]:.2f}]    "
            f" <={target:.2f}x  {_verdict(w[0], target)}, {_verdict(c[0], target)}"
        )
    if args.only:
        versions = f"python {sys.version.split()[0]}, websocket-client {websocket.__version__}"
        print(f"{versions}, JSON {_json_backend()} (--only {args.only})")
        return 0
    if args.memory_minutes > 0:
        mem = memory(args.memory_minutes, "client")
        floor_mem = memory(args.memory_minutes, "floor")
        print(
            f"  {'peak memory over raw PCM held, ' + format(args.memory_minutes, 'g') + '-minute reply':58s} "
            f"{mem['peak']:5.2f}x (sampled {mem['sampled']:.2f}x, VmHWM {mem['high_water']:.2f}x; "
            f"steady {mem['steady']:.2f}x, {mem['held_mb']:.0f} MB held)"
            f"{'':4s} <=1.15x  {_verdict(mem['peak'], 1.15)}"
        )
        print(
            f"  {'  (floor: decoded chunks kept as a list of bytes)':58s} "
            f"{floor_mem['peak']:5.2f}x (steady {floor_mem['steady']:.2f}x)"
        )
    p50, p99 = latency_ga(args.latency_events, args.interval / 1000.0)
    bare50, bare99 = latency_bare_ga(args.latency_events, args.interval / 1000.0)
    print(
        f"  {'paced latency, server write -> conversation.updated (GA)':58s} p50 {p50:.3f} ms, p99 {p99:.3f} ms"
        f"{'':6s} p99 <2 ms  {_verdict(p99, 2.0)}"
    )
    print(f"  {'  (bare websocket-client loop, same run: the machine)':58s} p50 {bare50:.3f} ms, p99 {bare99:.3f} ms")
    cpu, wall = idle_ga(args.idle)
    bare_cpu = idle_bare(args.idle)
    print(
        f"  {'idle CPU, a connected client waiting ' + format(wall, '.1f') + ' s':58s} {cpu * 1000:.2f} ms "
        f"({100 * max(cpu - bare_cpu, 0.0) / wall:.3f}% of a core over a bare wait)  ~0       "
        f"{_verdict(max(cpu - bare_cpu, 0.0) / wall, 0.001)}"
    )
    print(f"  {'  (a bare threading.Event().wait, same length: the machine)':58s} {bare_cpu * 1000:.2f} ms")
    imports = import_times()
    ours, sdk = imports["realtime_sync"], imports["openai_realtime"]
    print(
        f"  {'import time: realtime_sync vs openai + its realtime loads':58s} "
        f"{ours * 1000:.0f} ms vs {sdk * 1000:.0f} ms, {sdk / ours:.1f}x faster{'':4s} ~7x faster  "
        f"{'met' if sdk / ours >= 5 else 'MISSED'}"
    )
    print(f"  {'  (import openai alone)':58s} {imports['openai'] * 1000:.0f} ms, {imports['openai'] / ours:.1f}x ours")
    print(
        f"python {sys.version.split()[0]}, websocket-client {websocket.__version__}, JSON {_json_backend()}; "
        "2 shared cores: compare ratios"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
