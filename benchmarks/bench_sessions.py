"""Benchmark: many concurrent sessions in one process, against a simulator in another.

A telephony or call-centre backend runs one Realtime session per caller. This
script opens N ``RealtimeClient`` sessions in this process against one
``RealtimeSimulator`` running in a separate process (``--serve`` mode of this
script: ``realtime=True`` pacing, server VAD), and streams audio both ways
at real time in every session:

* in: one pacer thread appends a 100 ms chunk of quiet noise (below the VAD
  threshold, so no turn is detected) to every session every 100 ms
  (``--pacers K`` splits the sessions over K threads). This is a modelling
  choice, and the hardest one for the interpreter lock: a media gateway that
  feeds every call from one loop. Each append is one blocking socket write,
  which releases the lock, and the pacer then waits its turn behind the
  receive threads, so at a few hundred sessions the wall time of an append
  is several times its CPU time and this one thread is the first thing to
  fall behind. A backend that appends from each call's own thread spreads
  that wait (it measured worse here, with more threads contending);
* out: each session asks for one long spoken reply, which the simulator
  streams at real time (100 ms audio deltas, a transcript delta per word).

After ``--warmup`` seconds it measures for ``--seconds`` seconds and prints,
for each N in ``--sessions``:

* memory per session: the RSS growth of this process since before the first
  session, over N (VmRSS), split into the audio the session holds (the reply
  the conversation keeps and the server-VAD window of input; it grows with
  the run's length and with how much audio arrived) and the rest, the fixed
  cost of a session, which is the figure compared across N;
* threads per session: threads started, over N;
* CPU per event: this process's CPU time over the events it received and sent
  in the window;
* latency: from the simulator handing an audio delta to its socket (a stamp
  added in the server process, ``time.monotonic``, one clock for both
  processes) to the session's ``conversation.updated`` callback; the worst
  session's p99 and the p99 of all;
* real time: the reply audio received in the window over the window's length
  (the slowest session), and how late the input pacer ran (p99 of its ticks);
* where the CPU goes: the kernel's share of this process's CPU, and context
  switches per event (per append in the pacer, per event received in the
  receive threads): waiting for the interpreter lock shows up there;
* the machine's load average during the window: the real-time figures mean
  little when other work keeps the two cores busy (CPU per event and the
  switches are steadier).

A level of N is "carried at real time" when the slowest session received at
least 95% of real time, the input pacer's p99 lateness is under 100 ms and
the worst p99 latency is under 50 ms. ``--find-max`` then keeps raising N
(x1.5) until a level is not carried, and reports the largest one that was.

``--servers K`` spreads the sessions over K simulator processes, to tell the
client's limit from the simulator's (one simulator process is one core at
most: Python's GIL); the "sim CPU" column is the busiest one's. The
simulator stands in for a service that runs on other machines; on a small
machine it competes with the client for the same cores. It serves every
session on one event-loop thread (it used to run a few threads per session,
and the scheduler, which shares a core per thread, not per process, then
kept the client's one loop thread waiting behind them). ``--server-nice N`` runs the
simulator processes at a lower priority to take that out of the client's
figures (which then starves the simulators instead); the header line says
when it was used. ``--server light`` replaces the simulators with
``_light_server.py``: one thread per process (asyncio and the
``websockets`` server) that sends the same paced GA reply (the same events,
100 ms audio deltas stamped the same way, a transcript word every 0.4 s) and
drops the input, at a small fraction of a core for 300 sessions, so the
figures are the client's (the ``simulator`` default also exercises the
simulator; its own capacity is ``bench_simulator_load.py``'s).

Targets: per-session memory, threads and CPU flat from the smallest to the
largest N (within 1.3x); p99 callback latency under 50 ms at 300 sessions;
the simulator serving 300 sessions. The soft limit of open files is raised to
the hard limit in both processes (each session is one socket here and one
there).

``--shared-loop`` gives every session the same :class:`realtime_sync.ReceiveLoop`:
one thread reads all the sockets and runs all the callbacks, instead of a
receive thread per session (the same figures; threads per session then counts
that one thread over N).

Usage::

    python benchmarks/bench_sessions.py                       # quick: N = 10, 100 (about a minute)
    python benchmarks/bench_sessions.py --sessions 10 100 300 --seconds 20
    python benchmarks/bench_sessions.py --sessions 300 --find-max
    python benchmarks/bench_sessions.py --sessions 10 100 300 --servers 3 --shared-loop   # one ReceiveLoop thread
    python benchmarks/bench_sessions.py --sessions 10 100 300 --server light --shared-loop   # a one-thread server
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["main", "run_level"]

CHUNK_MS = 100
_AUDIO_DELTAS = ("response.audio.delta", "response.output_audio.delta")


def _raise_nofile() -> Tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _status(pid: str, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _context_switches() -> Dict[int, int]:
    """Context switches of this process's threads so far (voluntary and not), from /proc, by thread id."""
    totals: Dict[int, int] = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/status") as status:
                for line in status:
                    if line.endswith("ctxt_switches:", 0, line.find(":") + 1):
                        totals[int(task)] = totals.get(int(task), 0) + int(line.split()[1])
        except OSError:  # a thread that ended meanwhile
            pass
    return totals


