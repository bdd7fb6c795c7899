"""A light paced GA server for ``bench_sessions.py --server light``, run in its own process.

``bench_sessions.py`` measures the CLIENT: N sessions in one process. Its
default server, ``RealtimeSimulator``, used to run a few threads per session,
and on a small machine those threads (thousands at 300 sessions, over
several processes) competed with the client for the same cores: the
scheduler shares a core per thread, so the client's one ``ReceiveLoop``
thread waited behind them and the latency measured was the simulator's load
more than the client's (the simulator now serves every session on one event
loop, in the way this server showed; it still does all of a session's work,
input decoding and server VAD included). The live service runs on other
machines. This server stands in for it at a small, steady cost: ONE thread, one asyncio loop and the ``websockets``
asyncio server (the ``server`` extra) for every session, speaking just the
part of the GA wire the benchmark uses:

* on connect: ``session.created`` and ``conversation.created`` (the shapes
  ``RealtimeSimulator`` sends);
* ``session.update``: answered with ``session.updated`` (the session with
  the update merged in);
* ``input_audio_buffer.append``: counted and dropped as the frame is parsed
  (recognised from its first bytes: never decoded, never a message);
* ``response.create``: the reply the simulator's paced reply produces:
  ``response.created``, ``response.output_item.added``,
  ``conversation.item.added``, ``response.content_part.added``, then a
  ``response.output_audio.delta`` of 100 ms of 24 kHz pcm16 every 100 ms
  (paced from the ``response.create``, like the simulator; each stamped with
  ``t_sent``, ``time.monotonic()`` as it is handed to the socket), a
  ``response.output_audio_transcript.delta`` per word (a word every 0.4 s,
  the simulator's 15 characters a second), and at the end the ``.done``
  events and ``response.done``.

Every event shape is checked at startup against its model in
``openai.types.realtime`` (the GA wire shapes; the ``openai`` package is
needed), and the first ``session.updated`` again when it is built. The
audio payload is one base64 chunk encoded once and reused; an audio delta is
a string join, and a reply is a chain of loop timers (``call_at``, no task)
that write their frames straight to the transport (see ``_Reply``).

Run as a program: ``python benchmarks/_light_server.py --reply-seconds 60``
prints ``PORT <port> ga <pid>`` on one line and serves until its standard
input closes (the interface of ``bench_sessions.py --serve``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import itertools
import json
import math
import os
import resource
import socket
import struct
import sys
import time
from typing import Any, Dict, List, Optional

__all__ = ["CHUNK_MS", "WORD_EVERY", "check_templates", "main", "serve"]

SAMPLE_RATE = 24000
CHUNK_MS = 100
#: a transcript word ("hello " or "there ", 6 characters) every this many audio deltas: 15 characters a second
WORD_EVERY = 4
_WORDS = ("hello ", "there ")
_MODEL = "gpt-realtime"
_NICE_VARIABLE = "BENCH_SESSIONS_SERVER_NICE"


def _chunk() -> str:
    """100 ms of a 440 Hz tone, 24 kHz pcm16, base64 (encoded once)."""
    size = SAMPLE_RATE * CHUNK_MS // 1000
    samples = [int(8000 * math.sin(2 * math.pi * 440 * n / SAMPLE_RATE)) for n in range(size)]
    return base64.b64encode(struct.pack(f"<{size}h", *samples)).decode("ascii")


_CHUNK = _chunk()


def _session(ids: str) -> Dict[str, Any]:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": f"sess_{ids}",
        "model": _MODEL,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, friendly assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": 1796458920,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE}, "voice": "marin", "speed": 1.0},
        },
        "include": None,
    }


def _merge(base: Dict[str, Any], update: Dict[str, Any]) -> Dict[str, Any]:
    """``update`` merged into a copy of ``base``, dict by dict (what a ``session.update`` changes)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _item(ids: str, status: str, transcript: str = "") -> Dict[str, Any]:
    content = [{"type": "output_audio", "transcript": transcript}] if status == "completed" else []
    return {
        "id": f"item_{ids}",
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _response(ids: str, status: str, transcript: str = "") -> Dict[str, Any]:
    output_tokens = len(transcript) // 4 + 1
    return {
        "id": f"resp_{ids}",
        "object": "realtime.response",
        "status": status,
        "status_details": None,
        "output": [] if status == "in_progress" else [_item(ids, status, transcript)],
        "conversation_id": f"conv_{ids}",
        "output_modalities": ["audio"],
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE}, "voice": "marin"}},
        "max_output_tokens": "inf",
        "metadata": None,
        "usage": None
        if status == "in_progress"
        else {
            "total_tokens": output_tokens,
            "input_tokens": 0,
            "output_tokens": output_tokens,
            "input_token_details": {"cached_tokens": 0, "text_tokens": 0, "audio_tokens": 0},
            "output_token_details": {"text_tokens": 0, "audio_tokens": output_tokens},
        },
    }


