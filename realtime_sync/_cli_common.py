"""Plumbing shared by the command-line commands (private).

Choosing the server (an explicit URL, OpenAI when ``OPENAI_API_KEY`` is set,
or an embedded :class:`~realtime_sync.simulator.RealtimeSimulator`), printing
assistant replies as they stream, and the one-line event descriptions of the
``events`` command. Everything here runs on the main thread unless a docstring
says otherwise.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
import threading
from typing import Any, Dict, Iterator, Optional, TextIO

from .errors import ConfigurationError, ConnectionClosedError, RealtimeTimeoutError

__all__ = [
    "API_KEY_ENV",
    "URL_ENV",
    "Backend",
    "open_backend",
    "describe_event",
    "format_event_line",
    "item_text",
    "ReplyPrinter",
]

API_KEY_ENV = "OPENAI_API_KEY"
URL_ENV = "REALTIME_SYNC_URL"


class Backend:
    """Where the CLI connects: the keyword arguments for ``RealtimeClient``.

    Attributes:
        url: the WebSocket URL, or ``None`` for OpenAI's endpoint.
        simulated: ``True`` when an embedded simulator serves the session.
        description: a short human description ("the built-in simulator at ...").
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
    realtime: bool = False,
    notice: Optional[TextIO] = None,
) -> Iterator[Backend]:
    """Choose the server for a command and keep it alive for the ``with`` block.

    Order: an explicit ``url`` (or ``REALTIME_SYNC_URL``), then OpenAI when
    ``OPENAI_API_KEY`` is set, otherwise an embedded simulator on 127.0.0.1,
    started here and stopped when the block ends.

    Args:
        url: an explicit server URL (``ws://`` or ``wss://``), or ``None``.
        realtime: pace the embedded simulator's replies like a live model.
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
        from .simulator import RealtimeSimulator
    except ImportError as exc:
        raise ConfigurationError(
            "no OPENAI_API_KEY is set and the built-in simulator cannot start: "
            "its server library is missing (pip install 'realtime_sync[server]')"
        ) from exc
    simulator = RealtimeSimulator(realtime=realtime)
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


def item_text(item: Dict[str, Any]) -> str:
    """Return what an item says: its text, else its transcript, else ``""``."""
    formatted = item.get("formatted") or {}
    return formatted.get("text") or formatted.get("transcript") or ""


class ReplyPrinter:
    """Print assistant replies as they stream, and let the main thread wait for them.

    Register it with :meth:`attach`. Its callbacks run on the socket thread and
    only write to the output stream and set an event. A turn ends with a
    ``response.done`` whose output holds no function call: when a response
    calls a tool, the client sends the tool's output and starts a follow-up
    response, and the turn goes on until that one is done.
    """

    def __init__(self, out: TextIO, *, prefix: str = "assistant> ", err: Optional[TextIO] = None) -> None:
        self._out = out
        self._err = err
        self._prefix = prefix
        self._lock = threading.Lock()
        self._open_item: Optional[str] = None
        self._turn_done = threading.Event()
        self.last_response: Optional[Dict[str, Any]] = None

    def attach(self, client: Any) -> None:
        """Subscribe to ``client``'s events (``conversation.updated``, responses, close)."""
        client.on("conversation.updated", self._on_updated)
        client.on("conversation.item.completed", self._on_completed)
        client.realtime.on("server.response.done", self._on_response_done)
        client.on("close", self._on_close)
        client.on("error", self._on_error)

    def detach(self, client: Any) -> None:
        """Remove the callbacks added by :meth:`attach`."""
        client.off("conversation.updated", self._on_updated)
        client.off("conversation.item.completed", self._on_completed)
        client.realtime.off("server.response.done", self._on_response_done)
        client.off("close", self._on_close)
        client.off("error", self._on_error)

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
            if self._open_item != item.get("id"):
                self._end_line()
                self._out.write(self._prefix)
                self._open_item = item.get("id")
            self._out.write(piece)
            self._out.flush()

    def _on_completed(self, event: Dict[str, Any]) -> None:
        item = event.get("item") or {}
        with self._lock:
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
            isinstance(output, dict) and output.get("type") == "function_call"
            for output in response.get("output") or []
        )
        with self._lock:
            self._end_line()
            self.last_response = response
        if not (calls_tool and response.get("status") == "completed"):
            self._turn_done.set()

    def _on_close(self, event: Dict[str, Any]) -> None:
        self._turn_done.set()

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
        self._turn_done.clear()

    def wait_for_turn(self, timeout: Optional[float]) -> bool:
        """Block until the reply to the last message (tool round trips included) is done.

        Args:
            timeout: seconds, ``None`` for no limit.

        Returns:
            ``True`` when the turn finished (or the connection closed), ``False`` on timeout.
        """
        return self._turn_done.wait(timeout)

    def take_turn(self, client: Any, text: str, timeout: Optional[float]) -> None:
        """Send ``text`` as a user message and block until its reply is done.

        Raises:
            RealtimeTimeoutError: no finished reply within ``timeout`` seconds.
            ConnectionClosedError: the server closed the connection meanwhile.
        """
        self.expect_reply()
        client.send_text(text)
        if not self.wait_for_turn(timeout):  # only a finite timeout runs out
            raise RealtimeTimeoutError("no reply within %g seconds" % (timeout or 0))
        if not client.is_connected():
            raise ConnectionClosedError("the server closed the connection")


