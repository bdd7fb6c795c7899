"""Benchmark: RealtimeClient's receive path, latency and idle cost.

Part 1, throughput. A local server (``_stream_server.py``) streams one long
spoken reply -- by default 10 minutes of 50 ms pcm16 ``response.audio.delta``
frames (12000 frames of about 3.4 kB) -- as fast as the client reads. Side by
side, in one run, alternating rounds so all see the same machine load:

* ``bare``: websocket-client's blocking ``recv()`` + ``json.loads`` + base64
  decode in a plain loop, the least a client can do per frame;
* ``RealtimeClient``: the whole library -- receive thread, dispatch,
  ``realtime.event``, the Conversation keeping every item and all the audio
  (decoded to int16) -- with a ``conversation.updated`` callback counting the
  audio deltas;
* ``openai SDK``: the official ``openai`` package's synchronous beta
  connection (``OpenAI(websocket_base_url=...).beta.realtime.connect()``),
  iterating its typed events and base64-decoding each delta, as its users must.

Targets: RealtimeClient at most 1.5x the bare loop, and faster than the SDK
(which keeps no state at all).

Part 2, latency. An in-process ``websockets`` server sends deltas paced like a
real server (one every ``--interval`` ms), each stamped with
``time.perf_counter()`` just before it is written; the client's callback
reads the clock when it runs. Same process, same clock: p50/p99 of
server-write to user-callback, for the bare loop, RealtimeClient
(``conversation.updated``) and the SDK.

Part 3, idle. A connected RealtimeClient with a thread blocked in
``wait_for_next_item`` for ``--idle`` seconds: the process CPU time spent
(``time.process_time``) should be about zero (no polling).

Usage::

    python benchmarks/bench_client.py [--minutes 10] [--rounds 3] [--latency-events 300]
                                      [--interval 20] [--idle 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import websocket
from _stream_server import ITEM_ID, RESPONSE_ID, SAMPLE_RATE, bare_loop, start_stream_server

from realtime_sync import RealtimeClient

__all__ = ["main", "client_loop", "sdk_loop"]

MODEL = "gpt-4o-realtime-preview-2024-10-01"


def _item(status: str) -> Dict[str, Any]:
    return {
        "id": ITEM_ID,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "audio", "transcript": ""}] if status == "completed" else [],
    }


def _response(status: str) -> Dict[str, Any]:
    return {
        "id": RESPONSE_ID,
        "object": "realtime.response",
        "status": status,
        "status_details": None,
        "output": [] if status == "in_progress" else [_item(status)],
        "usage": None,
    }


#: What a real server sends when the client connects ...
PREAMBLE: List[Dict[str, Any]] = [
    {"event_id": "event_pre1", "type": "session.created", "session": {"id": "sess_bench", "model": MODEL}},
]

#: ... then after ``response.create``, before the first audio delta of the reply ...
PROLOGUE: List[Dict[str, Any]] = [
    {"event_id": "event_pre2", "type": "response.created", "response": _response("in_progress")},
    {
        "event_id": "event_pre3",
        "type": "response.output_item.added",
        "response_id": RESPONSE_ID,
        "output_index": 0,
        "item": _item("in_progress"),
    },
    {"event_id": "event_pre4", "type": "conversation.item.created", "previous_item_id": None, "item": _item("in_progress")},
    {
        "event_id": "event_pre5",
        "type": "response.content_part.added",
        "response_id": RESPONSE_ID,
        "item_id": ITEM_ID,
        "output_index": 0,
        "content_index": 0,
        "part": {"type": "audio", "transcript": ""},
    },
]

#: ... and after the last one.
EPILOGUE: List[Dict[str, Any]] = [
    {
        "event_id": "event_post1",
        "type": "response.audio.done",
        "response_id": RESPONSE_ID,
        "item_id": ITEM_ID,
        "output_index": 0,
        "content_index": 0,
    },
    {
        "event_id": "event_post2",
        "type": "response.output_item.done",
        "response_id": RESPONSE_ID,
        "output_index": 0,
        "item": _item("completed"),
    },
    {"event_id": "event_post3", "type": "response.done", "response": _response("completed")},
]


# -- throughput ---------------------------------------------------------------------


def client_loop(url: str, n_frames: int) -> Dict[str, float]:
    """Receive the stream through RealtimeClient; time connect to the last delta's callback."""
    client = RealtimeClient(url=url, ping_interval=None)
    done = threading.Event()
    counter = {"deltas": 0, "samples": 0}

    def on_updated(payload: Dict[str, Any]) -> None:
        delta = payload["delta"]
        if delta is not None and "audio" in delta:
            counter["samples"] += len(delta["audio"])
            counter["deltas"] += 1
            if counter["deltas"] == n_frames:
                done.set()

    client.on("conversation.updated", on_updated)
    errors: List[Any] = []
    client.on("error", errors.append)
    client.connect(timeout=30)
    client.wait_for_session_created(timeout=30)
    # Timed like the bare loop: from the request that starts the stream to the
    # last delta's callback.
    started = time.perf_counter()
    client.create_response()
    if not done.wait(600):
        raise RuntimeError(f"RealtimeClient got {counter['deltas']} of {n_frames} deltas")
    elapsed = time.perf_counter() - started
    item = client.conversation.get_item(ITEM_ID)
    kept = len(item["formatted"]["audio"]) if item is not None else 0
    client.disconnect()
    if errors:
        raise RuntimeError(f"RealtimeClient reported errors: {errors[:3]}")
    if kept != counter["samples"]:
        raise RuntimeError(f"the conversation kept {kept} samples, the callbacks saw {counter['samples']}")
    return {"events": float(n_frames), "seconds": elapsed, "audio_s": kept / SAMPLE_RATE}