def _where(ids: str, **more: Any) -> Dict[str, Any]:
    return dict({"response_id": f"resp_{ids}", "item_id": f"item_{ids}", "output_index": 0, "content_index": 0}, **more)


def opening(ids: str) -> List[Dict[str, Any]]:
    """The events sent on connect."""
    return [
        {"event_id": f"event_{ids}_s1", "type": "session.created", "session": _session(ids)},
        {
            "event_id": f"event_{ids}_s2",
            "type": "conversation.created",
            "conversation": {"id": f"conv_{ids}", "object": "realtime.conversation"},
        },
    ]


def prologue(ids: str) -> List[Dict[str, Any]]:
    """The events between ``response.create`` and the first delta."""
    return [
        {"event_id": f"event_{ids}_p1", "type": "response.created", "response": _response(ids, "in_progress")},
        {
            "event_id": f"event_{ids}_p2",
            "type": "response.output_item.added",
            "response_id": f"resp_{ids}",
            "output_index": 0,
            "item": _item(ids, "in_progress"),
        },
        {
            "event_id": f"event_{ids}_p3",
            "type": "conversation.item.added",
            "previous_item_id": None,
            "item": _item(ids, "in_progress"),
        },
        {
            "event_id": f"event_{ids}_p4",
            "type": "response.content_part.added",
            **_where(ids, part={"type": "audio", "transcript": ""}),
        },
    ]


def epilogue(ids: str, transcript: str) -> List[Dict[str, Any]]:
    """The events after the last audio delta."""
    return [
        {"event_id": f"event_{ids}_e1", "type": "response.output_audio.done", **_where(ids)},
        {"event_id": f"event_{ids}_e2", "type": "response.output_audio_transcript.done", **_where(ids, transcript=transcript)},
        {
            "event_id": f"event_{ids}_e3",
            "type": "response.content_part.done",
            **_where(ids, part={"type": "audio", "transcript": transcript}),
        },
        {
            "event_id": f"event_{ids}_e4",
            "type": "response.output_item.done",
            "response_id": f"resp_{ids}",
            "output_index": 0,
            "item": _item(ids, "completed", transcript),
        },
        {
            "event_id": f"event_{ids}_e5",
            "type": "conversation.item.done",
            "previous_item_id": None,
            "item": _item(ids, "completed", transcript),
        },
        {"event_id": f"event_{ids}_e6", "type": "response.done", "response": _response(ids, "completed", transcript)},
    ]


class _Deltas:
    """The two delta events of one connection, as string templates (a join per event)."""

    def __init__(self, ids: str) -> None:
        where = json.dumps(_where(ids), separators=(",", ":"))[1:-1]
        self.audio_head = '{"event_id":"event_' + ids + "_a"
        self.audio_tail = '","type":"response.output_audio.delta",' + where + ',"t_sent":'
        self.text_head = '{"event_id":"event_' + ids + "_t"
        self.text_tail = '","type":"response.output_audio_transcript.delta",' + where + ',"delta":"'

    def audio(self, index: int) -> str:
        # t_sent then the delta, last (as the stamped simulator sends it); stamped here, just before the send
        return f'{self.audio_head}{index}{self.audio_tail}{time.monotonic()!r},"delta":"{_CHUNK}"}}'

    def text(self, index: int, word: str) -> str:
        return f'{self.text_head}{index}{self.text_tail}{word}"}}'


