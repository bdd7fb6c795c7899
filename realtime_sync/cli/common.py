"""Plumbing shared by the commands of the command line.

Choosing the server (an explicit URL, OpenAI when ``OPENAI_API_KEY`` is set,
or an embedded :class:`~realtime_sync.simulator.RealtimeSimulator`), building
and connecting the client from the parsed options, and printing assistant
replies as they stream. Everything here runs on the main thread unless a
docstring says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

from ..errors import (
    ConfigurationError,
    ConnectionClosedError,
    RealtimeError,
    RealtimeTimeoutError,
    ReconnectingError,
    ServerError,
)

__all__ = [
    "API_KEY_ENV",
    "URL_ENV",
    "Backend",
    "Tool",
    "open_backend",
    "client_options",
    "make_client",
    "connect_client",
    "session_config",
    "wait_for_session",
    "item_text",
    "ReplyPrinter",
    "LIVE_SPEED",
    "simulator_speed",
]

logger = logging.getLogger(__name__)

API_KEY_ENV = "OPENAI_API_KEY"
URL_ENV = "REALTIME_SYNC_URL"

#: Pacing of the embedded simulator for people watching: like a live model.
LIVE_SPEED = 1.0

#: A tool for ``add_tool``: its definition and the Python function that answers it.
Tool = Tuple[Dict[str, Any], Callable[[Dict[str, Any]], Any]]


class Backend:
    """Where a command connects: the keyword arguments for ``RealtimeClient``.

    Attributes:
        url: the WebSocket URL, or ``None`` for OpenAI's endpoint.
        simulated: ``True`` when an embedded simulator serves the session.
        description: a short human description ("the built-in simulator").
        protocol: the wire dialect this server needs, or ``None`` for the client's default.
    """

    def __init__(
        self, url: Optional[str], *, simulated: bool, description: str, protocol: Optional[str] = None
    ) -> None:
        self.url = url
        self.simulated = simulated
        self.description = description
        self.protocol = protocol

    def client_kwargs(
        self, *, model: Optional[str] = None, debug: bool = False, protocol: Optional[str] = None
    ) -> Dict[str, Any]:
        """Return the keyword arguments to build a ``RealtimeClient`` for this backend.

        Args:
            protocol: the wire dialect asked for on the command line; default:
                the backend's own (``"ga"`` for OpenAI), else the client's default.
        """
        kwargs: Dict[str, Any] = {"debug": debug}
        protocol = protocol or self.protocol
        if protocol:
            kwargs["protocol"] = protocol
        if self.url is not None:
            kwargs["url"] = self.url
            if not self.simulated and os.environ.get(API_KEY_ENV):
                # A server named by --url gets the key too (a relay, Azure...);
                # the socket layer refuses to send it over plain ws:// to a remote host.
                kwargs["api_key"] = os.environ[API_KEY_ENV]
        if model:
            kwargs["model"] = model
        return kwargs


@contextlib.contextmanager
def open_backend(
    url: Optional[str] = None,
    *,
    speed: Optional[float] = None,
    notice: Optional[TextIO] = None,
) -> Iterator[Backend]:
    """Choose the server for a command and keep it alive for the ``with`` block.

    Order: an explicit ``url`` (or ``REALTIME_SYNC_URL``), then OpenAI when
    ``OPENAI_API_KEY`` is set, otherwise an embedded simulator on 127.0.0.1,
    started here and stopped when the block ends.

    Args:
        url: an explicit server URL (``ws://`` or ``wss://``), or ``None``.
        speed: pacing of the embedded simulator's replies as a multiple of real
            time (1: like a live model; 0: as fast as possible); ``None`` keeps
            the simulator's own default.
        notice: where to print the "using the simulator" line (default stderr).

    Raises:
        ConfigurationError: the simulator is needed but its server library
            (the ``server`` extra) is not installed.
    """
    out = notice if notice is not None else sys.stderr
    url = url or os.environ.get(URL_ENV) or None
    if url:
        yield Backend(url, simulated=False, description=url)
        return
    if os.environ.get(API_KEY_ENV):
        # OpenAI's live service speaks only the GA dialect (it retired beta).
        yield Backend(None, simulated=False, description="OpenAI", protocol="ga")
        return
    try:
        from ..simulator import RealtimeSimulator
    except ImportError as exc:
        raise ConfigurationError(
            "no OPENAI_API_KEY is set and the built-in simulator cannot start: "
            "its server library is missing (pip install -e '.[server]' in the checkout, or pip install websockets)"
        ) from exc
    options: Dict[str, Any] = {}
    if speed is not None:
        options["speed"] = speed or None  # the simulator's None: unpaced
    simulator = RealtimeSimulator(**options)
    simulator.start()
    try:
        print(
            "No OPENAI_API_KEY set: using the built-in simulator at %s "
            "(set OPENAI_API_KEY to talk to OpenAI)." % simulator.url,
            file=out,
            flush=True,
        )
        yield Backend(simulator.url, simulated=True, description="the built-in simulator")
    finally:
        simulator.stop()


def simulator_speed(args: argparse.Namespace, default: Optional[float] = LIVE_SPEED) -> Optional[float]:
    """The embedded simulator's pacing: ``--speed`` when given, else ``default``."""
    speed = getattr(args, "speed", None)
    return default if speed is None else float(speed)


def client_options(args: argparse.Namespace, backend: Backend) -> Dict[str, Any]:
    """The ``RealtimeClient`` keyword arguments for the parsed options and ``backend``.

    ``--header`` values go in ``headers``; ``proxy`` is passed only when
    ``--proxy`` was given, so the command line works with clients that do not
    know the keyword.
    """
    kwargs = backend.client_kwargs(
        model=getattr(args, "model", None),
        debug=bool(getattr(args, "debug", False)),
        protocol=getattr(args, "protocol", None),
    )
    headers: Sequence[Tuple[str, str]] = getattr(args, "header", None) or ()
    if headers:
        kwargs["headers"] = dict(headers)
    proxy = getattr(args, "proxy", None)
    if proxy:
        kwargs["proxy"] = proxy
    return kwargs


def make_client(args: argparse.Namespace, backend: Backend) -> Any:
    """A ``RealtimeClient`` for ``backend`` built from the command line's options (reconnecting unless ``--no-reconnect``).

    The server's ``error`` events are remembered on ``args.server_errors`` (when
    that list exists), so that a closed connection can be explained by them.
    """
    from ..client import RealtimeClient

    # Reconnection is on (a dropped connection or an expired session carries the
    # conversation over to a new one) unless --no-reconnect was given.
    client = RealtimeClient(reconnect=bool(getattr(args, "reconnect", True)), **client_options(args, backend))
    errors: Optional[List[ServerError]] = getattr(args, "server_errors", None)
    if errors is not None:

        def remember(payload: Dict[str, Any]) -> None:  # socket thread
            error = payload.get("error")
            if isinstance(error, ServerError):
                errors.append(error)

        client.on("error", remember)
    return client


def session_config(args: argparse.Namespace, **extra: Any) -> Dict[str, Any]:
    """Session settings from ``--instructions`` and ``--voice``, updated with ``extra``."""
    config: Dict[str, Any] = {}
    if getattr(args, "instructions", None):
        config["instructions"] = args.instructions
    if getattr(args, "voice", None):
        config["voice"] = args.voice
    config.update(extra)
    return config


def wait_for_session(client: Any, timeout: Optional[float]) -> None:
    """Wait for ``session.created``; raise RealtimeTimeoutError when it does not come."""
    if client.wait_for_session_created(timeout=timeout) is None:
        raise RealtimeTimeoutError("the server sent no session.created within %g seconds" % (timeout or 0))


def connect_client(args: argparse.Namespace, backend: Backend, *, tools: Sequence[Tool] = (), **session: Any) -> Any:
    """Build a ``RealtimeClient`` for ``backend``, configure the session and connect.

    Args:
        tools: ``(definition, handler)`` pairs registered with ``add_tool``.
        session: session settings for ``update_session`` (``--instructions`` and
            ``--voice`` are added from ``args``).

    Waits up to ``args.timeout`` seconds for ``session.created``. The caller
    disconnects.
    """
    client = make_client(args, backend)
    for definition, handler in tools:
        client.add_tool(definition, handler)
    client.update_session(**session_config(args, **session))
    client.connect(timeout=args.timeout)
    try:
        wait_for_session(client, args.timeout)
    except BaseException:
        client.disconnect()
        raise
    return client


def item_text(item: Dict[str, Any]) -> str:
    """Return what an item says: its text, else its transcript, else ``""``."""
    formatted = item.get("formatted") or {}
    return str(formatted.get("text") or formatted.get("transcript") or "")


class ReplyPrinter:
    """Print assistant replies as they stream, and let the main thread wait for them.

    Register it with :meth:`attach`. Its callbacks run on the socket thread and
    only write to the output stream and set an event. A turn ends with a
    ``response.done`` whose output holds no function call: when a response
    calls a tool, the client sends the tool's output and starts a follow-up
    response, and the turn goes on until that one is done.

    A turn given up on with :meth:`abandon_turn` (its reply was too slow) is
    silenced until it ends, so its late words never mix with the next turn's.
    A turn cut off by a dropped connection ends when the client starts
    reconnecting; the reconnection is reported on ``err`` in a line each.
    """

    def __init__(self, out: TextIO, *, prefix: str = "assistant> ", err: Optional[TextIO] = None) -> None:
        self._out = out
        self._err = err
        self._prefix = prefix
        self._lock = threading.Lock()
        self._open_item: Optional[str] = None
        self._abandoned = 0  # turns given up on that have not ended yet
        self._turn_done = threading.Event()
        self._cut_off = False  # the current turn ended with the connection (the client reconnects)
        self.last_response: Optional[Dict[str, Any]] = None

    def attach(self, client: Any) -> None:
        """Subscribe to ``client``'s events (``conversation.updated``, responses, close)."""
        client.on("conversation.updated", self._on_updated)
        client.on("conversation.item.completed", self._on_completed)
        client.realtime.on("server.response.done", self._on_response_done)
        client.on("close", self._on_close)
        client.on("error", self._on_error)
        client.on("reconnecting", self._on_reconnecting)
        client.on("reconnected", self._on_reconnected)

    # -- socket thread -------------------------------------------------
    def _on_updated(self, event: Dict[str, Any]) -> None:
        item = event.get("item") or {}
        delta = event.get("delta") or {}
        if item.get("role") != "assistant":
            return
        piece = delta.get("text") or delta.get("transcript")
        if not piece:
            return
        with self._lock:
            if self._abandoned:
                return
            if self._open_item != item.get("id"):
                self._end_line()
                self._out.write(self._prefix)
                self._open_item = item.get("id")
            self._out.write(piece)
            self._out.flush()

    def _on_completed(self, event: Dict[str, Any]) -> None:
        item = event.get("item") or {}
        with self._lock:
            if self._abandoned:
                return
            if item.get("type") == "function_call":
                self._end_line()
                tool = (item.get("formatted") or {}).get("tool") or {}
                name = tool.get("name") or item.get("name")
                arguments = tool.get("arguments") or item.get("arguments") or ""
                self._out.write("[tool call] %s(%s)\n" % (name, arguments))
            elif item.get("type") == "function_call_output":
                self._end_line()
                self._out.write("[tool result] %s\n" % item.get("output", ""))
            elif item.get("role") == "assistant" and self._open_item == item.get("id"):
                self._end_line()
            self._out.flush()

    def _on_response_done(self, event: Dict[str, Any]) -> None:
        response = event.get("response") or {}
        calls_tool = any(
            isinstance(output, dict) and output.get("type") == "function_call" for output in response.get("output") or []
        )
        turn_ends = not (calls_tool and response.get("status") == "completed")
        with self._lock:
            self._end_line()
            if turn_ends and self._abandoned:
                self._abandoned -= 1  # the end of a turn given up on: not the current one
                return
            self.last_response = response
            if turn_ends:
                self._turn_done.set()  # under the lock: abandon_turn() reads it there

    def _on_close(self, event: Dict[str, Any]) -> None:
        self._turn_done.set()

    def _on_reconnecting(self, event: Dict[str, Any]) -> None:  # the client's reconnection worker
        with self._lock:
            self._end_line()
            self._notice(
                "[reconnecting: attempt %s of %s, after: %s]" % (event.get("attempt"), event.get("attempts"), event.get("cause"))
            )
            if not self._turn_done.is_set():
                self._cut_off = True
                self._turn_done.set()

    def _on_reconnected(self, event: Dict[str, Any]) -> None:
        with self._lock:
            self._notice("[reconnected: the conversation goes on (%s items carried over)]" % event.get("items"))

    def _notice(self, line: str) -> None:
        err = self._err if self._err is not None else sys.stderr
        err.write(line + "\n")
        err.flush()

    def _on_error(self, event: Dict[str, Any]) -> None:
        err = self._err if self._err is not None else sys.stderr
        with self._lock:
            self._end_line()
            err.write("[error] %s\n" % (event.get("error") or event))
            err.flush()

    def _end_line(self) -> None:
        if self._open_item is not None:
            self._out.write("\n")
            self._out.flush()
            self._open_item = None

    # -- main thread ---------------------------------------------------
    def expect_reply(self) -> None:
        """Call before sending a message, so that an earlier turn's end is not mistaken for this one."""
        with self._lock:
            self._turn_done.clear()
            self._cut_off = False

    def wait_for_turn(self, timeout: Optional[float]) -> bool:
        """Block until the reply to the last message (tool round trips included) is done.

        Args:
            timeout: seconds, ``None`` for no limit.

        Returns:
            ``True`` when the turn finished (or the connection closed), ``False`` on timeout.
        """
        return self._turn_done.wait(timeout)

    def abandon_turn(self, client: Any) -> None:
        """Give up on the current turn: end its line, silence it, ask the server to stop it.

        Whatever the turn still streams is not printed, and its end is not
        taken for the end of the next turn.
        """
        with self._lock:
            self._end_line()
            if not self._turn_done.is_set():
                self._abandoned += 1
        try:
            client.cancel_response()
        except RealtimeError as exc:  # nothing to cancel any more, or the socket closed
            logger.debug("could not cancel the abandoned response: %s", exc)

    def take_turn(self, client: Any, text: str, timeout: Optional[float]) -> None:
        """Send ``text`` as a user message and block until its reply is done.

        On timeout the turn is abandoned (see :meth:`abandon_turn`) before the
        error is raised, so the caller may go on with the next message.

        While the client reconnects, the message waits (up to ``timeout``) for it.

        Raises:
            RealtimeTimeoutError: no finished reply within ``timeout`` seconds.
            ReconnectingError: the connection dropped during the turn, or the
                client was still reconnecting after ``timeout`` (the message was not sent).
            ConnectionClosedError: the server closed the connection meanwhile.
        """
        self.expect_reply()
        if getattr(client, "is_reconnecting", lambda: False)():
            client.wait_for_reconnection(timeout)
        client.send_text(text)
        if not self.wait_for_turn(timeout):  # only a finite timeout runs out
            self.abandon_turn(client)
            raise RealtimeTimeoutError("no reply within %g seconds (--timeout sets the limit)" % (timeout or 0))
        if self._cut_off:
            raise ReconnectingError("the connection dropped during the reply; the client is reconnecting: send it again")
        if not client.is_connected():
            raise ConnectionClosedError("the server closed the connection")
