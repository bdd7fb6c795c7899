"""The simulator's command line: ``python -m realtime_sync.simulator`` and ``realtime-sync simulate``.

``python -m realtime_sync.simulator`` and ``python -m realtime_sync simulate``
both serve the simulator to *other processes* (demos, voice chats, programs in
other languages), so both pace replies like a live model by default: one
second of reply audio takes one second to stream, and speaking over a reply
interrupts it as it would the real model. ``--speed N`` streams at N times real
time (``--speed 0``: as fast as possible, for test suites). Note that the
Python class differs on purpose: ``RealtimeSimulator()`` embedded in a test
defaults to 50 times real time.

This module imports neither ``websockets`` nor the server at import time, so a
command line can build its parser where the server library is missing;
:func:`main` imports the server when it runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any, Callable, Dict, Optional, Sequence

from ..errors import ConfigurationError

__all__ = ["STANDALONE_SPEED", "SPEED_HELP", "add_pacing_arguments", "build_parser", "main", "pacing_options"]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: Default pacing of a standalone simulator, as a multiple of real time.
STANDALONE_SPEED = 1.0

SPEED_HELP = (
    "stream replies at this multiple of real time (default %g: like a live model, "
    "for demos and voice; 0 = as fast as possible, for tests)" % STANDALONE_SPEED
)


def add_pacing_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--speed`` and ``--realtime`` (mutually exclusive) to ``parser``."""
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument("--speed", type=float, default=None, metavar="N", help=SPEED_HELP)
    pacing.add_argument(
        "--realtime", action="store_true", help="pace replies like a live model (the default; same as --speed 1)"
    )


def pacing_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The ``RealtimeSimulator`` keyword arguments for the parsed pacing options.

    Raises:
        ConfigurationError: a negative ``--speed`` (a ValueError).
    """
    speed = getattr(args, "speed", None)
    if speed is None or getattr(args, "realtime", False):
        speed = STANDALONE_SPEED
    if speed < 0:
        raise ConfigurationError("--speed must be 0 or more")
    return {"speed": speed or None}


def _checked(text: str, convert: Callable[[str], Any], valid: Callable[[Any], bool], unreadable: str, invalid: str) -> Any:
    """An option's value: ``convert(text)`` that is ``valid``; else argparse's error (``invalid`` may name ``{value}``)."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(unreadable) from None
    if not valid(value):
        raise argparse.ArgumentTypeError(invalid.format(value=value))
    return value


def _port(text: str) -> int:
    """``--port``: an int in 0..65535."""
    expected = "(expected 0 to 65535)"
    return int(
        _checked(text, int, lambda v: 0 <= v <= 65535, f"invalid port: {text!r} {expected}", "invalid port: {value} " + expected)
    )


def _positive_seconds(text: str) -> float:
    """``--max-session-seconds``: a positive number."""
    return float(
        _checked(
            text,
            float,
            lambda v: v > 0 and v != float("inf"),
            f"invalid number of seconds: {text!r}",
            f"must be a positive number of seconds, not {text}",
        )
    )


def _workers(text: str) -> int:
    """``--workers``: a count of processes, 1 or more."""
    return int(_checked(text, int, lambda v: v >= 1, f"invalid number of workers: {text!r}", "must be 1 or more, not {value}"))


def build_parser(prog: Optional[str] = None) -> argparse.ArgumentParser:
    """The simulator's argument parser (``prog`` names the command in its messages)."""
    parser = argparse.ArgumentParser(
        prog=prog or "python -m realtime_sync.simulator",
        description="Serve a local, simulated OpenAI Realtime API over WebSocket to other "
        "processes. Replies stream like a live model's (real time) unless --speed says otherwise.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8765, help="TCP port (0 = any free port; default 8765)")
    parser.add_argument("--api-key", default=None, help="require this bearer token (default: none)")
    parser.add_argument(
        "--protocol",
        choices=("ga", "beta"),
        default="ga",
        help="wire dialect: ga (default; a client sending 'OpenAI-Beta: realtime=v1' still gets beta) or beta",
    )
    parser.add_argument(
        "--refuse-beta",
        action="store_true",
        help="refuse beta connections as OpenAI's live service does (error beta_api_shape_disabled, close 4000)",
    )
    parser.add_argument(
        "--max-session-seconds",
        type=_positive_seconds,
        default=None,
        metavar="S",
        help="end each session after S seconds (error session_expired, then close), as the live service does",
    )
    add_pacing_arguments(parser)
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="serve from N processes on the same port (Linux; each carries a couple of hundred real-time "
        "sessions; no REST side); default 1",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one of --workers' processes
    parser.add_argument("--verbose", "-v", "--debug", action="store_true", help="log every event")
    return parser


class _Terminated(Exception):
    """SIGTERM arrived: stop cleanly."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated()


def main(argv: Optional[Sequence[str]] = None, *, prog: Optional[str] = None) -> int:
    """Run the simulator from the command line until Ctrl-C (or SIGTERM); returns the exit status.

    Replies are paced like a live model unless ``--speed`` says otherwise.
    Runs on the calling thread. Bad options, and an address that cannot be
    bound (a busy port), end with argparse's one-line message and status 2;
    ``--help`` with status 0 (both by ``SystemExit``, as argparse does).

    Returns:
        0 after SIGTERM, 130 after Ctrl-C, 1 when the server library is missing.
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        pacing = pacing_options(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        from .server import RealtimeSimulator
    except ImportError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    from . import workers

    if args.workers > 1 and not args.worker:
        return workers.run_workers(args, parser)
    if args.worker:
        args.api_key = workers.worker_key() or args.api_key
    simulator = RealtimeSimulator(
        host=args.host,
        port=args.port,
        require_api_key=args.api_key,
        protocol=args.protocol,
        refuse_beta=args.refuse_beta,
        max_session_seconds=args.max_session_seconds,
        http_port=None if args.worker else 0,
        **pacing,
    )
    try:
        if args.worker:
            simulator._listen_socket = workers.listen_socket(args.host, args.port)
        simulator.start()
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    level = logging.DEBUG if args.verbose else logging.WARNING if args.worker else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(message)s")
    previous = None
    if threading.current_thread() is threading.main_thread():
        # a service manager stops us with SIGTERM: stop as cleanly as on Ctrl-C
        previous = signal.signal(signal.SIGTERM, _terminate)
    status = 0
    try:
        if args.worker:
            workers.serve_worker()  # until the parent's pipe ends
        else:
            print(f"Realtime simulator listening on {simulator.url}  (REST: {simulator.http_url}; Ctrl-C to stop)", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
        if not args.worker:
            print("stopping...", flush=True)
    except _Terminated:
        if not args.worker:
            print("stopping...", flush=True)
    finally:
        simulator.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return status