def _cpu_seconds(pid: str) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the server process -------------------------------------------------------------------


def serve(reply_seconds: float, shared_port: Optional[int] = None) -> int:
    """Run the simulator (real-time pacing) until stdin closes; print its port and dialect.

    ``shared_port``: listen on this port beside other processes, as the workers of
    ``python -m realtime_sync.simulator --workers N`` do (``SO_REUSEPORT``).
    """
    _raise_nofile()
    if os.environ.get(_NICE_VARIABLE):
        os.nice(int(os.environ[_NICE_VARIABLE]))  # before any thread starts: every thread inherits it
    from realtime_sync.simulator import RealtimeSimulator, Reply
    from realtime_sync.simulator import outbox as _outbox
    from realtime_sync.simulator.responder import CHARS_PER_SECOND

    # Stamp each audio delta as the simulator hands it to its socket (benchmark-only patch).
    original_send = _outbox.Outbox.send

    def stamped_send(self: Any, event: Dict[str, Any]) -> Dict[str, Any]:
        if event.get("type") in _AUDIO_DELTAS:
            delta = event["delta"]  # kept last: the simulator writes a last delta it encoded without a JSON scan
            event = {**{k: v for k, v in event.items() if k != "delta"}, "t_sent": time.monotonic(), "delta": delta}
        return original_send(self, event)

    _outbox.Outbox.send = stamped_send  # type: ignore[method-assign]
    text = "hello there " * int(reply_seconds * CHARS_PER_SECOND / 12 + 2)

    def responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Any:
        return Reply(text=text)

    options: Dict[str, Any] = {"responder": responder, "realtime": True, "audio_chunk_ms": CHUNK_MS}
    ga = "protocol" in inspect.signature(RealtimeSimulator).parameters
    profile_path = os.environ.get("BENCH_SESSIONS_PROFILE")
    profiles = _profile_threads() if profile_path else []
    sim = RealtimeSimulator(**options)
    if shared_port is not None:
        from realtime_sync.simulator.workers import listen_socket

        sim._listen_socket = listen_socket("127.0.0.1", shared_port)
    with sim:
        print(f"PORT {sim.port} {'ga' if ga else 'beta'} {os.getpid()}", flush=True)
        sys.stdin.read()
    if profile_path:
        import pstats

        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(profile_path)
    return 0


def _profile_threads() -> List[Any]:
    """Profile every thread started from now on (cProfile, one profile per thread)."""
    import cProfile

    profiles: List[Any] = []
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)  # CPU time: blocking and GIL waits cost nothing
        profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    return profiles


_NICE_VARIABLE = "BENCH_SESSIONS_SERVER_NICE"


