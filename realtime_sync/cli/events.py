"""The ``events`` command: a session's live event stream, one line per event.

The terminal twin of the event log in OpenAI's Realtime console: every client
and server event on one compact line (time, direction, type, a few words of
summary), coloured by source on a terminal. Streams of deltas are folded into
one line with a running count: on a terminal that line updates in place while
the deltas arrive; in a pipe it is printed once, when its ``.done`` (or the
response's end) arrives. ``--json`` prints the raw events as JSON lines
instead, for ``jq`` and friends; ``--type`` keeps only the events whose type
matches a glob pattern.

:class:`EventLog` takes the records from the socket thread (server events) and
the main thread (client events); it writes under a lock.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fnmatch
import json
import os
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

from .common import ReplyPrinter, make_client, open_backend, session_config, simulator_speed, wait_for_session

__all__ = ["describe_event", "format_event_line", "is_delta", "use_color", "EventLog", "run_events"]

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


_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_COLORS = {"client": "\x1b[36m", "server": "\x1b[32m", "error": "\x1b[1;31m"}


def format_event_line(
    realtime_event: Dict[str, Any], *, summary: Optional[str] = None, color: bool = False
) -> str:
    """One compact line for a ``realtime.event`` payload: time, direction, type, summary.

    Example: ``12:03:07.412 <- server response.text.delta  "Hel"``.

    Args:
        summary: the words after the type (default: :func:`describe_event`).
        color: add ANSI colours: client events cyan, server events green, errors red.
    """
    event = realtime_event.get("event") or {}
    source = str(realtime_event.get("source", "?"))
    stamp = _clock(realtime_event.get("time"))
    arrow = "->" if source == "client" else "<-"
    if summary is None:
        summary = describe_event(event)
    event_type = str(event.get("type", "?"))
    head = "%s %-6s %s" % (arrow, source, event_type)
    if color:
        tint = _COLORS["error"] if event_type == "error" else _COLORS.get(source, "")
        stamp = _DIM + stamp + _RESET
        head = tint + head + _RESET
    line = "%s %s" % (stamp, head)
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


# -- folding streams of deltas -----------------------------------------------


def is_delta(event_type: str) -> bool:
    """Whether events of this type are pieces of a stream (folded into one line)."""
    return event_type.endswith(".delta") or event_type == "input_audio_buffer.append"


def _stream_of(event_type: str) -> str:
    """The family a delta or its ending belongs to: ``response.text.delta`` -> ``response.text``."""
    return event_type.rsplit(".", 1)[0]


FoldKey = Tuple[str, str, str]


class _Fold:
    """The deltas of one stream seen so far: count, text, audio length."""

    def __init__(self, record: Dict[str, Any]) -> None:
        self.first = record
        self.count = 0
        self.text: List[str] = []
        self.audio_ms = 0

    def add(self, event: Dict[str, Any]) -> None:
        self.count += 1
        event_type = str(event.get("type", ""))
        if event_type.endswith("audio.delta") or event_type == "input_audio_buffer.append":
            self.audio_ms += _audio_ms(str(event.get("delta") or event.get("audio") or ""))
        else:
            self.text.append(str(event.get("delta", "")))

    def line(self, color: bool) -> str:
        plural = "delta" if self.count == 1 else "deltas"
        what = "%d ms audio" % self.audio_ms if not self.text else _short("".join(self.text))
        return format_event_line(self.first, summary="%s (%d %s)" % (what, self.count, plural), color=color)


class EventLog:
    """Write ``realtime.event`` records to a stream, one line each.

    Thread-safe: :meth:`write` is called on the socket thread (server events)
    and on the sending thread (client events). A write to a closed pipe
    (``... | head``) sets :attr:`broken` instead of raising.

    Args:
        out: the stream.
        json_lines: print each record as one line of JSON, unabridged and unfolded.
        color: colour the lines by source (ANSI).
        live: ``out`` is a terminal: show the open delta streams on a status
            line rewritten in place.
        types: glob patterns (``response.*``); when given, only events whose
            type matches one are printed.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        json_lines: bool = False,
        color: bool = False,
        live: bool = False,
        types: Sequence[str] = (),
    ) -> None:
        self._out = out
        self._json = json_lines
        self._color = color
        self._live = live
        self._types = tuple(types)
        self._folds: Dict[FoldKey, _Fold] = {}
        self._status = False  # a status line is on screen (live mode)
        self._lock = threading.Lock()
        self.broken = False

    def wanted(self, event_type: str) -> bool:
        """Whether the ``--type`` patterns let this event type through."""
        return not self._types or any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self._types)

    def write(self, record: Dict[str, Any]) -> None:
        """Print one record (``{"time", "source", "event"}``), or fold it into its stream."""
        event = record.get("event") or {}
        event_type = str(event.get("type", "?"))
        with self._lock:
            if self.broken:
                return
            try:
                self._write(record, event, event_type)
                self._out.flush()
            except (BrokenPipeError, ValueError):  # the reader went away (or the stream is closed)
                self.broken = True

    def close(self) -> None:
        """Print the streams still open (at the end of the session)."""
        with self._lock:
            if self.broken:
                return
            try:
                self._clear_status()
                for key in list(self._folds):
                    self._out.write(self._folds.pop(key).line(self._color) + "\n")
                self._out.flush()
            except (BrokenPipeError, ValueError):
                self.broken = True

    # -- under the lock --------------------------------------------------
    def _write(self, record: Dict[str, Any], event: Dict[str, Any], event_type: str) -> None:
        if self._json:
            if self.wanted(event_type):
                self._out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            return
        source = str(record.get("source", "?"))
        if is_delta(event_type):
            if not self.wanted(event_type):
                return
            key = (source, event_type, str(event.get("item_id") or event.get("response_id") or ""))
            fold = self._folds.get(key)
            if fold is None:
                fold = self._folds[key] = _Fold(record)
            fold.add(event)
            self._show_status()
            return
        self._clear_status()
        self._end_folds(source, event_type, event)
        if self.wanted(event_type):
            self._out.write(format_event_line(record, color=self._color) + "\n")
        self._show_status()

    def _end_folds(self, source: str, event_type: str, event: Dict[str, Any]) -> None:
        """Print the streams this event ends: its own ``.done``, or all of a finished response."""
        family = _stream_of(event_type)
        item_id = str(event.get("item_id") or event.get("response_id") or "")
        for key in list(self._folds):
            fold_source, fold_type, fold_item = key
            if fold_source != source:
                continue
            same_stream = _stream_of(fold_type) == family and fold_item in (item_id, "")
            if same_stream or (source == "server" and event_type == "response.done"):
                self._out.write(self._folds.pop(key).line(self._color) + "\n")

    def _show_status(self) -> None:
        if not self._live or not self._folds:
            return
        parts = ["%s x%d" % (key[1], fold.count) for key, fold in self._folds.items()]
        self._out.write("\r\x1b[K  ... " + ", ".join(parts))
        self._status = True

    def _clear_status(self) -> None:
        if self._status:
            self._out.write("\r\x1b[K")
            self._status = False


