"""Review of the shared ReceiveLoop: one hostile connection must not stall the others (real sockets on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Dict, List

import pytest
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


def _half_record_tls_server(server_tls: Any, stop: threading.Event) -> Any:
    """A wss:// server that, once open, sends half of one TLS record and stalls (a context manager: its URL)."""
    from support_ws import tls_raw_server

    def script(tunnel: Any, conn: socket.socket) -> None:
        tunnel.sendall(server_frame(b'{"type":"session.created"}'))
        time.sleep(0.3)
        record = tunnel.record(server_frame(b'{"type":"rate_limits.updated","rate_limits":[]}'))
        conn.sendall(record[: len(record) // 2])  # half a record, then nothing
        stop.wait(10)

    return tls_raw_server(server_tls, script, stop, "fixture-half-record")


def test_half_a_tls_record_does_not_block_the_loop_thread() -> None:
    """A TLS connection whose record stops halfway must not hold every other session on the loop."""
    import shutil

    import pytest
    from support_ws import tls_contexts

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    stop = threading.Event()
    with tls_contexts() as (server_tls, client_tls), ReceiveLoop() as loop, raw_server(_chatter(stop)) as chatty_url, \
            _half_record_tls_server(server_tls, stop) as url:
        arrivals: List[float] = []
        bystander = RealtimeAPI(chatty_url, ping_interval=None, receive_loop=loop)
        bystander.on("server.*", lambda event: arrivals.append(time.monotonic()))
        stalled = RealtimeAPI(url, ssl_context=client_tls, ping_interval=4.0, ping_timeout=3.0, receive_loop=loop)
        created = threading.Event()
        stalled.on("server.session.created", lambda event: created.set())
        try:
            bystander.connect(timeout=5)
            stalled.connect(timeout=5)
            assert created.wait(5)
            start, cpu = time.monotonic(), time.process_time()
            time.sleep(2.0)
            end, cpu = time.monotonic(), time.process_time() - cpu
            gap = _max_gap(arrivals, start, end)
            assert gap < 0.6, f"the loop stalled for {gap:.2f} s"
            assert cpu < 1.2, f"the loop spun on the half record ({cpu:.2f} s of CPU in 2 s)"
            assert stalled.is_connected()
        finally:
            stop.set()
            stalled.disconnect()
            bystander.disconnect()


def test_a_forked_child_reads_its_own_connections_on_a_loop_the_parent_was_running(simulator: Any) -> None:
    """After fork the parent's loop thread does not exist in the child: a new connection there must still be read."""
    import os
    import sys
    import warnings

    import pytest

    if not hasattr(os, "fork") or sys.platform == "darwin":
        pytest.skip("needs fork")
    with ReceiveLoop() as loop:
        parent = RealtimeAPI(simulator.url, receive_loop=loop)
        parent.connect(timeout=5)
        assert loop.thread is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: report by exit status only
            code = 1
            try:
                child = RealtimeAPI(simulator.url, receive_loop=loop)
                created = threading.Event()
                child.on("server.session.created", lambda event: created.set())
                child.connect(timeout=5)
                code = 0 if created.wait(5) else 2
                child.disconnect(timeout=2)
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        assert status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        assert parent.is_connected()
        parent.disconnect()


@pytest.mark.parametrize("on_loop", [False, True])
def test_a_very_long_ping_interval_keeps_the_connection_and_the_loop_alive(simulator: Any, on_loop: bool) -> None:
    """A finite but huge ping_interval (a way to say 'hardly ever') must not overflow the wait for the socket."""
    with ReceiveLoop() as loop:
        bystander = RealtimeAPI(simulator.url, ping_interval=None, receive_loop=loop)  # no nearer deadline
        bystander.connect(timeout=5)
        interval = 3e6 if on_loop else 1e300  # past the selector's limit (~24.8 days), past struct timeval
        api = RealtimeAPI(simulator.url, ping_interval=interval, ping_timeout=None, receive_loop=loop if on_loop else None)
        created = threading.Event()
        api.on("server.session.created", lambda event: created.set())
        try:
            api.connect(timeout=5)
            assert created.wait(5)
            api.send("session.update", {"session": {"instructions": "hi"}})
            time.sleep(0.5)
            assert api.is_connected() and bystander.is_connected() and not loop.closed
        finally:
            api.disconnect()
            bystander.disconnect()


def test_connections_on_a_loop_leave_no_descriptor_or_thread_behind(simulator: Any) -> None:
    """Connect/disconnect cycles, a handshake cancelled by disconnect() and loop.close() free every socket."""
    import os
    import sys

    from support_ws import silent_listener

    if not sys.platform.startswith("linux"):
        pytest.skip("counts /proc/self/fd")

    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    loop = ReceiveLoop()
    warm = RealtimeAPI(simulator.url, receive_loop=loop)
    warm.connect(timeout=5)
    warm.disconnect()
    before = descriptors()
    for _ in range(5):
        apis = [RealtimeAPI(simulator.url, receive_loop=loop) for _ in range(3)]
        for api in apis:
            api.connect(timeout=5)
        for api in apis:
            api.disconnect()
    with silent_listener() as url:
        hanging = RealtimeAPI(url, receive_loop=loop)
        canceller = threading.Timer(0.2, hanging.disconnect)
        canceller.start()
        with pytest.raises(RealtimeError):
            hanging.connect(timeout=5)
        canceller.join()
    apis = [RealtimeAPI(simulator.url, receive_loop=loop) for _ in range(3)]
    for api in apis:
        api.connect(timeout=5)
    loop.close(timeout=5)
    assert loop.thread is None
    deadline = time.monotonic() + 5
    while descriptors() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert descriptors() <= before
    assert not [t for t in threading.enumerate() if t.name.startswith(("realtime-sync-loop", "realtime-sync-connect"))]


def test_a_loop_that_fails_ends_the_connections_registered_since_its_last_pick_up(monkeypatch: Any) -> None:
    """A bug in the loop ends every connection with its close event, also one it had not picked up yet."""
    import selectors

    from realtime_sync._transport import loop as loop_module

    armed = threading.Event()
    loops: List[ReceiveLoop] = []

    class Failing(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
        def select(self, timeout: Any = None) -> Any:
            ready = super().select(timeout)
            if armed.is_set() and loops and loops[0]._added:
                # woken by the new registration, before picking it up (a wake-up for anything else, which
                # a loaded machine can delay past armed.set(), must not crash the loop before it comes)
                raise ZeroDivisionError("a bug in the loop")
            return ready

    monkeypatch.setattr(loop_module.selectors, "DefaultSelector", Failing)
    crashes: List[Any] = []
    crashed = threading.Event()

    def excepthook(args: Any) -> None:  # the loop re-raises its bug on its thread, once it has ended everything
        crashes.append(args)
        crashed.set()

    monkeypatch.setattr(threading, "excepthook", excepthook)
    stop = threading.Event()
    with ReceiveLoop() as loop, raw_server(_deaf(stop)) as first_url, raw_server(_deaf(stop)) as second_url:
        loops.append(loop)
        first = RealtimeAPI(first_url, ping_interval=None, receive_loop=loop)
        second = RealtimeAPI(second_url, ping_interval=None, receive_loop=loop)
        closes: List[str] = []
        closed = threading.Event()

        def on_close(event: Dict[str, Any]) -> None:
            closes.append("second")
            closed.set()

        second.on("close", on_close)
        try:
            first.connect(timeout=5)
            armed.set()
            try:
                second.connect(timeout=5)
            except RealtimeError:
                pass  # ended before connect() returned: fine, as long as its close came
            assert closed.wait(5), "the connection registered last never got its close event"
            started = time.monotonic()
            second.disconnect()
            first.disconnect()
            assert time.monotonic() - started < 3
            assert crashed.wait(5)
            assert [type(crash.exc_value) for crash in crashes] == [ZeroDivisionError]
        finally:
            stop.set()