_MODELS = {
    "session.created": "SessionCreatedEvent",
    "conversation.created": "ConversationCreatedEvent",
    "session.updated": "SessionUpdatedEvent",
    "response.created": "ResponseCreatedEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "conversation.item.added": "ConversationItemAdded",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.output_audio.delta": "ResponseAudioDeltaEvent",
    "response.output_audio_transcript.delta": "ResponseAudioTranscriptDeltaEvent",
    "response.output_audio.done": "ResponseAudioDoneEvent",
    "response.output_audio_transcript.done": "ResponseAudioTranscriptDoneEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "conversation.item.done": "ConversationItemDone",
    "response.done": "ResponseDoneEvent",
}


def check(event: Dict[str, Any]) -> Dict[str, Any]:
    """Validate ``event`` against its GA model in ``openai.types.realtime``; it must round-trip unchanged."""
    import openai.types.realtime as ga

    model = getattr(ga, _MODELS[event["type"]])
    back = model.model_validate(event).model_dump(mode="json", exclude_unset=True)
    if back != event:
        raise AssertionError(f"{event['type']}: the GA model does not round-trip the event: {back} != {event}")
    return event


def check_templates() -> int:
    """Check every event shape this server sends (a sample of each); return how many were checked."""
    ids = "light000000"
    deltas = _Deltas(ids)
    transcript = "".join(_WORDS)
    update = {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}}
    events = opening(ids) + prologue(ids) + epilogue(ids, transcript)
    events.append({"event_id": f"event_{ids}_u1", "type": "session.updated", "session": _merge(_session(ids), update)})
    events += [json.loads(deltas.audio(0)), json.loads(deltas.text(0, _WORDS[0]))]
    for event in events:
        check(event)
    if {e["type"] for e in events} != set(_MODELS):
        raise AssertionError("an event type of this server is not checked")
    return len(events)


class _Counters:
    connections = 0
    appends = 0
    replies = 0
    updated_checked = False


