"""A GA-dialect stream server for the floor benchmark, run in its own process.

The server speaks just enough RFC 6455 (the handshake and the framing helpers
of ``_stream_server.py``) and writes pre-built, unmasked text frames with
``sendall``, so the client under test sets the pace. Every event is built as a
dict and checked against its model in ``openai.types.realtime`` (the GA
wire shapes, as the live service sends them) before it is encoded.

One streamed reply (``reply_events``), for ``minutes`` of audio:

* ``session.created`` right after the handshake;
* after the client's ``response.create``: ``response.created``,
  ``response.output_item.added``, ``conversation.item.added``,
  ``response.content_part.added``;
* 50 ms ``response.output_audio.delta`` events (24 kHz pcm16, 3.4 kB of JSON
  each), with a ``response.output_audio_transcript.delta`` after every tenth
  (a 10-minute reply: 12,000 audio and 1,200 transcript deltas);
* ``response.output_audio.done``, ``response.output_audio_transcript.done``,
  ``response.content_part.done``, ``response.output_item.done``,
  ``conversation.item.done``, ``response.done``.

A 10-minute reply is 13,211 events. Frames are generated in batches as they
are sent (a 60-minute reply is 260 MB of frames, never held at once).

Modes of a connection (``mode`` in :func:`serve`):

* ``"stream"``: the reply above, then read until the client closes;
* ``"sink"``: answer the handshake, send ``session.created``, then read and
  discard whatever the client sends (raw bytes, no frame parsing) until it
  closes; the byte count is not checked.

Run as a program: ``python benchmarks/_ga_stream.py --minutes 10`` prints
``PORT <n>`` on one line and serves (one connection at a time per mode port)
until its standard input closes. :func:`start_server_process` does that from
another script and returns the URLs and a stop function.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import socket
import struct
import subprocess
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from _stream_server import _handshake, _read_client_frame, encode_frame

__all__ = [
    "SAMPLE_RATE",
    "CHUNK_MS",
    "MODEL",
    "RESPONSE_ID",
    "ITEM_ID",
    "TRANSCRIPT_EVERY",
    "session_created",
    "prologue",
    "epilogue",
    "reply_event_count",
    "audio_delta_count",
    "frames",
    "serve",
    "start_server_process",
]

SAMPLE_RATE = 24000
CHUNK_MS = 50
MODEL = "gpt-realtime"
RESPONSE_ID = "resp_benchGA0001"
ITEM_ID = "item_benchGA0001"
#: a transcript delta after every this many audio deltas
TRANSCRIPT_EVERY = 10
_WORD = "word "
_BATCH = 256

_CHECKED: Dict[str, bool] = {}


def _check(event: Dict[str, Any]) -> Dict[str, Any]:
    """Validate ``event`` against its ``openai.types.realtime`` model (once per type); return it."""
    kind = event["type"]
    if kind in _CHECKED:
        return event
    from openai.types.realtime import (
        ConversationItemAdded,
        ConversationItemDone,
        ResponseAudioDeltaEvent,
        ResponseAudioDoneEvent,
        ResponseAudioTranscriptDeltaEvent,
        ResponseAudioTranscriptDoneEvent,
        ResponseContentPartAddedEvent,
        ResponseContentPartDoneEvent,
        ResponseCreatedEvent,
        ResponseDoneEvent,
        ResponseOutputItemAddedEvent,
        ResponseOutputItemDoneEvent,
        SessionCreatedEvent,
    )

    models: Dict[str, Any] = {
        "session.created": SessionCreatedEvent,
        "response.created": ResponseCreatedEvent,
        "response.output_item.added": ResponseOutputItemAddedEvent,
        "conversation.item.added": ConversationItemAdded,
        "response.content_part.added": ResponseContentPartAddedEvent,
        "response.output_audio.delta": ResponseAudioDeltaEvent,
        "response.output_audio_transcript.delta": ResponseAudioTranscriptDeltaEvent,
        "response.output_audio.done": ResponseAudioDoneEvent,
        "response.output_audio_transcript.done": ResponseAudioTranscriptDoneEvent,
        "response.content_part.done": ResponseContentPartDoneEvent,
        "response.output_item.done": ResponseOutputItemDoneEvent,
        "conversation.item.done": ConversationItemDone,
        "response.done": ResponseDoneEvent,
    }
    model = models[kind]
    parsed = model.model_validate(event)
    back = parsed.model_dump(mode="json", exclude_unset=True)
    if back != event:
        raise AssertionError(f"{kind}: the GA model does not round-trip the event: {back} != {event}")
    _CHECKED[kind] = True
    return event


def session_created() -> Dict[str, Any]:
    """A GA ``session.created``, as the live service sends it (the fields a client reads)."""
    return _check(
        {
            "type": "session.created",
            "event_id": "event_bench_s1",
            "session": {
                "type": "realtime",
                "object": "realtime.session",
                "id": "sess_benchGA0001",
                "model": MODEL,
                "output_modalities": ["audio"],
                "instructions": "",
                "tools": [],
                "tool_choice": "auto",
                "max_output_tokens": "inf",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                        "transcription": None,
                        "noise_reduction": None,
                        "turn_detection": None,
                    },
                    "output": {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE}, "voice": "alloy", "speed": 1.0},
                },
            },
        }
    )


def _item(status: str, transcript: str = "") -> Dict[str, Any]:
    content: List[Dict[str, Any]] = []
    if status == "completed":
        content = [{"type": "output_audio", "transcript": transcript}]
    return {
        "id": ITEM_ID,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _response(status: str, transcript: str = "") -> Dict[str, Any]:
    return {
        "id": RESPONSE_ID,
        "object": "realtime.response",
        "status": status,
        "status_details": None,
        "output": [] if status == "in_progress" else [_item(status, transcript)],
        "conversation_id": "conv_benchGA0001",
        "output_modalities": ["audio"],
        "usage": None,
    }


def _where(**more: Any) -> Dict[str, Any]:
    return dict({"response_id": RESPONSE_ID, "item_id": ITEM_ID, "output_index": 0, "content_index": 0}, **more)


def prologue() -> List[Dict[str, Any]]:
    """The events before the first audio delta."""
    return [
        _check({"type": "response.created", "event_id": "event_bench_p1", "response": _response("in_progress")}),
        _check(
            {
                "type": "response.output_item.added",
                "event_id": "event_bench_p2",
                "response_id": RESPONSE_ID,
                "output_index": 0,
                "item": _item("in_progress"),
            }
        ),
        _check(
            {
                "type": "conversation.item.added",
                "event_id": "event_bench_p3",
                "previous_item_id": None,
                "item": _item("in_progress"),
            }
        ),
        _check(
            {
                "type": "response.content_part.added",
                "event_id": "event_bench_p4",
                **_where(),
                "part": {"type": "audio", "transcript": ""},
            }
        ),
    ]


def epilogue(transcript: str) -> List[Dict[str, Any]]:
    """The events after the last audio delta."""
    return [
        _check({"type": "response.output_audio.done", "event_id": "event_bench_e1", **_where()}),
        _check(
            {
                "type": "response.output_audio_transcript.done",
                "event_id": "event_bench_e2",
                **_where(transcript=transcript),
            }
        ),
        _check(
            {
                "type": "response.content_part.done",
                "event_id": "event_bench_e3",
                **_where(part={"type": "audio", "transcript": transcript}),
            }
        ),
        _check(
            {
                "type": "response.output_item.done",
                "event_id": "event_bench_e4",
                "response_id": RESPONSE_ID,
                "output_index": 0,
                "item": _item("completed", transcript),
            }
        ),
        _check(
            {
                "type": "conversation.item.done",
                "event_id": "event_bench_e5",
                "previous_item_id": None,
                "item": _item("completed", transcript),
            }
        ),
        _check({"type": "response.done", "event_id": "event_bench_e6", "response": _response("completed", transcript)}),
    ]


def audio_delta_count(minutes: float) -> int:
    """``response.output_audio.delta`` events in a reply of ``minutes``."""
    return int(round(minutes * 60 * 1000 / CHUNK_MS))


def reply_event_count(minutes: float) -> int:
    """Every server event of one connection (``session.created`` included)."""
    deltas = audio_delta_count(minutes)
    return 1 + len(prologue()) + deltas + deltas // TRANSCRIPT_EVERY + 6


def _audio_chunks(count: int = 16) -> List[str]:
    size = SAMPLE_RATE * CHUNK_MS // 1000
    chunks = []
    for index in range(count):
        start = index * size
        samples = [int(8000 * math.sin(2 * math.pi * 440 * (start + n) / SAMPLE_RATE)) for n in range(size)]
        chunks.append(base64.b64encode(struct.pack(f"<{size}h", *samples)).decode("ascii"))
    return chunks


def _delta_frames(n_deltas: int) -> Iterator[bytes]:
    """The deltas, as encoded frames; shapes checked once against the GA models."""
    chunks = _audio_chunks()
    audio_head = '{"type":"response.output_audio.delta","event_id":"event_'
    text_head = '{"type":"response.output_audio_transcript.delta","event_id":"event_t'
    tail = f'","response_id":"{RESPONSE_ID}","item_id":"{ITEM_ID}","output_index":0,"content_index":0,"delta":"'
    for sample in (
        audio_head + "00000000" + tail + chunks[0] + '"}',
        text_head + "00000000" + tail + _WORD + '"}',
    ):
        _check(json.loads(sample))
    for index in range(n_deltas):
        yield encode_frame((audio_head + f"{index:08d}" + tail + chunks[index % len(chunks)] + '"}').encode("ascii"))
        if index % TRANSCRIPT_EVERY == TRANSCRIPT_EVERY - 1:
            yield encode_frame((text_head + f"{index:08d}" + tail + _WORD + '"}').encode("ascii"))


def frames(minutes: float) -> Iterator[bytes]:
    """Every frame after the trigger, in batches of encoded frames."""
    n_deltas = audio_delta_count(minutes)
    transcript = _WORD * (n_deltas // TRANSCRIPT_EVERY)
    yield b"".join(encode_frame(json.dumps(e).encode()) for e in prologue())
    batch: List[bytes] = []
    for frame in _delta_frames(n_deltas):
        batch.append(frame)
        if len(batch) == _BATCH:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)
    yield b"".join(encode_frame(json.dumps(e).encode()) for e in epilogue(transcript))


def _serve_stream(conn: socket.socket, minutes: float, cached: Optional[List[bytes]]) -> None:
    buffer = bytearray()
    _handshake(conn, buffer)
    conn.sendall(encode_frame(json.dumps(session_created()).encode()))
    while True:
        opcode, payload = _read_client_frame(conn, buffer)
        if opcode == 0x8:
            return
        if opcode == 0x1 and b'"response.create"' in payload:
            break
    for batch in cached if cached is not None else frames(minutes):
        conn.sendall(batch)
    while True:
        opcode, payload = _read_client_frame(conn, buffer)
        if opcode == 0x8:
            conn.sendall(encode_frame(payload[:2] or b"\x03\xe8", 0x8))
            return


def _serve_sink(conn: socket.socket) -> None:
    buffer = bytearray()
    _handshake(conn, buffer)
    conn.sendall(encode_frame(json.dumps(session_created()).encode()))
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            return
        # A close frame from the client (masked, opcode 8) ends the run: answer it.
        if len(chunk) <= 32 and chunk[0] == 0x88:
            conn.sendall(encode_frame(b"\x03\xe8", 0x8))
            return


def serve(mode: str, minutes: float, cache: bool = True) -> Tuple[int, Callable[[], None]]:
    """Listen on a free loopback port in a thread; each connection served in its own thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    cached = list(frames(minutes)) if (mode == "stream" and cache) else None

    def one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(120.0)
            try:
                if mode == "stream":
                    _serve_stream(conn, minutes, cached)
                else:
                    _serve_sink(conn)
            except (OSError, ValueError, IndexError):
                return

    def accept_loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()

    def stop() -> None:
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        listener.close()

    return listener.getsockname()[1], stop


def start_server_process(minutes: float, *, cache: bool = True) -> Tuple[str, str, Callable[[], None]]:
    """Start this module as a server process; return (stream URL, sink URL, stop)."""
    args = [sys.executable, os.path.abspath(__file__), "--minutes", str(minutes)]
    if not cache:
        args.append("--no-cache")
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline().split()
    if len(line) != 3 or line[0] != "PORTS":
        proc.kill()
        raise RuntimeError(f"the stream server did not start: {line!r}")
    stream_port, sink_port = int(line[1]), int(line[2])

    def stop() -> None:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    return f"ws://127.0.0.1:{stream_port}", f"ws://127.0.0.1:{sink_port}", stop


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--no-cache", action="store_true", help="generate frames per connection (long replies)")
    args = parser.parse_args(argv)
    stream_port, stop_stream = serve("stream", args.minutes, cache=not args.no_cache)
    sink_port, stop_sink = serve("sink", args.minutes)
    print(f"PORTS {stream_port} {sink_port}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    stop_stream()
    stop_sink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
