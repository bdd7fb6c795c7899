"""Review findings in realtime_sync._transport."""

from __future__ import annotations

import socket
import struct
from typing import Any, List

import pytest

from realtime_sync._transport import frames as frames_module
from realtime_sync._transport.frames import OP_TEXT, FrameReader


def _server_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    length = len(payload)
    if length < 126:
        return bytes((0x80 | opcode, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, length) + payload


class _ChunkSocket:
    """Hands out pre-cut chunks, one per recv."""

    def __init__(self, chunks: List[bytes]) -> None:
        self.chunks = list(chunks)

    def recv_into(self, view: memoryview) -> int:
        chunk = self.chunks.pop(0)
        view[: len(chunk)] = chunk
        return len(chunk)

    def recv(self, size: int) -> bytes:
        return self.chunks.pop(0)


def test_partial_since_follows_the_unfinished_message_not_one_long_finished(monkeypatch: pytest.MonkeyPatch) -> None:
    # A steady stream whose reads always end mid-frame: every message completes
    # within a second, yet partial_since stayed at the first byte ever read,
    # so frame_timeout ended a healthy, busy connection.
    clock = [1000.0]
    monkeypatch.setattr(frames_module.time, "monotonic", lambda: clock[0])
    frame = _server_frame(b'{"type":"x","pad":"' + b"a" * 1000 + b'"}')
    stream = frame * 100
    chunks = [stream[i:i + 1337] for i in range(0, len(stream), 1337)]
    assert all(len(stream[: i + 1337]) % len(frame) for i in range(0, len(stream) - 1337, 1337))
    sock = _ChunkSocket(chunks)
    reader = FrameReader(None)
    seen = 0
    while sock.chunks:
        clock[0] += 1.0
        reader.fill(sock)
        seen += len(reader.parse())
        if reader.partial_since is not None:
            # the message still unfinished began no earlier than the previous read
            assert clock[0] - reader.partial_since <= 1.0
    assert seen == 100


def test_a_deeply_nested_json_frame_is_one_error_dispatch_and_the_loop_goes_on() -> None:
    # json raises RecursionError (not a ValueError) on deep nesting: the frame
    # was only logged as a listener failure, with no `error` dispatch.
    import threading

    from support_ws import raw_server, read_client_frame, server_frame

    from realtime_sync.api import RealtimeAPI
    from realtime_sync.errors import ProtocolError

    def script(conn: socket.socket) -> None:
        conn.sendall(server_frame(b"[" * 100000 + b"]" * 100000))
        conn.sendall(server_frame(b'{"type":"after","event_id":"e1"}'))
        conn.settimeout(5.0)
        read_client_frame(conn)  # the close frame

    errors: list = []
    after = threading.Event()
    with raw_server(script) as url:
        api = RealtimeAPI(url)
        api.on("error", errors.append)
        api.on("server.after", lambda event: after.set())
        try:
            api.connect(timeout=5.0)
            assert after.wait(5.0)
        finally:
            api.disconnect()
    assert len(errors) == 1 and isinstance(errors[0]["error"], ProtocolError)


@pytest.mark.parametrize("env", [False, True])
def test_a_key_over_plain_ws_to_loopback_through_a_remote_proxy_is_refused(
    env: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ws:// to a loopback host is allowed with a key, but through a proxy on
    # another host the handshake (and its Authorization header) crosses the
    # network in clear text to that proxy.
    from realtime_sync.api import RealtimeAPI
    from realtime_sync.errors import InsecureTransportError

    for name in ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    options = {}
    if env:
        monkeypatch.setenv("http_proxy", "http://proxy.example.com:3128")
        url = "ws://[::1]:8080/v1/realtime"  # websocket-client exempts only localhost and 127.0.0.1
    else:
        options["proxy"] = "http://proxy.example.com:3128"
        url = "ws://127.0.0.1:8080/v1/realtime"
    with pytest.raises(InsecureTransportError):
        RealtimeAPI(url, api_key="sk-test-secret", **options)


def _unopened_connection() -> Any:
    """A transport Connection to nowhere, with no-op listeners: the test gives it a socket or stubs."""
    from realtime_sync._transport.connection import Connection, Listeners, Timing
    from realtime_sync._transport.failures import Attempt
    from realtime_sync._transport.secrets import Redactor, Secret

    return Connection(
        Secret("ws://127.0.0.1:9/"),
        lambda: [],
        Attempt("ws://127.0.0.1:9/", "127.0.0.1", 1.0),
        Redactor([]),
        Timing(1.0, 0, None, None, None),
        Listeners(lambda e: None, lambda e: None, lambda p, e: None),
        thread_name="t",
    )


def test_no_data_frame_follows_our_close_frame() -> None:
    # RFC 6455 5.5.1: after sending a close frame an endpoint sends no more data.
    # Once the receive thread answered the server's close (or refused a bad
    # frame with 1002/1009) send() still wrote until the thread got to _finish.
    from realtime_sync.errors import NotConnectedError

    class Sink:
        def __init__(self) -> None:
            self.frames: List[bytes] = []

        def sendall(self, data: bytes) -> None:
            self.frames.append(data)

    conn = _unopened_connection()
    sink = Sink()
    conn._sock = sink
    conn.open = True
    conn.send_close(1002, "protocol error")
    with pytest.raises(NotConnectedError):
        conn.send(b'{"type":"response.create"}', "'response.create'")
    assert len(sink.frames) == 1  # the close frame only


@pytest.mark.parametrize(
    "code, answer",
    [(1000, 1000), (4000, 4000), (1005, 1000), (999, 1002), (1004, 1002), (2999, 1002), (5000, 1002), (None, 1000)],
)
def test_the_close_answer_never_carries_a_code_that_may_not_be_sent(code: Any, answer: int) -> None:
    # RFC 6455 7.4: 1004-1006, 1015 and codes outside 1000-4999 must not be
    # sent; the receive thread echoed any code the server sent.
    from realtime_sync._transport.frames import OP_CLOSE
    from realtime_sync._transport.receiver import Receiver
    from realtime_sync._transport.secrets import Redactor

    conn = _unopened_connection()
    answered: List[Any] = []
    conn.send_control = lambda opcode, payload, wait: answered.append((opcode, payload)) or True  # type: ignore
    payload = b"" if code is None else code.to_bytes(2, "big") + b"bye"
    ours, theirs = socket.socketpair()
    try:
        receiver = Receiver(ours, conn, conn._timing, conn._listeners, Redactor([]), "ws://127.0.0.1:9/")
        assert receiver._deliver_frames([(OP_CLOSE, payload)])
        receiver.release()
    finally:
        ours.close()
        theirs.close()
    assert answered == [(OP_CLOSE, answer.to_bytes(2, "big"))]