def _dumps(event: Dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def _frame(text: str) -> bytes:
    """``text`` as one unmasked, unfragmented websocket text frame (a server's frame)."""
    data = text.encode()
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + data
    return struct.pack("!BBQ", 0x81, 127, size) + data


class _Reply:
    """One paced spoken reply, driven by loop timers (no task): a delta every 100 ms, a word every WORD_EVERY.

    Its frames are written straight to the connection's transport, one ``write`` (one ``send`` system call)
    per event: the hot path skips ``websockets``' send machinery (a coroutine, a lock and a drain check per
    message), which is valid as the server never fragments a message and only writes while the connection
    is open; ``websockets`` still does the handshake, the reading, pings, pongs and the close.
    """

    def __init__(self, ws: Any, ids: str, n_deltas: int) -> None:
        self.ws = ws
        self.ids = ids
        self.n_deltas = n_deltas
        self.deltas = _Deltas(ids)
        self.words: List[str] = []
        self.index = 0
        self.loop = asyncio.get_running_loop()
        self.due = self.loop.time()
        self.handle: Optional[asyncio.TimerHandle] = None
        from websockets.protocol import State

        self.open = State.OPEN

    def _write(self, text: str) -> bool:
        if self.ws.state is not self.open or self.ws.transport.is_closing():
            return False
        self.ws.transport.write(_frame(text))
        return True

    def start(self) -> None:
        for event in prologue(self.ids):
            self._write(_dumps(event))
        self.tick()

    def tick(self) -> None:
        index = self.index
        if index == self.n_deltas:
            for event in epilogue(self.ids, "".join(self.words)):
                self._write(_dumps(event))
            _Counters.replies += 1
            return
        if index % WORD_EVERY == 0:
            word = _WORDS[len(self.words) % 2]
            self.words.append(word)
            self._write(self.deltas.text(index, word))
        if not self._write(self.deltas.audio(index)):
            return
        self.index = index + 1
        self.due += CHUNK_MS / 1000.0
        self.handle = self.loop.call_at(self.due, self.tick)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


_APPEND = b'"input_audio_buffer.append"'


def _connection_class() -> Any:
    from websockets.asyncio.server import ServerConnection
    from websockets.frames import Frame, Opcode

    class Connection(ServerConnection):
        """Counts and drops ``input_audio_buffer.append`` frames as they are parsed (no message, no wake-up)."""

        def process_event(self, event: Any) -> None:
            if (
                isinstance(event, Frame)
                and event.opcode is Opcode.TEXT
                and event.fin
                and _APPEND in bytes(event.data[:100])
            ):
                _Counters.appends += 1
                return
            super().process_event(event)

    return Connection


async def _connection(ws: Any, n_deltas: int, numbers: "itertools.count[int]") -> None:
    ids = f"light{next(numbers):06d}"
    _Counters.connections += 1
    session = _session(ids)
    replies: List[_Reply] = []
    try:
        for event in opening(ids):
            await ws.send(_dumps(event))
        async for message in ws:  # appends never get here (see _connection_class)
            event = json.loads(message)
            kind = event.get("type")
            if kind == "session.update":
                session = _merge(session, event.get("session") or {})
                updated = {"event_id": f"event_{ids}_u{len(replies)}", "type": "session.updated", "session": session}
                if not _Counters.updated_checked:  # the first one, as the client's update made it
                    check(updated)
                    _Counters.updated_checked = True
                await ws.send(_dumps(updated))
            elif kind == "response.create":
                reply = _Reply(ws, ids, n_deltas)
                replies.append(reply)
                reply.start()
            elif kind == "input_audio_buffer.append":
                _Counters.appends += 1
    except Exception as exc:  # noqa: BLE001 - the end of a connection; anything but a close is reported
        import websockets

        if not isinstance(exc, websockets.ConnectionClosed):
                print(f"light server: {ids}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        for reply in replies:
            reply.cancel()


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _serve(reply_seconds: float, port: int) -> None:
    from websockets.asyncio.server import serve as ws_serve

    loop = asyncio.get_running_loop()
    n_deltas = int(math.ceil(reply_seconds * 1000 / CHUNK_MS))
    numbers = itertools.count(1)
    # The socket is bound here: serve() on a host name would resolve it on a thread of the default executor.
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY on an accepted socket only when its proto says TCP
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    closed = loop.create_future()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 65536) and not closed.done():
            closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)

    async def handler(ws: Any) -> None:
        await _connection(ws, n_deltas, numbers)

    async with ws_serve(
        handler,
        sock=sock,
        compression=None,
        max_size=None,
        ping_interval=None,
        close_timeout=2,
        create_connection=_connection_class(),
    ):
        print(f"PORT {sock.getsockname()[1]} ga {os.getpid()}", flush=True)
        await closed
    loop.remove_reader(sys.stdin.fileno())


def serve(reply_seconds: float, port: int = 0) -> int:
    """Check the event shapes, then serve on 127.0.0.1 until standard input closes."""
    _raise_nofile()
    if os.environ.get(_NICE_VARIABLE):
        os.nice(int(os.environ[_NICE_VARIABLE]))
    check_templates()
    profile_path = os.environ.get("BENCH_SESSIONS_PROFILE")
    if profile_path:  # the one thread's CPU, by function
        import cProfile

        profile = cProfile.Profile(time.thread_time)
        profile.runcall(asyncio.run, _serve(reply_seconds, port))
        profile.dump_stats(profile_path)
    else:
        asyncio.run(_serve(reply_seconds, port))
    print(
        f"light server: {_Counters.connections} connections, {_Counters.appends} appends, "
        f"{_Counters.replies} replies completed",
        file=sys.stderr,
        flush=True,
    )
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reply-seconds", type=float, default=60.0, help="the length of each reply (s)")
    parser.add_argument("--port", type=int, default=0, help="the port (default: any free one)")
    parser.add_argument("--check", action="store_true", help="only check the event shapes against openai.types.realtime")
    args = parser.parse_args(argv)
    if args.check:
        print(f"{check_templates()} events checked against openai.types.realtime")
        return 0
    return serve(args.reply_seconds, args.port)


if __name__ == "__main__":
    raise SystemExit(main())
