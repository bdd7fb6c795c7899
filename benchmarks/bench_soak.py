"""Soak: a one-hour voice session that survives dropped connections and a session expiry.

A spoken conversation runs for ``--minutes`` simulated minutes (default 60)
against a ``RealtimeSimulator`` in another process (``--serve`` mode of this
script), compressed in time by the simulator's pacing (``--speed``, default
200: the assistant's five-second replies stream in 25 ms) and by sending the
user's speech as fast as the socket takes it. The simulated clock is the
audio itself: every turn adds the user's speech and the assistant's spoken
reply (about 8 s a turn, so an hour is about 450 turns).

* Each user turn is 1.6 s of a tone whose pitch encodes the turn number, then
  silence: the simulator's server VAD finds the turn, its transcriber reads
  the number back from the audio it received ("turn 17: ..."), and its
  responder answers that turn by number ("Reply 17: ..."). So the
  conversation says what the server actually heard, and when.
* Faults, at random simulated times between turns: a dropped connection
  (``sim.drop_connections()``: TCP cut, no close frame) every 2 to 6
  simulated minutes (``--drop-every``), and one session expiry
  (``sim.expire_sessions()``: ``error`` ``session_expired`` then a close)
  halfway. The client (``RealtimeClient(reconnect=ReconnectPolicy(...))``)
  reconnects, re-applies the session and replays the conversation (spoken
  turns by their transcripts), and the next turn is spoken once it has.
* At the end, the exported history (``client.export_history()``) must be
  exactly what was said, every item in order, none twice:
  ``[user "turn 1: ...", assistant "Reply 1: ...", user "turn 2: ...", ...]``.
* Memory, sampled every 5 simulated minutes (and at the end): this
  process's RSS (the simulator runs elsewhere), the conversation's audio
  arrays (the client keeps the audio of each item: 48 kB per second of
  speech, until a reconnection replays the history as text), and RSS minus
  that audio, which must stay flat (grow less than ``--max-growth-mb``
  from the 5-minute sample, once warm, to the end). ``--tracemalloc`` adds Python's
  traced memory (slower).

Exit status 0 when the history is intact and memory flat, 1 otherwise.

Usage::

    python benchmarks/bench_soak.py                      # 60 simulated minutes, under a minute
    python benchmarks/bench_soak.py --minutes 10 --seed 7
    python benchmarks/bench_soak.py --minutes 240 --speed 400 --tracemalloc
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from realtime_sync import RealtimeClient  # noqa: E402
from realtime_sync.client import ReconnectPolicy  # noqa: E402

RATE = 24000
TONE_SECONDS = 1.6
SILENCE_SECONDS = 0.7
BASE_HZ = 200.0
STEP_HZ = 4.0  # turn k speaks at BASE_HZ + STEP_HZ * k (a 1.6 s tone resolves 0.6 Hz)
CHUNK = RATE // 10  # 100 ms per input_audio_buffer.append
USER_WORDS = "I would like to hear a little more about that, please."
REPLY_WORDS = "Here is what I think about it, in one short sentence."
SAMPLE_EVERY_MINUTES = 5.0
SESSION = {
    "modalities": ["text", "audio"],
    "input_audio_transcription": {"model": "whisper-1"},
    "turn_detection": {"type": "server_vad", "silence_duration_ms": 300, "threshold": 0.5},
}


# -- what is said, and what the simulated server hears ---------------------------------------


def turn_audio(turn: int) -> np.ndarray:
    """The user's turn ``turn``: a tone at its own pitch, then silence (int16, 24 kHz)."""
    t = np.arange(int(TONE_SECONDS * RATE)) / RATE
    tone = (0.3 * 32767 * np.sin(2 * np.pi * (BASE_HZ + STEP_HZ * turn) * t)).astype(np.int16)
    return np.concatenate([tone, np.zeros(int(SILENCE_SECONDS * RATE), dtype=np.int16)])


def user_text(turn: int) -> str:
    return f"turn {turn}: {USER_WORDS}"


def reply_text(turn: int) -> str:
    return f"Reply {turn}: {REPLY_WORDS}"


