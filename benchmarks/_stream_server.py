"""A local WebSocket server that streams a long spoken reply as fast as it can.

Shared by the receive-path benchmarks. The server is a bare socket that speaks
just enough RFC 6455 to be honest: it answers the opening handshake, then
writes pre-built, unmasked text frames with ``sendall`` in large batches, so
that nearly all of the server's work happens outside the GIL and the client
under test sets the pace. Each frame is one ``response.audio.delta`` event
carrying ``chunk_ms`` of 24 kHz pcm16 (50 ms: 1200 samples, 3200 base64
characters, about 3.4 kB of JSON), shaped like the beta spec's example.

Use from another script in this folder::

    from _stream_server import start_stream_server, bare_loop

    url, stop = start_stream_server(12000)
    print(bare_loop(url, 12000))
    stop()

Each accepted connection gets the whole stream: ``preamble`` events right
after the handshake; then, once the client sends a ``trigger_type`` event
(``response.create`` by default, so the client's own set-up is not timed),
the ``prologue`` events, the deltas and the ``epilogue`` events; after that
it reads until the client closes. The deltas name :data:`RESPONSE_ID` and
:data:`ITEM_ID`, so a prologue that creates that response and item (for a
client that keeps a conversation) matches them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import socket
import struct
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import websocket

__all__ = [
    "SAMPLE_RATE",
    "build_delta_frames",
    "encode_frame",
    "start_stream_server",
    "bare_loop",
    "TRIGGER_EVENT",
    "RESPONSE_ID",
    "ITEM_ID",
]

#: Output sample rate of pcm16 in the Realtime API.
SAMPLE_RATE = 24000
#: What the benchmark clients send to start the stream.
TRIGGER_EVENT = {"type": "response.create"}
#: The response and item ids every delta carries.
RESPONSE_ID = "resp_bench0001"
ITEM_ID = "item_bench0001"
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_BATCH_FRAMES = 256


def encode_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, unmasked (server-to-client) WebSocket frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def _audio_chunks(chunk_samples: int, count: int = 16) -> List[str]:
    """A few distinct base64 chunks of a 440 Hz tone (cycled over the stream)."""
    chunks = []
    for index in range(count):
        start = index * chunk_samples
        samples = [
            int(8000 * math.sin(2 * math.pi * 440 * (start + n) / SAMPLE_RATE))
            for n in range(chunk_samples)
        ]
        chunks.append(base64.b64encode(struct.pack(f"<{chunk_samples}h", *samples)).decode("ascii"))
    return chunks


def build_delta_frames(n_frames: int, chunk_ms: int = 50) -> List[bytes]:
    """``n_frames`` encoded ``response.audio.delta`` frames of ``chunk_ms`` each."""
    chunks = _audio_chunks(SAMPLE_RATE * chunk_ms // 1000)
    frames = []
    for index in range(n_frames):
        event = {
            "event_id": f"event_{index:08d}",
            "type": "response.audio.delta",
            "response_id": RESPONSE_ID,
            "item_id": ITEM_ID,
            "output_index": 0,
            "content_index": 0,
            "delta": chunks[index % len(chunks)],
        }
        frames.append(encode_frame(json.dumps(event).encode("utf-8")))
    return frames


def _read_exact(conn: socket.socket, size: int, buffer: bytearray) -> bytes:
    while len(buffer) < size:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("client went away")
        buffer.extend(chunk)
    data = bytes(buffer[:size])
    del buffer[:size]
    return data


def _read_client_frame(conn: socket.socket, buffer: bytearray) -> Tuple[int, bytes]:
    """Read one (masked) client frame; return (opcode, payload)."""
    b1, b2 = _read_exact(conn, 2, buffer)
    size = b2 & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _read_exact(conn, 2, buffer))
    elif size == 127:
        (size,) = struct.unpack("!Q", _read_exact(conn, 8, buffer))
    mask = _read_exact(conn, 4, buffer) if b2 & 0x80 else b"\0\0\0\0"
    data = _read_exact(conn, size, buffer)
    payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
    return b1 & 0x0F, payload


def _event_type(payload: bytes) -> Optional[str]:
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event.get("type") if isinstance(event, dict) else None


def _handshake(conn: socket.socket, buffer: bytearray) -> None:
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("client went away during the handshake")
        buffer.extend(chunk)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    key = ""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")
    conn.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ).encode("ascii")
    )


def start_stream_server(
    n_frames: int = 12000,
    *,
    chunk_ms: int = 50,
    trigger_type: Optional[str] = "response.create",
    preamble: Sequence[Dict[str, Any]] = (),
    prologue: Sequence[Dict[str, Any]] = (),
    epilogue: Sequence[Dict[str, Any]] = (),
) -> Tuple[str, Callable[[], None]]:
    """Start the server on 127.0.0.1 (port 0) in a daemon thread.

    Args:
        n_frames: ``response.audio.delta`` frames per connection.
        chunk_ms: audio per frame, in milliseconds.
        trigger_type: stream once the client sends an event of this type
            (other client frames are read and ignored); ``None`` streams right
            after the handshake and preamble.
        preamble: events sent right after the handshake (``session.created``...).
        prologue: events sent after the trigger, before the deltas
            (``response.created``, ``conversation.item.created``...).
        epilogue: events sent after the deltas (``response.audio.done``...).

    Returns:
        ``(url, stop)``: the ``ws://`` URL, and a function that stops the
        server and joins its thread.
    """
    frames = build_delta_frames(n_frames, chunk_ms)
    batches = [b"".join(frames[i : i + _BATCH_FRAMES]) for i in range(0, len(frames), _BATCH_FRAMES)]
    head = b"".join(encode_frame(json.dumps(e).encode("utf-8")) for e in preamble)
    batches.insert(0, b"".join(encode_frame(json.dumps(e).encode("utf-8")) for e in prologue))
    tail = b"".join(encode_frame(json.dumps(e).encode("utf-8")) for e in epilogue)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stopping = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        buffer = bytearray()
        with conn:
            conn.settimeout(60.0)
            try:
                _handshake(conn, buffer)
                if head:
                    conn.sendall(head)
                while trigger_type is not None:
                    opcode, payload = _read_client_frame(conn, buffer)
                    if opcode == 0x8:
                        return
                    if opcode == 0x1 and _event_type(payload) == trigger_type:
                        break
                for batch in batches:
                    if batch:
                        conn.sendall(batch)
                if tail:
                    conn.sendall(tail)
                while not stopping.is_set():
                    opcode, payload = _read_client_frame(conn, buffer)
                    if opcode == 0x8:
                        conn.sendall(encode_frame(payload[:2] or b"\x03\xe8", 0x8))
                        return
            except (OSError, ValueError):
                return

    def accept_loop() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            serve_one(conn)  # one client at a time: the benchmark runs them in turn

    thread = threading.Thread(target=accept_loop, name="bench-stream-server", daemon=True)
    thread.start()
    port = listener.getsockname()[1]

    def stop() -> None:
        stopping.set()
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        listener.close()
        thread.join(10.0)

    return f"ws://127.0.0.1:{port}", stop


def bare_loop(
    url: str,
    n_frames: int = 12000,
    *,
    skip_utf8_validation: bool = True,
    timeout: Optional[float] = 60.0,
    profile: Optional[Any] = None,
) -> Dict[str, float]:
    """The baseline: websocket-client's blocking ``recv`` + ``json.loads`` + base64 decode.

    No callbacks, no threads, no dispatch: the least work a client can do with
    each frame. ``skip_utf8_validation=True`` skips websocket-client's
    pure-Python UTF-8 check (``json``/``str`` decoding validates UTF-8 in C
    anyway); pass ``False`` for websocket-client's out-of-the-box setting.
    ``timeout`` is the socket timeout in seconds (``None``: blocking, which
    saves a ``poll()`` before each ``recv()`` but lets a stalled read hang).
    ``profile`` is an optional ``cProfile.Profile`` enabled around the loop.

    Returns:
        ``events``, ``seconds`` (first request to last delta), ``events_per_s``,
        ``cpu_us_per_event`` (CPU time of the receiving thread, which other
        processes' load barely moves) and ``audio_s`` (seconds of audio decoded).
    """
    ws = websocket.create_connection(url, timeout=timeout, skip_utf8_validation=skip_utf8_validation)
    try:
        loads, b64decode = json.loads, base64.b64decode
        count = samples = 0
        if profile is not None:
            profile.enable()
        started, cpu_started = time.perf_counter(), time.thread_time()
        ws.send(json.dumps(TRIGGER_EVENT))
        while count < n_frames:
            event = loads(ws.recv())
            if event["type"] == "response.audio.delta":
                samples += len(b64decode(event["delta"])) // 2
                count += 1
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        if profile is not None:
            profile.disable()
    finally:
        ws.close()
    return {
        "events": float(count),
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "cpu_us_per_event": cpu / count * 1e6,
        "audio_s": samples / SAMPLE_RATE,
    }