def sdk_loop(url: str, n_frames: int) -> Dict[str, float]:
    """Receive the stream through the openai SDK's sync beta connection, decoding audio."""
    from openai import OpenAI

    sdk = OpenAI(api_key="sk-test", websocket_base_url=url)
    samples = count = 0
    b64decode = base64.b64decode
    started = time.perf_counter()
    with sdk.beta.realtime.connect(model=MODEL) as connection:
        connection.response.create()
        for event in connection:
            if event.type == "response.audio.delta":
                samples += len(b64decode(event.delta)) // 2
                count += 1
                if count == n_frames:
                    break
    elapsed = time.perf_counter() - started
    return {"events": float(count), "seconds": elapsed, "audio_s": samples / SAMPLE_RATE}


def throughput(minutes: float, rounds: int) -> Dict[str, List[float]]:
    n_frames = int(minutes * 60 * 1000 / 50)
    url, stop = start_stream_server(n_frames, preamble=PREAMBLE, prologue=PROLOGUE, epilogue=EPILOGUE)
    contenders: List[Tuple[str, Callable[[str, int], Dict[str, float]]]] = [
        ("bare websocket-client loop", bare_loop),
        ("RealtimeClient (full state + callback)", client_loop),
        ("openai SDK sync beta connection", sdk_loop),
    ]
    results: Dict[str, List[Tuple[float, float]]] = {name: [] for name, _ in contenders}
    try:
        for _ in range(rounds):
            for name, run in contenders:
                cpu_started = time.process_time()
                seconds = run(url, n_frames)["seconds"]
                cpu = time.process_time() - cpu_started
                results[name].append((seconds, cpu / n_frames * 1e6))
    finally:
        stop()
    return results


# -- latency --------------------------------------------------------------------------


