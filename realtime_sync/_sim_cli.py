"""Command-line options of a standalone simulator, shared by its two entry points.

``python -m realtime_sync.simulator`` and ``python -m realtime_sync simulate``
both serve the simulator to *other processes* (demos, voice chats, programs in
other languages), so both pace replies like a live model by default: one
second of reply audio takes one second to stream, and speaking over a reply
interrupts it as it would the real model. ``--speed N`` streams at N times real
time (``--speed 0``: as fast as possible, for test suites). Note that the
Python class differs on purpose: ``RealtimeSimulator()`` embedded in a test
defaults to 50 times real time.

This module imports neither ``websockets`` nor the simulator, so a command
line can build its parser where the server library is missing.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict

from .errors import ConfigurationError

__all__ = ["STANDALONE_SPEED", "SPEED_HELP", "add_pacing_arguments", "pacing_options"]

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