def transcriber(samples: np.ndarray, rate: int) -> str:
    """The simulator's transcriber: the turn number read from the pitch of the audio it received."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    peak_hz = float(np.argmax(spectrum[1:]) + 1) * rate / len(samples)
    return user_text(int(round((peak_hz - BASE_HZ) / STEP_HZ)))


def responder(items: Sequence[Dict[str, Any]], session: Dict[str, Any]) -> Any:
    """The simulated model: answers the newest user turn by its number."""
    from realtime_sync.simulator import Reply

    for item in reversed(items):
        if item.get("role") == "user":
            for part in item.get("content") or []:
                match = re.match(r"turn (\d+):", str(part.get("transcript") or part.get("text") or ""))
                if match:
                    return Reply(text=reply_text(int(match.group(1))))
    return Reply(text="I did not catch that.")


def said(history: Sequence[Dict[str, Any]]) -> List[Tuple[str, str]]:
    """``(role, text)`` of each message of an exported history."""
    return [
        (entry["role"], "".join(str(part.get("text") or "") for part in entry.get("content") or []))
        for entry in history
        if entry.get("type") == "message"
    ]


# -- the simulator, in another process ----------------------------------------------------------


def serve(speed: float) -> int:
    """``--serve``: run the simulator; read ``drop`` / ``expire`` / ``quit`` lines on stdin."""
    from realtime_sync.simulator import RealtimeSimulator

    with RealtimeSimulator(speed=speed or None, transcriber=transcriber, responder=responder) as sim:
        print(sim.url, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "drop":
                print(sim.drop_connections(), flush=True)
            elif command == "expire":
                print(sim.expire_sessions(), flush=True)
            elif command == "quit":
                break
    return 0


class RemoteSimulator:
    """This script's ``--serve`` mode in a child process, with the simulator's fault methods."""

    def __init__(self, speed: float) -> None:
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", "--speed", str(speed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("ws"):
            raise RuntimeError("the simulator process did not start")

    def _command(self, command: str) -> int:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())

    def drop_connections(self) -> int:
        return self._command("drop")

    def expire_sessions(self) -> int:
        return self._command("expire")

    def stop(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.write("quit\n")
            self._process.stdin.close()
            self._process.wait(30)


# -- memory ---------------------------------------------------------------------------------------


def rss_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the peak, where /proc is missing


def audio_bytes(client: RealtimeClient) -> int:
    return sum(int(getattr(item["formatted"].get("audio"), "nbytes", 0)) for item in client.conversation.get_items())


# -- the soak -----------------------------------------------------------------------------------------


class _Turns:
    """Client callbacks (receive thread) the turn loop waits on."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.responses_done = 0
        self.reconnected = 0
        self.closes: List[Dict[str, Any]] = []

    def on_response_done(self, event: Dict[str, Any]) -> None:
        with self.cond:
            self.responses_done += 1
            self.cond.notify_all()

    def on_reconnected(self, event: Dict[str, Any]) -> None:
        with self.cond:
            self.reconnected += 1
            self.cond.notify_all()

    def on_close(self, event: Dict[str, Any]) -> None:
        with self.cond:
            self.closes.append(event)
            self.cond.notify_all()

    def wait_above(self, counter: str, above: int, timeout: float, doing: str) -> None:
        """Wait until ``self.<counter>`` exceeds ``above``; raise on timeout or a close."""
        with self.cond:
            if not self.cond.wait_for(lambda: getattr(self, counter) > above or bool(self.closes), timeout):
                raise RuntimeError(f"timed out waiting for {doing}")
            if self.closes:
                raise RuntimeError(f"the session closed while waiting for {doing}: {self.closes[-1]}")


def fault_schedule(minutes: float, drop_every: Tuple[float, float], rng: random.Random) -> List[Tuple[float, str]]:
    """Simulated seconds of each fault: drops every ``drop_every`` minutes, one expiry halfway."""
    faults: List[Tuple[float, str]] = []
    at = rng.uniform(*drop_every) * 60
    while at < minutes * 60:
        faults.append((at, "drop"))
        at += rng.uniform(*drop_every) * 60
    faults.append((minutes * 60 * rng.uniform(0.4, 0.6), "expire"))
    return sorted(faults)


def run_soak(
    url: str,
    faults_on: Any,
    *,
    minutes: float,
    faults: Sequence[Tuple[float, str]],
    protocol: Optional[str] = None,
    on_sample: Optional[Callable[[Dict[str, Any]], None]] = None,
    trace: bool = False,
    turn_timeout: float = 30.0,
) -> Dict[str, Any]:
    """Talk for ``minutes`` simulated minutes, injecting ``faults`` (``(simulated s, "drop"|"expire")``).

    ``faults_on`` has ``drop_connections()`` and ``expire_sessions()`` (a
    RealtimeSimulator or :class:`RemoteSimulator`). Returns ``{"turns",
    "expected", "history", "intact", "reconnections", "samples", "wall"}``.
    """
    policy = ReconnectPolicy(attempts=5, initial_delay=0.05, max_delay=1.0, jitter=0.2, timeout=turn_timeout)
    options: Dict[str, Any] = {"protocol": protocol} if protocol else {}
    client = RealtimeClient(url=url, reconnect=policy, **options)
    turns = _Turns()
    client.realtime.on("server.response.done", turns.on_response_done)
    client.on("reconnected", turns.on_reconnected)
    client.on("close", turns.on_close)
    client.update_session(**SESSION)
    samples: List[Dict[str, Any]] = []
    started = time.monotonic()
    clock = 0.0  # simulated seconds: the audio of both sides
    next_sample = 0.0
    pending = list(faults)
    expected: List[Tuple[str, str]] = []

    def sample() -> None:
        point = {
            "minute": clock / 60,
            "wall": time.monotonic() - started,
            "rss": rss_bytes(),
            "audio": audio_bytes(client),
            "items": len(client.conversation.get_items()),
            "reconnections": turns.reconnected,
        }
        point["rss_less_audio"] = point["rss"] - point["audio"]
        if trace:
            point["traced"] = tracemalloc.get_traced_memory()[0]
        samples.append(point)
        if on_sample is not None:
            on_sample(point)

    client.connect(timeout=turn_timeout)
    try:
        if not client.wait_for_session_created(timeout=turn_timeout):
            raise RuntimeError("no session.created")
        turn = 0
        while clock < minutes * 60:
            if clock >= next_sample:
                sample()
                next_sample += SAMPLE_EVERY_MINUTES * 60
            while pending and pending[0][0] <= clock:  # faults strike between turns
                _, fault = pending.pop(0)
                with turns.cond:
                    before = turns.reconnected
                (faults_on.drop_connections if fault == "drop" else faults_on.expire_sessions)()
                turns.wait_above("reconnected", before, turn_timeout, f"the reconnection after a {fault}")
            turn += 1
            with turns.cond:
                done_before = turns.responses_done
            speech = turn_audio(turn)
            for start in range(0, len(speech), CHUNK):
                client.append_input_audio(speech[start : start + CHUNK])
            turns.wait_above("responses_done", done_before, turn_timeout, f"the reply to turn {turn}")
            expected += [("user", user_text(turn)), ("assistant", reply_text(turn))]
            reply = next(i for i in reversed(client.conversation.get_items()) if i.get("role") == "assistant")
            clock += len(speech) / RATE + len(reply["formatted"]["audio"]) / RATE
        sample()
        history = client.export_history()
    finally:
        client.disconnect()
    got = said(history)
    return {
        "turns": turn,
        "expected": expected,
        "history": got,
        "intact": got == expected,
        "reconnections": turns.reconnected,
        "samples": samples,
        "wall": time.monotonic() - started,
    }


