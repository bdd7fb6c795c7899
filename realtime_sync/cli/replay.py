"""The ``replay`` command: serve a recorded session, or print it.

``realtime-sync replay FILE`` starts a local server that answers a client
with the server frames of a recording (``realtime-sync events --record FILE``,
or ``RealtimeClient(record=...)``), in the recording's dialect, until Ctrl-C;
a client that diverges from the recording gets an ``error`` event, and the
divergence is printed on stderr (the exit code is then 1). ``--print`` shows
the recording as the ``events`` command would have, instead of serving it.
"""

from __future__ import annotations

import argparse
import datetime
import threading
from typing import Any, Dict, TextIO

from ..recording import read_recording
from .events import EventLog, use_color

__all__ = ["add_replay_arguments", "run_replay"]


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``realtime-sync replay``."""
    parser.add_argument("file", metavar="FILE", help="a recording (JSON Lines, from events --record or record=)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="match client events by type only and ignore extra ones (default: strict, type and key fields)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        metavar="N",
        help="send the server events with their recorded timing, N times faster (1: real time; default: at once)",
    )
    parser.add_argument("--print", action="store_true", help="print the recorded events, one line each, and exit")
    parser.add_argument("--json", action="store_true", help="with --print: each event as one line of JSON")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="with --print: colours")
    parser.add_argument("--debug", action="store_true", help="log what the server does and show tracebacks on errors")


def _print(args: argparse.Namespace, out: TextIO) -> int:
    recording = read_recording(args.file)
    try:
        start = datetime.datetime.fromisoformat(str(recording.header.get("created")))
    except ValueError:
        start = datetime.datetime.now(datetime.timezone.utc)
    log = EventLog(out, json_lines=args.json, color=use_color(args.color, out))
    for frame in recording.frames():
        record: Dict[str, Any] = {
            "time": (start + datetime.timedelta(seconds=frame.time)).isoformat(),
            "source": frame.direction,
            "event": frame.event,
        }
        log.write(record)
    log.close()
    return 0


def run_replay(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    """Serve (or ``--print``) a recording. Returns the exit code.

    Raises:
        ConfigurationError: the recording is missing, malformed or of another version.
    """
    if args.print:
        return _print(args, out)
    from ..simulator import RealtimeSimulator

    simulator = RealtimeSimulator(
        host=args.host, port=args.port, replay=args.file, replay_strict=not args.lenient, replay_speed=args.speed or None
    )
    assert simulator.replay is not None
    recording = simulator.replay.recording
    simulator.start()
    try:
        try:  # a Ctrl-C from the banner on (a client may connect as soon as it is out) stops the replay
            frames = len(recording.frames())
            print(
                "Replaying %s (%s, %d connection(s), %d events) at %s -- connect with protocol=%r; Ctrl-C stops."
                % (args.file, recording.protocol.upper(), len(recording.connections), frames, simulator.url, recording.protocol),
                file=out,
                flush=True,
            )
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    finally:
        simulator.stop()
    divergences = simulator.replay_divergences
    for divergence in divergences:
        print("realtime-sync replay: %s" % divergence, file=err)
    return 1 if divergences else 0
