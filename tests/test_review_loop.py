"""Review of the shared ReceiveLoop: one hostile connection must not stall the others (real sockets on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Dict, List

from support_ws import raw_server, server_frame

from realtime_sync import RealtimeAPI, ReceiveLoop
from realtime_sync.errors import RealtimeError


def _chatter(stop: threading.Event) -> Any:
    def script(conn: socket.socket) -> None:
        conn.sendall(server_frame(b'{"type":"session.created"}'))
        while not stop.wait(0.03):
            conn.sendall(server_frame(b'{"type":"rate_limits.updated","rate_limits":[]}'))

    return script


def _deaf(stop: threading.Event) -> Any:
    """Sends one event, then never reads (its receive buffer fills up)."""

    def script(conn: socket.socket) -> None:
        conn.sendall(server_frame(b'{"type":"session.created"}'))
        stop.wait(10)

    return script


def _max_gap(times: List[float], start: float, end: float) -> float:
    inside = [start] + [t for t in times if start <= t <= end] + [end]
    return max(b - a for a, b in zip(inside, inside[1:]))


def test_a_server_that_stops_reading_never_blocks_the_loop_thread_on_a_send() -> None:
    """Pings to a server whose socket is full must not hold the loop (and every other session) for seconds."""
    stop = threading.Event()
    with ReceiveLoop() as loop, raw_server(_chatter(stop)) as chatty_url, raw_server(_deaf(stop)) as deaf_url:
        arrivals: List[float] = []
        bystander = RealtimeAPI(chatty_url, ping_interval=None, receive_loop=loop)
        bystander.on("server.*", lambda event: arrivals.append(time.monotonic()))
        deaf = RealtimeAPI(deaf_url, ping_interval=1.5, ping_timeout=1.4, receive_loop=loop)
        bystander.connect(timeout=5)
        deaf.connect(timeout=5)
        sock = deaf._conn._sock  # type: ignore[union-attr]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

        def flood() -> None:  # a user thread: its sends block on the full socket and time out
            chunk: Dict[str, Any] = {"audio": "A" * 200_000}
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                try:
                    deaf.send("input_audio_buffer.append", chunk)
                except RealtimeError:
                    pass

        flooder = threading.Thread(target=flood, daemon=True)
        try:
            time.sleep(0.3)
            flooder.start()
            start = time.monotonic()
            time.sleep(3.0)
            end = time.monotonic()
            gap = _max_gap(arrivals, start, end)
            # the chatty server sends every 30 ms; with the loop blocked on a ping it went silent for 1-3 s
            assert gap < 0.6, f"the loop stalled for {gap:.2f} s"
        finally:
            stop.set()
            flooder.join(10)
            deaf.disconnect()
            bystander.disconnect()