def _first_difference(expected: Sequence[Any], got: Sequence[Any]) -> str:
    for index, (want, have) in enumerate(zip(expected, got)):
        if want != have:
            return f"item {index}: expected {want!r}, got {have!r}"
    return f"expected {len(expected)} items, got {len(got)}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes of conversation (default 60)")
    parser.add_argument("--speed", type=float, default=200.0, help="the simulator's pacing, x real time (default 200)")
    parser.add_argument("--drop-every", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"),
                        help="simulated minutes between drops, at random in [MIN, MAX] (default 2 6)")
    parser.add_argument("--seed", type=int, default=12, help="random seed of the fault schedule")
    parser.add_argument("--protocol", choices=("beta", "ga"), help="the client's wire dialect (default: the client's)")
    parser.add_argument("--max-growth-mb", type=float, default=16.0,
                        help="largest growth of RSS less conversation audio after the first 5 minutes (default 16)")
    parser.add_argument("--tracemalloc", action="store_true", help="also sample Python's traced memory (slower)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.speed)

    faults = fault_schedule(args.minutes, tuple(args.drop_every), random.Random(args.seed))
    print(f"soak: {args.minutes:g} simulated minutes at {args.speed:g}x, "
          f"{sum(f == 'drop' for _, f in faults)} drops and 1 expiry at minutes "
          + ", ".join(f"{at / 60:.1f}{'' if f == 'drop' else ' (expiry)'}" for at, f in faults))
    columns = ("sim min", 8), ("wall s", 7), ("RSS MB", 7), ("audio MB", 9), ("RSS-audio", 10), ("traced MB", 10), ("items", 6)
    print(" ".join(f"{name:>{width}}" for name, width in columns) + f" {'reconn':>7}")

    def show(point: Dict[str, Any]) -> None:
        traced = f"{point['traced'] / 1e6:10.1f}" if "traced" in point else f"{'-':>10}"
        print(f"{point['minute']:8.1f} {point['wall']:7.1f} {point['rss'] / 1e6:7.1f} {point['audio'] / 1e6:9.1f} "
              f"{point['rss_less_audio'] / 1e6:10.1f} {traced} {point['items']:6d} {point['reconnections']:7d}", flush=True)

    if args.tracemalloc:
        tracemalloc.start()
    simulator = RemoteSimulator(args.speed)
    try:
        result = run_soak(simulator.url, simulator, minutes=args.minutes, faults=faults, protocol=args.protocol,
                          on_sample=show, trace=args.tracemalloc)
    finally:
        simulator.stop()
    points = result["samples"][1:] or result["samples"]  # from the first sample after warm-up (5 minutes)
    growth = max(p["rss_less_audio"] for p in points) - points[0]["rss_less_audio"]
    flat = growth <= args.max_growth_mb * 1e6
    print(f"{result['turns']} turns ({len(result['history'])} items) in {result['wall']:.1f} s wall, "
          f"{result['reconnections']} reconnections")
    print("history: " + ("intact (every item, in order, none twice)" if result["intact"]
                         else "NOT intact: " + _first_difference(result["expected"], result["history"])))
    print(f"memory: RSS less conversation audio grew {growth / 1e6:.1f} MB after the first 5 minutes "
          f"({'flat' if flat else 'NOT flat'}: limit {args.max_growth_mb:g} MB)")
    return 0 if result["intact"] and flat and result["reconnections"] == len(faults) else 1


if __name__ == "__main__":
    sys.exit(main())
