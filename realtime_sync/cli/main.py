"""The argument parser and the entry point of the ``realtime-sync`` command line.

:func:`main` parses the arguments, runs one command and turns every error
into one line on stderr and an exit code (0 success, 1 error, 2 bad command
line, 130 interrupted). ``simulate`` is handed, arguments and all, to
:func:`realtime_sync.simulator.main`: one program with two names.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
import urllib.parse
from typing import Callable, List, Optional, Sequence, Tuple

from .._transport.secrets import redact_url
from .._version import __version__
from ..errors import RealtimeConnectionError, RealtimeError, RealtimeTimeoutError, ServerError
from .chat import run_chat, run_voice
from .demo import run_demo
from .events import run_events
from .replay import add_replay_arguments, run_replay
from .transcribe import add_transcribe_options, run_transcribe

__all__ = ["main", "build_parser", "describe_error", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_INTERRUPTED"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROG = "realtime-sync"

_EPILOG = """\
Without OPENAI_API_KEY (and without --url or REALTIME_SYNC_URL) the commands use
the built-in simulator. `realtime-sync simulate --help` lists the simulator's options.
Exit codes: 0 success, 1 error, 2 bad usage, 130 interrupted.
"""

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)
_PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


# -- option values (a bad one is a usage error: exit 2, argparse's words) -------


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number of seconds" % text) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds above 0, not %s" % text)
    return value


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be 0 (as fast as possible) or more, not %s" % text)
    return value


# A rejected argument is named with its credentials masked (user info, key
# query parameters) or, for a header, not shown at all: argparse prints the
# message, and a key typed on the command line must not reach a terminal or a
# CI log that way.


def _server_url(text: str) -> str:
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("ws", "wss", "http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            "%r is not a WebSocket URL (ws://HOST:PORT/... or wss://...)" % redact_url(text)
        )
    return text


def _header(text: str) -> Tuple[str, str]:
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not _HEADER_NAME.match(name):
        raise argparse.ArgumentTypeError(
            "a --header is not NAME:VALUE (for example 'api-key: ...'); it is not shown, as it may hold a key"
        )
    return name, value.strip()


def _proxy(text: str) -> str:
    full = text if "://" in text else "http://" + text  # host:port is an HTTP proxy
    try:
        parts = urllib.parse.urlsplit(full)
        _ = parts.port  # raises on a port out of range
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a proxy URL, or has a bad port" % redact_url(full)) from None
    if parts.scheme.lower() not in _PROXY_SCHEMES or not parts.hostname:
        raise argparse.ArgumentTypeError(
            "%r is not a proxy URL (http://HOST:PORT, or %s)" % (redact_url(full), ", ".join(_PROXY_SCHEMES[1:]))
        )
    return text


# -- the parser ------------------------------------------------------------------


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and session")
    group.add_argument(
        "--url",
        type=_server_url,
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
    group.add_argument(
        "--header",
        action="append",
        type=_header,
        default=[],
        metavar="NAME:VALUE",
        help="an extra HTTP header for the WebSocket handshake (repeatable), e.g. 'api-key: ...' for Azure",
    )
    group.add_argument(
        "--proxy",
        type=_proxy,
        metavar="URL",
        help="connect through this HTTP or SOCKS proxy (default: the environment's https_proxy / http_proxy)",
    )
    group.add_argument(
        "--no-reconnect",
        dest="reconnect",
        action="store_false",
        help="end the session when the connection drops or the session expires "
        "(default: reconnect and carry the conversation over)",
    )
    group.add_argument("--instructions", help="system instructions for the session")
    group.add_argument("--voice", help="assistant voice (alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar)")
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="seconds to wait for the connection and for each reply (default 60)",
    )
    group.add_argument(
        "--speed",
        type=_speed,
        metavar="N",
        help="pace of the built-in simulator's replies, as a multiple of real time "
        "(default 1, like a live model; 0 = as fast as possible); other servers ignore it",
    )
    group.add_argument("--debug", action="store_true", help="log every event to stderr and show tracebacks on errors")
    return common


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line (exposed for documentation and tests).

    ``simulate`` appears in it for the command list only: :func:`main` hands
    that command's arguments to the simulator's own parser.
    """
    common = _connection_options()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A synchronous Python client for the OpenAI Realtime API.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str, description: str, *, connects: bool = True
    ) -> argparse.ArgumentParser:
        """A subcommand run by ``handler`` (with the connection options when it ``connects``)."""
        sub = commands.add_parser(name, parents=[common] if connects else [], help=help, description=description)
        sub.set_defaults(handler=handler)
        return sub

    command(
        "demo",
        _cmd_demo,
        help="a short scripted conversation with a tool call, then exit",
        description="Run a short scripted conversation: replies stream token by token "
        "and one question is answered by calling a local Python function.",
    )

    command(
        "chat",
        _cmd_chat,
        help="chat in the terminal (type /quit to leave, /voice to talk)",
        description="Interactive text chat. Replies stream as they are generated. "
        "Commands: /quit (or Ctrl-D) leaves, /voice switches the microphone and "
        "speaker on and off (needs the audio extra). A reply slower than --timeout "
        "is cancelled and reported; the chat goes on.",
    )

    voice = command(
        "voice",
        _cmd_voice,
        help="talk with the microphone and hear the speaker",
        description="Voice conversation with server voice detection and barge-in. Press Enter (or Ctrl-C) to stop.",
    )
    voice.add_argument("--push-to-talk", action="store_true", help="Enter starts and ends each turn")
    voice.add_argument("--input-device", help="microphone index or name substring")
    voice.add_argument("--output-device", help="speaker index or name substring")
    voice.add_argument("--list-devices", action="store_true", help="list audio devices and exit")

    events = command(
        "events",
        _cmd_events,
        help="print a session's live event stream, one line per event",
        description="Print every client and server event of a session on one compact line, "
        "like the event log of OpenAI's Realtime console; streams of deltas are folded into one "
        "line with a count. Messages come from --say or, without it, from the lines typed on "
        "standard input (Ctrl-D ends).",
    )
    events.add_argument(
        "--say", action="append", default=[], metavar="TEXT", help="send this user message and wait for the reply (repeatable)"
    )
    events.add_argument("--json", action="store_true", help="print each event, unabridged, as one line of JSON")
    events.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="PATTERN",
        help="show only events whose type matches this glob, e.g. 'response.*' (repeatable)",
    )
    events.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour lines by source (default auto: on a terminal, unless NO_COLOR is set)",
    )
    events.add_argument("--text-only", action="store_true", help="ask for text replies only (no audio events)")
    events.add_argument(
        "--record", metavar="FILE", help="also record every frame to FILE (JSON Lines; replay it with `replay FILE`)"
    )
    events.add_argument("--record-no-audio", action="store_true", help="with --record: keep only the length of audio")

    replay = command(
        "replay",
        _cmd_replay,
        help="serve a recorded session to a client (no key, no network), or --print it",
        description="Serve a recording (from `events --record FILE` or RealtimeClient(record=...)) on a "
        "local port: each client event is matched with the recorded one and answered with the recorded "
        "server events, in the recording's dialect. A client that diverges gets an error event naming "
        "what was expected. Ctrl-C stops (exit code 1 if a client diverged).",
        connects=False,
    )
    add_replay_arguments(replay)

    transcribe = command(
        "transcribe",
        _cmd_transcribe,
        help="live captions: transcribe a WAV file or the microphone",
        description="Transcribe speech in a transcription session: each utterance is one line, its "
        "words appearing as they are recognised (on a terminal) and the final text replacing them. "
        "Without FILE it listens to the microphone until Enter. --model names the transcription model "
        "(default gpt-4o-transcribe; also gpt-4o-mini-transcribe, whisper-1).",
    )
    add_transcribe_options(transcribe)

    commands.add_parser(
        "simulate",
        add_help=False,
        help="run the built-in Realtime simulator until Ctrl-C (same as python -m realtime_sync.simulator)",
    )
    return parser