class PacedServer:
    """In-process websockets server: after the client's first frame, one stamped delta per interval."""

    def __init__(
        self,
        n_events: int,
        interval: float,
        preamble: Optional[List[Dict[str, Any]]] = None,
        epilogue: Optional[List[Dict[str, Any]]] = None,
    ) -> None:
        from websockets.sync.server import serve

        self.n_events = n_events
        self.interval = interval
        self.preamble = PREAMBLE + PROLOGUE if preamble is None else preamble
        self.epilogue = EPILOGUE if epilogue is None else epilogue
        chunk = base64.b64encode(b"\x00\x10" * (SAMPLE_RATE // 20)).decode("ascii")
        self._delta = {
            "type": "response.audio.delta",
            "response_id": RESPONSE_ID,
            "item_id": ITEM_ID,
            "output_index": 0,
            "content_index": 0,
            "delta": chunk,
        }
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-paced-server", daemon=True)
        self._thread.start()
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"

    def _handle(self, connection: Any) -> None:
        for event in self.preamble:
            connection.send(json.dumps(event))
        try:
            connection.recv()  # the client's first frame starts the deltas
            deadline = time.perf_counter()
            for index in range(self.n_events):
                deadline += self.interval
                pause = deadline - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                event = dict(self._delta, event_id=f"event_{index:08d}", t_sent=time.perf_counter())
                connection.send(json.dumps(event))
            for event in self.epilogue:
                connection.send(json.dumps(event))
            for _ in connection:  # until the client closes
                pass
        except Exception:  # the client went away
            return

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(10)


def _percentiles(values: List[float]) -> Tuple[float, float]:
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return p50 * 1000.0, p99 * 1000.0


def latency_bare(url: str, n_events: int) -> List[float]:
    ws = websocket.create_connection(url, timeout=60, skip_utf8_validation=True)
    lags: List[float] = []
    try:
        ws.send(json.dumps({"type": "response.create"}))
        while len(lags) < n_events:
            event = json.loads(ws.recv())
            if event["type"] == "response.audio.delta":
                base64.b64decode(event["delta"])
                lags.append(time.perf_counter() - event["t_sent"])
    finally:
        ws.close()
    return lags


def latency_client(url: str, n_events: int) -> List[float]:
    client = RealtimeClient(url=url)
    called: List[float] = []
    stamps: List[float] = []
    done = threading.Event()

    def on_updated(payload: Dict[str, Any]) -> None:
        if payload["delta"] is not None and "audio" in payload["delta"]:
            called.append(time.perf_counter())
            if len(called) == n_events:
                done.set()

    # The stamps are read by a raw-event hook (a server.<type> callback on the socket
    # layer, which runs just before the client's own handling); both lists are in
    # arrival order.
    def stamp(event: Dict[str, Any]) -> None:
        stamps.append(event["t_sent"])

    client.on("conversation.updated", on_updated)
    client.realtime.on("server.response.audio.delta", stamp)
    client.connect(timeout=30)
    try:
        if not done.wait(120):
            raise RuntimeError("latency run did not finish")
    finally:
        client.disconnect()
    if len(called) != len(stamps):
        raise RuntimeError(f"{len(called)} callbacks for {len(stamps)} deltas")
    return [seen - sent for seen, sent in zip(called, stamps)]


def latency_sdk(url: str, n_events: int) -> List[float]:
    from openai import OpenAI

    sdk = OpenAI(api_key="sk-test", websocket_base_url=url)
    lags: List[float] = []
    with sdk.beta.realtime.connect(model=MODEL) as connection:
        connection.response.create()
        for event in connection:
            if event.type == "response.audio.delta":
                base64.b64decode(event.delta)
                extra = getattr(event, "model_extra", None) or {}
                lags.append(time.perf_counter() - float(extra.get("t_sent", getattr(event, "t_sent", 0.0))))
                if len(lags) == n_events:
                    break
    return lags


def latency(n_events: int, interval: float) -> Dict[str, Tuple[float, float]]:
    results: Dict[str, Tuple[float, float]] = {}
    for name, run in (
        ("bare websocket-client loop", latency_bare),
        ("RealtimeClient conversation.updated", latency_client),
        ("openai SDK sync beta connection", latency_sdk),
    ):
        server = PacedServer(n_events, interval)
        try:
            results[name] = _percentiles(run(server.url, n_events))
        finally:
            server.stop()
    return results


# -- idle -----------------------------------------------------------------------------


def idle_cpu(seconds: float) -> Tuple[float, float]:
    """CPU seconds the process used while a connected client waited ``seconds`` idle."""
    server = PacedServer(0, 0.0, preamble=PREAMBLE, epilogue=[])
    client = RealtimeClient(url=server.url)
    try:
        client.connect(timeout=30)
        client.wait_for_session_created(timeout=10)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        assert client.wait_for_next_item(timeout=seconds) is None
        return time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        client.disconnect()
        server.stop()


# -- main -----------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the streamed reply")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per contender")
    parser.add_argument("--latency-events", type=int, default=300, help="paced deltas per latency run")
    parser.add_argument("--interval", type=float, default=20.0, help="ms between paced deltas")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle waiting to measure")
    args = parser.parse_args(argv)

    print(f"== throughput: a {args.minutes:g}-minute reply, 50 ms pcm16 deltas, {args.rounds} round(s), median")
    results = throughput(args.minutes, args.rounds)
    n_frames = int(args.minutes * 60 * 1000 / 50)
    walls = {name: statistics.median(r[0] for r in runs) for name, runs in results.items()}
    cpus = {name: statistics.median(r[1] for r in runs) for name, runs in results.items()}
    bare, bare_cpu = walls["bare websocket-client loop"], cpus["bare websocket-client loop"]
    print(f"  {'':42s} {'wall':>9s} {'events/s':>9s} {'x real time':>11s} {'vs bare':>7s}   {'CPU/event':>9s} {'vs bare':>7s}")
    for name in results:
        seconds, cpu = walls[name], cpus[name]
        print(
            f"  {name:42s} {seconds:7.3f} s {n_frames / seconds:9.0f} {args.minutes * 60 / seconds:11.0f} "
            f"{seconds / bare:6.2f}x   {cpu:6.1f} us {cpu / bare_cpu:6.2f}x"
        )
    ours, ours_cpu = walls["RealtimeClient (full state + callback)"], cpus["RealtimeClient (full state + callback)"]
    sdk, sdk_cpu = walls["openai SDK sync beta connection"], cpus["openai SDK sync beta connection"]
    print(
        f"  targets: RealtimeClient <= 1.5x bare: {'met' if ours <= 1.5 * bare else 'MISSED'} "
        f"(wall {ours / bare:.2f}x, CPU {ours_cpu / bare_cpu:.2f}x); faster than the SDK: "
        f"{'met' if ours < sdk else 'MISSED'} (wall {sdk / ours:.2f}x, CPU {sdk_cpu / ours_cpu:.2f}x)"
    )
    bare_runs = results["bare websocket-client loop"]
    for name in ("RealtimeClient (full state + callback)", "openai SDK sync beta connection"):
        ratios = [run[0] / bare_run[0] for run, bare_run in zip(results[name], bare_runs)]
        cpu_ratios = [run[1] / bare_run[1] for run, bare_run in zip(results[name], bare_runs)]
        print(
            f"  {name} vs bare, round by round: wall "
            + " ".join(f"{ratio:.2f}x" for ratio in ratios)
            + ", CPU "
            + " ".join(f"{ratio:.2f}x" for ratio in cpu_ratios)
        )
    print("  (CPU: process time per delta, all threads, the in-process stream server included;")
    print("   steadier than wall time on a loaded machine)")

    print(
        f"== latency: server write -> user callback, {args.latency_events} deltas every "
        f"{args.interval:g} ms (same process, perf_counter)"
    )
    for name, (p50, p99) in latency(args.latency_events, args.interval / 1000.0).items():
        print(f"  {name:42s} p50 {p50:6.3f} ms   p99 {p99:6.3f} ms")

    cpu, wall = idle_cpu(args.idle)
    print(f"== idle: a connected client blocked in wait_for_next_item for {wall:.2f} s")
    print(f"  process CPU {cpu * 1000:.2f} ms ({100 * cpu / wall:.3f}% of one core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
