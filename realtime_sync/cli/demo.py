"""The ``demo`` command: a short scripted conversation with a tool call.

Three user messages are sent one after another; replies stream token by token
(printed by callbacks on the socket thread) and the second question makes the
model call :func:`get_local_time`, a real Python function registered with
``add_tool``, which the client runs on its worker thread. Against the built-in
simulator the whole demo takes a few seconds, paced like a live model
(``--speed 0`` runs it as fast as the machine can); it ends by itself.
"""

from __future__ import annotations

import argparse
import datetime
import time
from typing import Any, Dict, TextIO

from .common import ReplyPrinter, connect_client, open_backend, simulator_speed

__all__ = ["run_demo", "get_local_time", "LOCAL_TIME_TOOL", "DEMO_SCRIPT"]

#: Cities the demo tool knows: IANA zone and a fixed fallback UTC offset (hours).
_CITIES = {
    "tokyo": ("Asia/Tokyo", 9.0),
    "paris": ("Europe/Paris", 1.0),
    "london": ("Europe/London", 0.0),
    "new york": ("America/New_York", -5.0),
    "san francisco": ("America/Los_Angeles", -8.0),
    "sydney": ("Australia/Sydney", 10.0),
    "mumbai": ("Asia/Kolkata", 5.5),
    "berlin": ("Europe/Berlin", 1.0),
}

LOCAL_TIME_TOOL: Dict[str, Any] = {
    "name": "get_local_time",
    "description": "Get the current local time in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city, for example Tokyo"},
        },
        "required": ["city"],
    },
}

DEMO_SCRIPT = (
    "Hello!",
    "What time is it in Tokyo?",
    "Thanks, that is all for today.",
)


def get_local_time(city: str) -> Dict[str, Any]:
    """Return the current local time in ``city`` (a handful of cities are known).

    Raises:
        ValueError: the city is not one the demo knows (the client sends the
            message back to the model as ``{"error": ...}``).
    """
    key = city.strip().lower()
    if key not in _CITIES:
        raise ValueError("unknown city %r; try one of: %s" % (city, ", ".join(sorted(c.title() for c in _CITIES))))
    zone_name, fallback_hours = _CITIES[key]
    now_utc = datetime.datetime.now(datetime.timezone.utc)
    try:
        from zoneinfo import ZoneInfo

        local = now_utc.astimezone(ZoneInfo(zone_name))
    except Exception:  # no tz database on this machine: a fixed offset is close enough
        local = now_utc.astimezone(datetime.timezone(datetime.timedelta(hours=fallback_hours)))
    return {"city": city.strip().title(), "local_time": local.strftime("%H:%M"), "utc_offset": local.strftime("%z")}


def run_demo(args: argparse.Namespace, *, out: TextIO) -> int:
    """Run the scripted conversation and return the exit code (0).

    Raises:
        RealtimeError: the connection failed or closed, or a reply took longer
            than ``args.timeout`` seconds.
    """
    started = time.monotonic()
    instructions = args.instructions or (
        "You are a friendly assistant in a short demo. Answer in one or two sentences. "
        "Use the get_local_time tool when asked about the time somewhere."
    )
    with open_backend(args.url, speed=simulator_speed(args)) as backend:
        args.instructions = instructions
        client = connect_client(
            args,
            backend,
            tools=[(LOCAL_TIME_TOOL, lambda arguments: get_local_time(**arguments))],
            modalities=["text"],
            turn_detection=None,
        )
        try:
            printer = ReplyPrinter(out)
            printer.attach(client)
            out.write("realtime_sync demo: talking to %s\n\n" % backend.description)
            out.flush()
            for text in DEMO_SCRIPT:
                out.write("you> %s\n" % text)
                out.flush()
                printer.take_turn(client, text, args.timeout)
                out.write("\n")
            items = client.conversation.get_items()
            calls = sum(1 for item in items if item.get("type") == "function_call")
            out.write(
                "Demo finished: %d messages, %d tool call%s, %d conversation items, %.1f s.\n"
                % (len(DEMO_SCRIPT), calls, "" if calls == 1 else "s", len(items), time.monotonic() - started)
            )
            out.flush()
        finally:
            client.disconnect()
    return 0