# -- the ``events`` command's one-line descriptions -----------------------

_AUDIO_RATE = 24000


def _short(text: str, limit: int = 60) -> str:
    """``text`` quoted as JSON (newlines escaped), cut to about ``limit`` characters."""
    return json.dumps(text if len(text) <= limit else text[: limit - 3] + "...", ensure_ascii=False)


def _audio_ms(b64: str, rate: int = _AUDIO_RATE) -> int:
    """Milliseconds of pcm16 audio in a base64 string (computed from its length)."""
    n_bytes = len(b64) * 3 // 4 - b64[-2:].count("=") if b64 else 0
    return int(n_bytes / 2 / rate * 1000)


def describe_event(event: Dict[str, Any]) -> str:
    """Summarise one wire event in a few words (ids, deltas, statuses; audio as a length)."""
    event_type = str(event.get("type", "?"))
    parts = []
    if event_type.endswith("audio.delta") or event_type == "input_audio_buffer.append":
        key = "delta" if "delta" in event else "audio"
        parts.append("%d ms audio" % _audio_ms(str(event.get(key) or "")))
    elif event_type.endswith(".delta"):
        parts.append(_short(str(event.get("delta", ""))))
    elif event_type.endswith("transcription.completed"):
        parts.append(_short(str(event.get("transcript", ""))))
    elif event_type in ("response.text.done", "response.output_text.done"):
        parts.append(_short(str(event.get("text", ""))))
    elif event_type.endswith("audio_transcript.done"):
        parts.append(_short(str(event.get("transcript", ""))))
    elif event_type.endswith("function_call_arguments.done"):
        parts.append("%s(%s)" % (event.get("name", ""), event.get("arguments", "")))
    elif event_type == "error":
        error = event.get("error") or {}
        parts.append("%s: %s" % (error.get("code") or error.get("type"), error.get("message", "")))
    elif event_type.startswith("session."):
        session = event.get("session") or {}
        for key in ("model", "voice"):
            if session.get(key):
                parts.append("%s=%s" % (key, session[key]))
        for key in ("modalities", "output_modalities"):  # beta, GA
            if session.get(key):
                parts.append("%s=%s" % (key, "+".join(session[key])))
        if "turn_detection" in session:
            detection = session.get("turn_detection") or {}
            parts.append("turn_detection=%s" % (detection.get("type") if detection else None))
        tools = session.get("tools")
        if tools:
            parts.append("tools=%s" % ",".join(str(t.get("name")) for t in tools))
    elif event_type in (
        "conversation.item.create",
        "conversation.item.created",
        "conversation.item.added",  # GA
        "conversation.item.done",  # GA
    ):
        item = event.get("item") or {}
        parts.append(str(item.get("id") or ""))
        kind = item.get("role") or item.get("type")
        parts.append(str(kind))
        if item.get("type") == "function_call":
            parts.append(str(item.get("name", "")))
        for content in item.get("content") or []:
            if content.get("text"):
                parts.append(_short(str(content["text"])))
        if item.get("type") == "function_call_output":
            parts.append(_short(str(item.get("output", ""))))
    elif event_type.startswith("response.") and isinstance(event.get("response"), dict):
        response = event["response"]
        parts.append(str(response.get("id") or ""))
        if response.get("status"):
            parts.append(str(response["status"]))
        usage = response.get("usage") or {}
        if usage.get("total_tokens") is not None:
            parts.append("%s tokens" % usage["total_tokens"])
    elif event_type.startswith("response.output_item.") and isinstance(event.get("item"), dict):
        item = event["item"]
        parts.append("%s %s" % (item.get("id", ""), item.get("role") or item.get("type") or ""))
    elif event_type == "rate_limits.updated":
        for limit in event.get("rate_limits") or []:
            parts.append("%s %s/%s" % (limit.get("name"), limit.get("remaining"), limit.get("limit")))
    else:
        for key in ("item_id", "audio_start_ms", "audio_end_ms", "response_id"):
            if key in event:
                parts.append("%s=%s" % (key, event[key]))
        part = event.get("part")
        if isinstance(part, dict) and part.get("type"):
            parts.append("part=%s" % part["type"])
    return " ".join(p for p in parts if p)


def format_event_line(realtime_event: Dict[str, Any]) -> str:
    """One compact line for a ``realtime.event`` payload: time, direction, type, summary.

    Example: ``12:03:07.412 <- server  response.text.delta  "Hel"``.
    """
    event = realtime_event.get("event") or {}
    source = realtime_event.get("source", "?")
    stamp = _clock(realtime_event.get("time"))
    arrow = "->" if source == "client" else "<-"
    summary = describe_event(event)
    line = "%s %s %-6s %s" % (stamp, arrow, source, event.get("type", "?"))
    return line + ("  " + summary if summary else "")


def _clock(value: Any) -> str:
    """HH:MM:SS.mmm (local time) from an ISO-8601 string, or now when unparsable."""
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None:
        moment = datetime.datetime.now()
    elif moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%H:%M:%S.") + "%03d" % (moment.microsecond // 1000)
