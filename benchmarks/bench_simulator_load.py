"""Benchmark: how many real-time sessions one simulator process serves, with a light client.

``bench_sessions.py`` measures N ``RealtimeClient`` sessions in one process;
at a few hundred sessions that client process is itself the limit, so it
cannot tell whether the simulator keeps up. This script loads the same
simulator process (``bench_sessions.py --serve``: real-time pacing, server
VAD, one long spoken reply per session) from a client that costs little: N
raw GA WebSocket sessions on one asyncio thread (``websockets``), each
appending a 100 ms chunk of quiet noise every 100 ms and reading its reply.

For each N it prints the simulator's CPU (user and system, from /proc) as a
share of one core and per second of reply audio delivered to one session
(the load-independent figure: on a shared machine compare these, not wall
time), how fast the slowest and the median session received its reply (1.00x
is real time), the p99 delay from the simulator handing an audio delta to its
socket to this client reading it, the client's own CPU, and the simulator's
threads.

Usage::

    python benchmarks/bench_simulator_load.py                    # N = 100, 300
    python benchmarks/bench_simulator_load.py --sessions 100 200 300 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_sessions  # noqa: E402  (this directory: the simulator's --serve mode)

__all__ = ["main", "run_level"]

_RATE = 24000
_SESSION = {
    "type": "session.update",
    "session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}},
}


def _cpu(pids: List[str]) -> List[float]:
    """User and system CPU seconds of processes, summed."""
    total = [0.0, 0.0]
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total[0] += int(fields[11]) / tick
        total[1] += int(fields[12]) / tick
    return total


def _threads(pids: List[str]) -> int:
    """Threads of processes, summed (``Threads:`` of /proc/PID/status)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            total += next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    return total


async def _level(url: str, pids: List[str], n: int, warmup: float, seconds: float) -> Dict[str, Any]:
    from websockets.asyncio.client import connect

    noise = (np.random.default_rng(2).standard_normal(_RATE // 10) * 10).astype(np.int16)  # about -70 dBFS
    append = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(noise.tobytes()).decode()})
    connections = [await connect(url, compression=None, max_size=None, ping_interval=None) for _ in range(n)]
    for ws in connections:
        await ws.send(json.dumps(_SESSION))
        await ws.send(json.dumps({"type": "response.create"}))
    samples = [0] * n
    lags: List[float] = []
    errors = [0]
    recording = [False]

    async def reader(index: int, ws: Any) -> None:
        async for message in ws:
            head = message[:200]
            if recording[0] and '"response.output_audio.delta"' in head:
                event = json.loads(message)
                samples[index] += len(event["delta"]) * 3 // 8  # base64 characters -> int16 samples
                if "t_sent" in event:
                    lags.append(time.monotonic() - event["t_sent"])
            elif '"type": "error"' in head:
                errors[0] += 1

    readers = [asyncio.ensure_future(reader(i, ws)) for i, ws in enumerate(connections)]
    stop = asyncio.Event()

    async def pacer() -> None:
        due = time.monotonic()
        while not stop.is_set():
            for ws in connections:
                await ws.send(append)
            due += 0.1
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    pacing = asyncio.ensure_future(pacer())
    await asyncio.sleep(warmup)
    recording[0] = True
    cpu0, own0, wall0 = _cpu(pids), time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, own, wall = _cpu(pids), time.process_time() - own0, time.monotonic() - wall0
    threads = _threads(pids)
    recording[0] = False
    stop.set()
    await pacing
    for ws in connections:
        await ws.close()
    for task in readers:
        task.cancel()
    speeds = sorted(s / _RATE / wall for s in samples)
    user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    lags.sort()
    return {
        "n": n,
        "sim_user_share": user / wall,
        "sim_system_share": system / wall,
        "sim_ms_per_session_second": (user + system) / max(sum(samples) / _RATE, 1e-9) * 1000,
        "slowest_x_realtime": speeds[0],
        "median_x_realtime": statistics.median(speeds),
        "p99_lag_ms": lags[int(0.99 * (len(lags) - 1))] * 1000 if lags else float("nan"),
        "client_cpu_share": own / wall,
        "sim_threads": threads,
        "errors": errors[0],
    }


def _start_workers(count: int, seconds: float) -> Tuple[str, List[str], List[Any]]:
    """``count`` simulator processes on one port, as ``--workers`` runs them: the URL, their pids and processes."""
    from realtime_sync.simulator.workers import _reserve

    reserved = _reserve("127.0.0.1", 0)
    port = reserved.getsockname()[1]
    procs = [
        subprocess.Popen(
            [sys.executable, bench_sessions.__file__, "--serve", str(seconds), "--serve-port", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    pids = [proc.stdout.readline().split()[3] for proc in procs]  # type: ignore[union-attr]
    reserved.close()
    return f"ws://127.0.0.1:{port}", pids, procs


def run_level(n: int, seconds: float, warmup: float, workers: int = 1) -> Dict[str, Any]:
    """N light sessions against fresh simulator processes (``workers`` of them on one port); the figures."""
    if workers > 1:
        url, pids, procs = _start_workers(workers, warmup + seconds + 30)
    else:
        url, _, pid, proc = bench_sessions.start_server(warmup + seconds + 30)
        pids, procs = [pid], [proc]
    try:
        return asyncio.run(_level(url + "/v1/realtime", pids, n, warmup, seconds))
    finally:
        for proc in procs:
            bench_sessions.stop_server(proc)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 300], help="the levels N (default 100 300)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument(
        "--workers", type=int, default=1, help="simulator processes on one port, as --workers of the simulator (Linux)"
    )
    args = parser.parse_args(argv)
    bench_sessions._raise_nofile()
    where = "one simulator process" if args.workers == 1 else f"{args.workers} simulator processes on one port"
    print(f"== {where}, N light GA sessions (100 ms chunks in, a paced spoken reply out); "
          f"{args.warmup:g} s warm-up, {args.seconds:g} s measured; CPU: all the simulator processes together")
    print(f"  {'N':>5s} {'sim CPU (user+sys)':>20s} {'per session-s':>13s} {'slowest':>8s} {'median':>7s} "
          f"{'p99 lag':>9s} {'client':>7s} {'threads':>7s}  real time?")
    for n in args.sessions:
        r = run_level(n, args.seconds, args.warmup, args.workers)
        carried = r["slowest_x_realtime"] >= 0.95 and r["errors"] == 0
        print(f"  {n:5d} {(r['sim_user_share'] + r['sim_system_share']) * 100:5.0f}% "
              f"({r['sim_user_share'] * 100:3.0f}+{r['sim_system_share'] * 100:3.0f}%) "
              f"{r['sim_ms_per_session_second']:9.2f} ms {r['slowest_x_realtime']:7.2f}x {r['median_x_realtime']:6.2f}x "
              f"{r['p99_lag_ms']:6.1f} ms {r['client_cpu_share'] * 100:6.0f}% {r['sim_threads']:7d}  "
              f"{'yes' if carried else 'NO'}"
              + (f"  errors: {r['errors']}" if r["errors"] else ""), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