def start_server(reply_seconds: float, kind: str = "simulator") -> Tuple[str, str, str, subprocess.Popen]:  # type: ignore[type-arg]
    """Start a server process (``kind``: ``simulator`` or ``light``); its URL, dialect, pid and process."""
    if kind == "light":
        command = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "_light_server.py"), "--reply-seconds"]
    else:
        command = [os.path.abspath(__file__), "--serve"]
    proc = subprocess.Popen(
        [sys.executable, *command, str(reply_seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    words = proc.stdout.readline().split()
    if len(words) != 4 or words[0] != "PORT":
        proc.kill()
        raise RuntimeError(f"the {kind} server did not start: {words!r}")
    return f"ws://127.0.0.1:{words[1]}", words[2], words[3], proc


def stop_server(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- one session ------------------------------------------------------------------------------


class Session:
    """One RealtimeClient with its counters (touched only on its receive thread)."""

    def __init__(self, url: str, protocol: str, loop: Any = None) -> None:
        from realtime_sync import RealtimeClient
        from realtime_sync.client import DEFAULT_SERVER_VAD_CONFIG

        self.client = RealtimeClient(url=url, protocol=protocol, receive_loop=loop)
        self.client.update_session(turn_detection=dict(DEFAULT_SERVER_VAD_CONFIG))
        self.called: Optional[float] = None
        self.lags: List[float] = []
        self.samples = 0
        self.events = 0
        self.errors: List[Any] = []
        self.recording = False
        self.client.realtime.on("server.*", self._on_raw)
        self.client.on("conversation.updated", self._on_updated)
        self.client.on("error", self.errors.append)

    # conversation.updated runs first (the client's on_server_event hook), then the
    # server.* listeners: the callback notes its time, the raw listener pairs it with
    # the stamp of the same event.
    def _on_updated(self, payload: Dict[str, Any]) -> None:
        delta = payload["delta"]
        if delta is not None and "audio" in delta:
            self.called = time.monotonic()
            if self.recording:
                self.samples += len(delta["audio"])

    def _on_raw(self, event: Dict[str, Any]) -> None:
        self.events += 1
        stamp = event.get("t_sent")
        if stamp is not None and self.called is not None:
            if self.recording:
                self.lags.append(self.called - stamp)
            self.called = None


def _p99(values: List[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def _audio_bytes(session: Session) -> int:
    """Bytes of audio a session holds: the conversation's items and the server-VAD input window."""
    total = 0
    for item in session.client.conversation.get_items():
        audio = (item.get("formatted") or {}).get("audio")
        total += int(getattr(audio, "nbytes", 0))
    window = getattr(getattr(session.client, "_input_audio", None), "window_samples", None)
    if callable(window):
        total += 2 * int(window())
    return total


def run_level(
    n: int,
    seconds: float,
    warmup: float,
    servers: int = 1,
    pacers: int = 1,
    shared_loop: bool = False,
    server: str = "simulator",
) -> Dict[str, Any]:
    """N sessions for warmup + seconds against fresh server processes (``server``: simulator or light); the figures."""
    from realtime_sync import ReceiveLoop

    loop = ReceiveLoop() if shared_loop else None
    started = [start_server(warmup + seconds + 30, server) for _ in range(servers)]
    urls = [s[0] for s in started]
    protocol = started[0][1]
    server_pids = [s[2] for s in started]
    url = urls[0]
    sessions: List[Session] = []
    profile_path = os.environ.get("BENCH_SESSIONS_PROFILE_CLIENT")
    profiles = _profile_threads() if profile_path else []
    try:
        # A first session warms the imports, then the baseline is taken.
        probe = Session(url, protocol, loop)
        probe.client.connect(timeout=30)
        probe.client.wait_for_session_created(timeout=30)
        probe.client.disconnect()
        del probe
        import gc

        gc.collect()
        base_rss, base_threads = _status("self", "VmRSS"), threading.active_count()
        connect_started = time.perf_counter()
        for index in range(n):
            session = Session(urls[index % servers], protocol, loop)
            session.client.connect(timeout=60)
            sessions.append(session)
        for session in sessions:
            if not session.client.wait_for_session_created(timeout=60):
                raise RuntimeError("a session got no session.created")
        connect_seconds = time.perf_counter() - connect_started
        rate = 24000
        size = rate * CHUNK_MS // 1000
        noise = (np.random.default_rng(2).standard_normal(size) * 10).astype(np.int16)  # about -70 dBFS
        stop = threading.Event()
        late: List[float] = []
        ticks: List[Tuple[float, float]] = []  # (wall, CPU) of one round of appends
        sent = [0]

        def pacer(group: List[Session]) -> None:
            due = time.monotonic()
            while not stop.is_set():
                tick, tick_cpu = time.monotonic(), time.thread_time()
                for session in group:
                    session.client.append_input_audio(noise)
                ticks.append((time.monotonic() - tick, time.thread_time() - tick_cpu))
                sent[0] += len(group)  # a race between pacers: a count, near enough
                late.append(time.monotonic() - due)
                due += CHUNK_MS / 1000.0
                pause = due - time.monotonic()
                if pause > 0:
                    stop.wait(pause)

        pace_threads = [
            threading.Thread(target=pacer, args=(sessions[k::pacers],), name=f"bench-pacer-{k}", daemon=True)
            for k in range(min(pacers, n))
        ]
        for thread in pace_threads:
            thread.start()
        for session in sessions:
            session.client.create_response()
        time.sleep(warmup)
        for session in sessions:
            session.recording = True
        late.clear()
        ticks.clear()
        events0, sent0 = sum(s.events for s in sessions), sent[0]
        times0, switches0 = os.times(), _context_switches()
        cpu0, wall0 = time.process_time(), time.monotonic()
        server_cpu0 = [_cpu_seconds(pid) for pid in server_pids]
        time.sleep(seconds)
        cpu = time.process_time() - cpu0
        times1, switches1 = os.times(), _context_switches()
        switches = {tid: count - switches0.get(tid, 0) for tid, count in switches1.items()}
        pacer_ids = {thread.native_id for thread in pace_threads}
        receive_ids = {
            t.native_id for t in threading.enumerate() if t.name.startswith(("realtime-sync-recv", "realtime-sync-loop"))
        }
        sys_cpu = times1.system - times0.system
        server_cpu = [_cpu_seconds(pid) - before for pid, before in zip(server_pids, server_cpu0)]
        wall = time.monotonic() - wall0
        received, sent_events = sum(s.events for s in sessions) - events0, sent[0] - sent0
        for session in sessions:
            session.recording = False
        load = os.getloadavg()[0]
        rss, threads = _status("self", "VmRSS"), threading.active_count()
        audio = sum(_audio_bytes(s) for s in sessions)
        server_rss = sum(_status(pid, "VmRSS") for pid in server_pids)
        server_threads = sum(_status(pid, "Threads") for pid in server_pids)
        stop.set()
        for thread in pace_threads:
            thread.join()
        errors = [e for s in sessions for e in s.errors]
        per_session_p99 = [_p99(s.lags) for s in sessions if s.lags]
        all_lags = [lag for s in sessions for lag in s.lags]
        speeds = [s.samples / rate / wall for s in sessions]
        result = {
            "n": n,
            "shared_loop": shared_loop,
            "server": server,
            "protocol": protocol,
            "connect_s": connect_seconds,
            "rss_per_session_mb": (rss - base_rss) / 1024 / n,
            "audio_per_session_mb": audio / 2**20 / n,
            "fixed_per_session_mb": ((rss - base_rss) * 1024 - audio) / 2**20 / n,
            "servers": servers,
            "threads_per_session": (threads - base_threads - len(pace_threads)) / n,  # pacers are not a session's
            "cpu_us_per_event": cpu / max(received + sent_events, 1) * 1e6,
            "cpu_share": cpu / wall,
            "sys_share": sys_cpu / max(cpu, 1e-9),  # the kernel's part of this process's CPU
            "load_average": load,
            "switches_per_event": sum(switches.values()) / max(received + sent_events, 1),
            "switches_per_append": sum(v for k, v in switches.items() if k in pacer_ids) / max(sent_events, 1),
            "switches_per_received": sum(v for k, v in switches.items() if k in receive_ids) / max(received, 1),
            "events_per_s": (received + sent_events) / wall,
            "worst_p99_ms": max(per_session_p99) * 1000 if per_session_p99 else float("nan"),
            "p99_ms": _p99(all_lags) * 1000,
            "p50_ms": statistics.median(all_lags) * 1000 if all_lags else float("nan"),
            "slowest_x_realtime": min(speeds) if speeds else 0.0,
            "pacer_p99_late_ms": _p99(late) * 1000,
            "append_wall_us": statistics.median(t[0] for t in ticks) / max(1, n // len(pace_threads)) * 1e6 if ticks else 0.0,
            "append_cpu_us": statistics.median(t[1] for t in ticks) / max(1, n // len(pace_threads)) * 1e6 if ticks else 0.0,
            "server_cpu_share": max(server_cpu) / wall,
            # load-independent: the simulators' CPU seconds per second of reply audio delivered to one session
            "server_cpu_per_session_s": sum(server_cpu) / max(sum(s.samples for s in sessions) / rate, 1e-9),
            "server_rss_per_session_mb": server_rss / 1024 / n,
            "server_threads": server_threads,
            "errors": len(errors),
            "first_error": str(errors[0])[:200] if errors else "",
        }
        result["carried"] = (
            result["slowest_x_realtime"] >= 0.95 and result["pacer_p99_late_ms"] < 100 and result["worst_p99_ms"] < 50
        )
        return result
    finally:
        for session in sessions:
            try:
                session.client.disconnect()
            except Exception:  # noqa: BLE001 - best effort at the end of a run
                pass
        if loop is not None:
            loop.close()
        for _, _, _, proc in started:
            stop_server(proc)
        if profile_path and profiles:
            import pstats

            stats = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                stats.add(profile)
            stats.dump_stats(profile_path)


def _row(r: Dict[str, Any]) -> str:
    return (
        f"  {r['n']:5d} {r['rss_per_session_mb']:5.2f} {r['audio_per_session_mb']:5.2f} {r['fixed_per_session_mb']:5.2f} MB "
        f"{r['threads_per_session']:5.2f} "
        f"{r['cpu_us_per_event']:7.1f} us {r['cpu_share'] * 100:5.1f}% {r['events_per_s']:8.0f} "
        f"{r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['worst_p99_ms']:8.2f} ms {r['slowest_x_realtime']:6.2f}x "
        f"{r['pacer_p99_late_ms']:6.1f} ms {r['server_cpu_share'] * 100:5.1f}% {r['server_rss_per_session_mb']:6.2f} MB "
        f"{r['server_threads']:5d} {r['connect_s']:6.1f} s  {'yes' if r['carried'] else 'NO'}"
        + f"  append {r['append_wall_us']:.0f} us wall / {r['append_cpu_us']:.0f} us CPU; "
        + f"kernel {r['sys_share'] * 100:.0f}% of CPU; "
        + f"{r['switches_per_event']:.1f} context switches/event "
        + f"({r['switches_per_append']:.1f} per append in the pacer, {r['switches_per_received']:.1f} per event received); "
        + f"load average {r['load_average']:.1f}; "
        + f"sim {r['server_cpu_per_session_s'] * 1000:.2f} ms CPU per session-second"
        + (f"  errors: {r['errors']} ({r['first_error']})" if r["errors"] else "")
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 100, 300], help="the levels N (default 10 100 300)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--servers", type=int, default=1, help="simulator processes, sessions spread over them")
    parser.add_argument("--pacers", type=int, default=1, help="threads appending the input audio, sessions split among them")
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval (s) in this process (default 0.005)")
    parser.add_argument(
        "--leads",
        help="comma-separated run-time patches of leads_ab.py applied in this process first "
        "(pybase64, orjson_loads, concat_append, orjson_send, pybase64_encode, fast_ids): an A/B of a lead at scale",
    )
    parser.add_argument(
        "--shared-loop", action="store_true",
        help="read every session's socket on one realtime_sync.ReceiveLoop thread instead of a thread per session",
    )
    parser.add_argument(
        "--server-nice", type=int, default=0, metavar="N",
        help="run the simulator processes at this nice value (Unix): they stand in for a service on other "
        "machines, so on a small machine this keeps their threads from taking the client's cores (default 0)",
    )
    parser.add_argument(
        "--server", choices=("simulator", "light"), default="simulator",
        help="simulator (default): RealtimeSimulator processes (one event-loop thread each); light: one-thread "
        "asyncio servers (_light_server.py) that send the same paced GA reply, so that on a small machine the "
        "server's threads do not take the client's cores",
    )
    parser.add_argument("--find-max", action="store_true", help="then raise N by 1.5x until a level is not carried")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        return serve(args.serve, args.serve_port)
    limits = _raise_nofile()
    if args.leads:
        import leads_ab

        for name in args.leads.split(","):
            getattr(leads_ab, "patch_" + name.strip())()
        print(f"   run-time patches applied (leads_ab.py): {args.leads}")
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    if args.server_nice:
        os.environ[_NICE_VARIABLE] = str(args.server_nice)  # read by the --serve processes
    print(
        f"== N concurrent sessions, audio both ways at real time ({CHUNK_MS} ms chunks in, a paced spoken reply out), "
        f"{'the light server' if args.server == 'light' else 'simulator'} in {args.servers} other process"
        f"{'es' if args.servers > 1 else ''}; {args.warmup:g} s warm-up, {args.seconds:g} s measured; RLIMIT_NOFILE {limits[0]}; "
        f"{'one shared ReceiveLoop' if args.shared_loop else 'a receive thread per session'}"
        + (f"; servers at nice {args.server_nice}" if args.server_nice else "")
    )
    header = (
        f"  {'N':>5s} {'RSS, audio, rest/sess':>20s} {'thr/s':>5s} {'CPU/event':>10s} {'CPU':>6s} {'events/s':>8s} "
        f"{'p50':>7s} {'p99':>7s} {'worst p99':>11s} {'slowest':>7s} {'pacer p99':>9s} {'sim CPU':>6s} "
        f"{'sim RSS/s':>9s} {'sim thr':>7s} {'connect':>8s}  real time?"
    )
    print(header)
    results: List[Dict[str, Any]] = []
    levels = list(args.sessions)
    while levels:
        n = levels.pop(0)
        try:
            result = run_level(n, args.seconds, args.warmup, args.servers, args.pacers, args.shared_loop, args.server)
        except Exception as exc:  # noqa: BLE001 - a level that cannot run is a finding
            print(f"  {n:5d} could not run: {type(exc).__name__}: {exc}")
            break
        results.append(result)
        print(_row(result), flush=True)
        if args.find_max and not levels and result["carried"]:
            levels.append(int(n * 1.5))
    if results:
        first, last = results[0], results[-1]
        print(f"== targets (protocol {first['protocol']}; 2 shared cores: the ratios between levels are the figures)")
        for key, label in (
            ("fixed_per_session_mb", "memory per session (less audio)"),
            ("threads_per_session", "threads per session"),
            ("cpu_us_per_event", "CPU per event"),
        ):
            ratio = last[key] / first[key] if first[key] else float("nan")
            print(
                f"  {label:22s} N={first['n']} -> N={last['n']}: {first[key]:.2f} -> {last[key]:.2f} ({ratio:.2f}x)"
                f"   target flat within 1.3x: {'met' if ratio <= 1.3 else 'MISSED'}"
            )
        at300 = [r for r in results if r["n"] == 300]
        if at300:
            r = at300[0]
            print(f"  worst p99 latency at 300: {r['worst_p99_ms']:.1f} ms   target < 50 ms: "
                  f"{'met' if r['worst_p99_ms'] < 50 else 'MISSED'}")
            served = "met" if r["slowest_x_realtime"] >= 0.95 else "MISSED"
            print(f"  {first['server']} serving 300 sessions at real time: {served}"
                  f" (slowest session {r['slowest_x_realtime']:.2f}x real time, errors {r['errors']})")
        else:
            print(f"  worst p99 latency at {last['n']}: {last['worst_p99_ms']:.1f} ms (the target, < 50 ms, is for N=300: "
                  "run with --sessions 10 100 300)")
        carried = [r["n"] for r in results if r["carried"]]
        print(f"  largest N carried at real time in this run: {max(carried) if carried else 'none'}"
              + ("" if args.find_max else " (of the levels tried; --find-max searches)"))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