# -- the entry point -------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line and return its exit code.

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``).
    """
    arguments: List[str] = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["simulate"]:
        return _simulate(arguments[1:])
    args = build_parser().parse_args(arguments)
    debug = bool(args.debug)
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
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return int(handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `realtime-sync events | head`: the reader has what it wanted
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # one line for the user, the traceback with --debug
        if debug:
            traceback.print_exc()
        print("%s: error: %s" % (PROG, describe_error(exc, args.server_errors, hint=not debug)), file=sys.stderr)
        return EXIT_ERROR


def describe_error(exc: BaseException, server_errors: Sequence[ServerError] = (), *, hint: bool = False) -> str:
    """One line for ``exc``; a closed connection is explained by the server's last error.

    Args:
        hint: for an unexpected error (not a ``RealtimeError``, so likely a
            bug), end the line by pointing at ``--debug``.
    """
    message = " ".join((str(exc) or exc.__class__.__name__).split())
    if not isinstance(exc, RealtimeError):
        return "%s: %s%s" % (exc.__class__.__name__, message, " (run again with --debug for the traceback)" if hint else "")
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


def _simulate(argv: List[str]) -> int:
    """``realtime-sync simulate ARGS``: the simulator's own program, ``python -m realtime_sync.simulator``."""
    try:
        from ..simulator import main as simulator_main
    except ImportError as exc:
        print(
            "%s: error: the simulator needs its server library: pip install -e '.[server]' in the checkout, "
            "or pip install websockets (%s)" % (PROG, exc),
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        return int(simulator_main(argv, prog="%s simulate" % PROG) or EXIT_OK)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


# -- commands ----------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(args, out=sys.stdout)


def _cmd_chat(args: argparse.Namespace) -> int:
    return run_chat(args, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)


def _cmd_voice(args: argparse.Namespace) -> int:
    return run_voice(args, stdin=sys.stdin, out=sys.stdout)


def _cmd_events(args: argparse.Namespace) -> int:
    return run_events(args, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)


def _cmd_replay(args: argparse.Namespace) -> int:
    return run_replay(args, out=sys.stdout, err=sys.stderr)


def _cmd_transcribe(args: argparse.Namespace) -> int:
    return run_transcribe(args, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)