# -- the command -------------------------------------------------------------


def _stamped(source: str, event: Dict[str, Any]) -> Dict[str, Any]:
    """A ``realtime.event``-shaped record of a wire event, stamped now."""
    return {"time": datetime.datetime.now().astimezone().isoformat(), "source": source, "event": event}


def _stdin_lines(stdin: TextIO, err: TextIO) -> Iterator[str]:
    if stdin.isatty():
        print("Type a message and press Enter (Ctrl-D to stop).", file=err, flush=True)
    for line in stdin:
        yield line.rstrip("\n")


def use_color(choice: str, out: TextIO) -> bool:
    """``--color`` (auto, always, never): auto colours a terminal unless ``NO_COLOR`` is set."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def run_events(args: argparse.Namespace, *, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Print the live event stream of a session (``realtime-sync events``). Returns the exit code.

    Messages come from ``--say`` or, without it, from the lines of ``stdin``.
    The raw wire events are shown (GA names on a GA connection).

    Raises:
        RealtimeError: the connection failed or closed, or a reply did not come
            within ``args.timeout`` seconds.
    """
    isatty = getattr(out, "isatty", None)
    terminal = bool(isatty and isatty())
    log = EventLog(
        out,
        json_lines=args.json,
        color=use_color(args.color, out),
        live=terminal and not args.json,
        types=args.type,
    )
    session: Dict[str, Any] = {"turn_detection": None}
    if args.text_only:
        session["modalities"] = ["text"]
    with open_backend(args.url, speed=simulator_speed(args, None), notice=err) as backend:
        client = make_client(args, backend)
        client.realtime.on("client.*", lambda event: log.write(_stamped("client", event)))
        client.realtime.on("server.*", lambda event: log.write(_stamped("server", event)))
        client.update_session(**session_config(args, **session))
        record = getattr(args, "record", None)
        keep_audio = not getattr(args, "record_no_audio", False)
        recording = client.record(record, record_audio=keep_audio) if record else contextlib.nullcontext()
        with recording, open(os.devnull, "w") as discard:
            waiter = ReplyPrinter(discard, err=discard)  # only for its end-of-turn signal
            waiter.attach(client)
            try:
                client.connect(timeout=args.timeout)
                wait_for_session(client, args.timeout)
                messages: Iterator[str] = iter(args.say) if args.say else _stdin_lines(stdin, err)
                for text in messages:
                    if log.broken:
                        break
                    if text.strip():
                        waiter.take_turn(client, text, args.timeout)
            finally:
                client.disconnect()
                log.close()
    if record:
        print("Recorded the session to %s (replay it: realtime-sync replay %s)." % (record, record), file=err)
    return 0
