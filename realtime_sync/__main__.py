"""The ``realtime-sync`` command line (``python -m realtime_sync``).

Commands::

    realtime-sync demo       a short scripted conversation with a tool call, then exit
    realtime-sync chat       chat in the terminal; replies stream as they are generated
    realtime-sync voice      talk with the microphone, hear the speaker (needs the audio extra)
    realtime-sync events     print a session's live event stream, one line per event
    realtime-sync simulate   run the built-in Realtime simulator until Ctrl-C

Without ``OPENAI_API_KEY`` (and without ``--url``) the commands talk to the
built-in simulator and say so. Errors are reported on one line; ``--debug``
shows the traceback and logs every event.

Exit codes: 0 success, 1 error, 2 bad command line, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import signal
import sys
import threading
import traceback
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from ._sim_cli import add_pacing_arguments, pacing_options
from ._version import __version__
from .errors import (
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
    ServerError,
)

__all__ = ["main", "build_parser"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_EPILOG = """\
Without OPENAI_API_KEY (and without --url or REALTIME_SYNC_URL) the commands use
the built-in simulator. Exit codes: 0 success, 1 error, 2 bad usage, 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line (exposed for documentation and tests)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and session")
    group.add_argument(
        "--url",
        help="WebSocket URL of a Realtime server (default: $REALTIME_SYNC_URL, else OpenAI "
        "when OPENAI_API_KEY is set, else the built-in simulator)",
    )
    group.add_argument("--model", help="model name sent in the URL's query string")
    group.add_argument(
        "--protocol",
        choices=("beta", "ga"),
        help="wire dialect: ga for OpenAI's live service (the default there), beta for "
        "the simulator, relays and older deployments (the default elsewhere)",
    )
    group.add_argument("--instructions", help="system instructions for the session")
    group.add_argument("--voice", help="assistant voice (alloy, ash, ballad, coral, echo, sage, shimmer, verse)")
    group.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the connection and for each reply (default 60)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        help="log every event to stderr and show tracebacks on errors",
    )

    parser = argparse.ArgumentParser(
        prog="realtime-sync",
        description="A synchronous Python client for the OpenAI Realtime API.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="a short scripted conversation with a tool call, then exit",
        description="Run a short scripted conversation: replies stream token by token "
        "and one question is answered by calling a local Python function.",
    )
    demo.set_defaults(handler=_cmd_demo)

    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="chat in the terminal (type /quit to leave, /voice to talk)",
        description="Interactive text chat. Replies stream as they are generated. "
        "Commands: /quit (or Ctrl-D) leaves, /voice switches the microphone and "
        "speaker on and off (needs the audio extra).",
    )
    chat.set_defaults(handler=_cmd_chat)

    voice = commands.add_parser(
        "voice",
        parents=[common],
        help="talk with the microphone and hear the speaker",
        description="Voice conversation with server voice detection and barge-in. "
        "Press Enter (or Ctrl-C) to stop.",
    )
    voice.add_argument("--push-to-talk", action="store_true", help="Enter starts and ends each turn")
    voice.add_argument("--input-device", help="microphone index or name substring")
    voice.add_argument("--output-device", help="speaker index or name substring")
    voice.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    voice.set_defaults(handler=_cmd_voice)

    events = commands.add_parser(
        "events",
        parents=[common],
        help="print a session's live event stream, one line per event",
        description="Print every client and server event of a session on one compact "
        "line, like the Realtime console's event log. Messages come from --say or, "
        "without it, from the lines typed on standard input (Ctrl-D ends).",
    )
    events.add_argument(
        "--say",
        action="append",
        default=[],
        metavar="TEXT",
        help="send this user message and wait for the reply (repeatable)",
    )
    events.add_argument("--json", action="store_true", help="print each event as JSON (audio shown as its length)")
    events.add_argument("--text-only", action="store_true", help="ask for text replies only (no audio events)")
    events.set_defaults(handler=_cmd_events)

    simulate = commands.add_parser(
        "simulate",
        help="run the built-in Realtime simulator until Ctrl-C",
        description="Serve the Realtime beta protocol on a local port for your own "
        "development and tests. Connect with --url ws://HOST:PORT.",
    )
    simulate.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    simulate.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    add_pacing_arguments(simulate)
    simulate.add_argument("--debug", action="store_true", help="log the simulator's activity")
    simulate.set_defaults(handler=_cmd_simulate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line and return its exit code.

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if debug:
        logging.basicConfig(
            level=logging.DEBUG,
            format="%(asctime)s %(threadName)s %(name)s %(levelname)s: %(message)s",
        )
    else:
        # The commands report problems themselves, in one line; the library's
        # warnings (a server error, a closed socket) would only repeat them.
        logging.basicConfig(level=logging.ERROR, format="%(name)s: %(levelname)s: %(message)s")
        logging.getLogger("websocket").setLevel(logging.CRITICAL)  # it logs every close as an error
    args.server_errors = []  # ServerErrors seen during the run, to explain a closed connection
    try:
        return int(args.handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line for the user, the traceback with --debug
        if debug:
            traceback.print_exc()
        print("realtime-sync: error: %s" % _describe_error(exc, args.server_errors), file=sys.stderr)
        if not debug:
            print("(run again with --debug for details)", file=sys.stderr)
        return EXIT_ERROR


def _describe_error(exc: BaseException, server_errors: Sequence[ServerError] = ()) -> str:
    """One line for ``exc``; a closed connection is explained by the server's last error."""
    message = str(exc) or exc.__class__.__name__
    if not isinstance(exc, RealtimeError):
        return "%s: %s" % (exc.__class__.__name__, message)
    cause = exc if isinstance(exc, ServerError) else None
    if cause is None and server_errors and isinstance(exc, (RealtimeConnectionError, RealtimeTimeoutError)):
        cause = server_errors[-1]
        message = "%s, after the server reported: %s" % (message, cause)
    if cause is not None and cause.code == "beta_api_shape_disabled":
        message += (
            " -- OpenAI has retired the beta Realtime protocol on its own servers: "
            "use --protocol ga (the default for api.openai.com)"
        )
    return message


def _remember_server_errors(client: Any, args: argparse.Namespace) -> None:
    """Keep the server's ``error`` events on ``args.server_errors`` (socket thread appends)."""
    errors = getattr(args, "server_errors", None)
    if errors is None:
        return

    def remember(payload: Dict[str, Any]) -> None:
        error = payload.get("error")
        if isinstance(error, ServerError):
            errors.append(error)

    client.on("error", remember)


# -- helpers ---------------------------------------------------------------


def _session_config(args: argparse.Namespace, **extra: Any) -> Dict[str, Any]:
    config: Dict[str, Any] = {}
    if getattr(args, "instructions", None):
        config["instructions"] = args.instructions
    if getattr(args, "voice", None):
        config["voice"] = args.voice
    config.update(extra)
    return config


def connect_client(
    args: argparse.Namespace,
    backend: Any,
    *,
    tools: Sequence[Tuple[Dict[str, Any], Callable[[Dict[str, Any]], Any]]] = (),
    **session: Any,
) -> Any:
    """Build a ``RealtimeClient`` for ``backend``, configure the session and connect.

    Args:
        tools: ``(definition, handler)`` pairs registered with ``add_tool``.
        session: session settings for ``update_session`` (``--instructions`` and
            ``--voice`` are added from ``args``).

    Runs on the main thread; waits up to ``args.timeout`` seconds for
    ``session.created``. The caller disconnects.
    """
    client = make_client(args, backend)
    for definition, handler in tools:
        client.add_tool(definition, handler)
    client.update_session(**_session_config(args, **session))
    client.connect(timeout=args.timeout)
    try:
        _wait_for_session(client, args.timeout)
    except BaseException:
        client.disconnect()
        raise
    return client


def make_client(args: argparse.Namespace, backend: Any) -> Any:
    """A ``RealtimeClient`` for ``backend`` with the command line's model, protocol and debug flag."""
    from .client import RealtimeClient

    kwargs = backend.client_kwargs(model=args.model, debug=args.debug, protocol=getattr(args, "protocol", None))
    client = RealtimeClient(**kwargs)
    _remember_server_errors(client, args)
    return client


def _wait_for_session(client: Any, timeout: Optional[float]) -> None:
    """Wait for ``session.created``; raise RealtimeTimeoutError when it does not come."""
    if client.wait_for_session_created(timeout=timeout) is None:
        raise RealtimeTimeoutError("the server sent no session.created within %s seconds" % timeout)


# -- commands --------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._cli_demo import run_demo

    return run_demo(args, connect_client, out=sys.stdout)


def _cmd_chat(args: argparse.Namespace) -> int:
    from ._cli_chat import run_chat

    return run_chat(args, connect_client, stdin=sys.stdin, out=sys.stdout)


def _cmd_voice(args: argparse.Namespace) -> int:
    from ._cli_chat import run_voice

    return run_voice(args, connect_client, stdin=sys.stdin, out=sys.stdout)


def _cmd_events(args: argparse.Namespace) -> int:
    from ._cli_common import ReplyPrinter, format_event_line, open_backend

    out = sys.stdout
    lock = threading.Lock()

    def print_event(realtime_event: Dict[str, Any]) -> None:  # socket thread (and main, for sends)
        if args.json:
            line = json.dumps(_without_audio(realtime_event), ensure_ascii=False, default=str)
        else:
            line = format_event_line(realtime_event)
        with lock:
            out.write(line + "\n")
            out.flush()

    session: Dict[str, Any] = {"turn_detection": None}
    if args.text_only:
        session["modalities"] = ["text"]
    with open_backend(args.url) as backend:
        client = make_client(args, backend)
        # The raw wire events, as the Realtime console shows them (GA names on a GA connection).
        client.realtime.on("client.*", lambda event: print_event(_stamped("client", event)))
        client.realtime.on("server.*", lambda event: print_event(_stamped("server", event)))
        client.update_session(**_session_config(args, **session))
        discard = open(os.devnull, "w")
        waiter = ReplyPrinter(discard, err=discard)  # only for its end-of-turn signal
        waiter.attach(client)
        try:
            client.connect(timeout=args.timeout)
            _wait_for_session(client, args.timeout)
            messages: Any = args.say if args.say else _stdin_lines(sys.stdin)
            for text in messages:
                if not text.strip():
                    continue
                waiter.take_turn(client, text, args.timeout)
        finally:
            client.disconnect()
            discard.close()
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    try:
        from .simulator import RealtimeSimulator
    except ImportError as exc:
        raise RealtimeError(
            "the simulator needs its server library: pip install 'realtime_sync[server]' (%s)" % exc
        ) from exc
    simulator = RealtimeSimulator(host=args.host, port=args.port, **pacing_options(args))
    simulator.start()
    # A service manager stops us with SIGTERM: treat it like Ctrl-C (clean stop, exit 0).
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        print(
            "Realtime simulator listening on %s (Ctrl-C to stop)" % simulator.url,
            flush=True,
        )
        print("Try: python -m realtime_sync chat --url %s" % simulator.url, flush=True)
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        print("stopping the simulator", file=sys.stderr, flush=True)
    finally:
        simulator.stop()
        signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stamped(source: str, event: Dict[str, Any]) -> Dict[str, Any]:
    """A ``realtime.event``-shaped record of a wire event, stamped now."""
    return {"time": datetime.datetime.now().astimezone().isoformat(), "source": source, "event": event}


def _stdin_lines(stdin: Any) -> Any:
    if stdin.isatty():
        print("Type a message and press Enter (Ctrl-D to stop).", file=sys.stderr, flush=True)
    for line in stdin:
        yield line.rstrip("\n")


def _without_audio(value: Any, key: str = "") -> Any:
    """A copy of an event with base64 audio replaced by its length (for --json)."""
    if isinstance(value, dict):
        return {k: _without_audio(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_audio(v) for v in value]
    if isinstance(value, str) and key in ("audio", "delta") and len(value) > 200:
        return "<%d base64 chars>" % len(value)
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return "<%d samples>" % len(value)
    return value


if __name__ == "__main__":
    sys.exit(main())
