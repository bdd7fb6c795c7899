"""One shared receive thread for many connections (ReceiveLoop), against real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Dict, List

import pytest
from support_ws import mute_server, raw_server, server_frame

from realtime_sync import RealtimeAPI, RealtimeClient, ReceiveLoop
from realtime_sync.errors import NotConnectedError, RealtimeConnectionError

Simulator = Callable[..., Any]


def _threads(prefix: str) -> List[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(prefix) and thread.is_alive()]


def _no_session_threads(timeout: float = 5.0) -> bool:
    """No receive, loop or connect thread left (they may take a moment to return after their join)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _threads("realtime-sync-recv") and not _threads("realtime-sync-loop") and not _threads("realtime-sync-connect"):
            return True
        time.sleep(0.02)
    return False


class Closes:
    def __init__(self) -> None:
        self.payloads: List[Dict[str, Any]] = []
        self.event = threading.Event()

    def __call__(self, payload: Dict[str, Any]) -> None:
        self.payloads.append(payload)
        self.event.set()


def test_many_clients_on_one_loop_get_their_own_replies_in_order(simulator: Any) -> None:
    loop = ReceiveLoop()
    clients = [RealtimeClient(url=simulator.url, receive_loop=loop) for _ in range(8)]
    seen: Dict[int, List[str]] = {index: [] for index in range(len(clients))}
    callback_threads = set()

    for index, client in enumerate(clients):
        def record(event: Dict[str, Any], index: int = index) -> None:
            seen[index].append(event["type"])
            callback_threads.add(threading.current_thread().name)

        client.realtime.on("server.*", record)
    try:
        for client in clients:
            client.connect(timeout=5)
        assert _threads("realtime-sync-recv") == [] and _threads("realtime-sync-connect") == []
        assert len(_threads("realtime-sync-loop")) == 1 and len(loop) == len(clients)
        for client in clients:
            client.update_session(modalities=["text"])
        for index, client in enumerate(clients):
            item = client.ask(f"hello {index}", timeout=10)
            assert item is not None and item["status"] == "completed"
            texts = [i["formatted"].get("text") for i in client.conversation.get_items() if i["role"] == "user"]
            assert texts == [f"hello {index}"]
    finally:
        for client in clients:
            client.disconnect()
    assert callback_threads == {"realtime-sync-loop"}
    for types in seen.values():
        assert types[0] == "session.created"
        assert types.index("response.created") < types.index("response.done")
    assert _no_session_threads()
    assert loop.thread is None and not loop.closed


def test_a_hostile_frame_or_a_drop_ends_only_its_own_connection(make_simulator: Simulator) -> None:
    healthy_server, dropping_server = make_simulator(), make_simulator()
    with ReceiveLoop() as loop:

        def hostile(conn: socket.socket) -> None:
            conn.sendall(server_frame(b'{"type":"session.created"}'))
            time.sleep(0.2)
            conn.sendall(server_frame(b"x", opcode=0x3))  # an unknown opcode: a protocol error
            time.sleep(1.0)

        with raw_server(hostile) as url:
            bad = RealtimeAPI(url, receive_loop=loop)
            bad_closes = Closes()
            bad.on("close", bad_closes)
            healthy = RealtimeClient(url=healthy_server.url, receive_loop=loop)
            dropped = RealtimeClient(url=dropping_server.url, receive_loop=loop)
            dropped_closes = Closes()
            dropped.on("close", dropped_closes)
            healthy.connect(timeout=5)
            dropped.connect(timeout=5)
            bad.connect(timeout=5)
            assert healthy.wait_for_session_created(timeout=5) and dropped.wait_for_session_created(timeout=5)
            assert bad_closes.event.wait(5)
            assert bad_closes.payloads[0]["code"] == 1002
            assert dropping_server.drop_connections() == 1
            assert dropped_closes.event.wait(5)
            assert dropped_closes.payloads[0]["error"] is True
            healthy.update_session(modalities=["text"])
            item = healthy.ask("still here?", timeout=10)
            assert item is not None and item["status"] == "completed"
            assert healthy.is_connected() and len(loop) == 1
            healthy.disconnect()
            bad.disconnect()
            dropped.disconnect()
    assert _no_session_threads()


def _trickler(stop: threading.Event) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        conn.sendall(server_frame(b'{"type":"session.created"}'))
        frame = server_frame(b"x" * 1000)
        for byte in frame[:-1]:
            if stop.wait(0.05):
                return
            conn.sendall(bytes([byte]))

    return script


def test_ping_timeout_and_frame_timeout_fire_on_the_shared_loop(simulator: Any) -> None:
    stop = threading.Event()
    with ReceiveLoop() as loop:
        bystander = RealtimeClient(url=simulator.url, receive_loop=loop)
        bystander.connect(timeout=5)
        with mute_server() as muted_url, raw_server(_trickler(stop)) as trickled_url:
            muted = RealtimeAPI(muted_url, ping_interval=0.2, ping_timeout=0.1, receive_loop=loop)
            trickled = RealtimeAPI(trickled_url, ping_interval=None, frame_timeout=0.6, receive_loop=loop)
            muted_closes, trickled_closes = Closes(), Closes()
            muted.on("close", muted_closes)
            trickled.on("close", trickled_closes)
            started = time.monotonic()
            muted.connect(timeout=5)
            trickled.connect(timeout=5)
            try:
                assert muted_closes.event.wait(5) and trickled_closes.event.wait(5)
                assert time.monotonic() - started < 4.0
                assert muted_closes.payloads[0]["reason"] == "ping/pong timed out: no pong within 0.1 s"
                assert trickled_closes.payloads[0]["reason"].startswith("frame timed out")
            finally:
                stop.set()
                muted.disconnect()
                trickled.disconnect()
        assert bystander.is_connected()
        bystander.update_session(modalities=["text"])
        assert bystander.ask("ok?", timeout=10) is not None
    assert loop.closed and loop.thread is None
    assert not bystander.is_connected()
    assert _no_session_threads()


def test_loop_close_ends_every_connection_and_its_thread_and_refuses_new_ones(simulator: Any) -> None:
    loop = ReceiveLoop()
    clients = [RealtimeClient(url=simulator.url, receive_loop=loop) for _ in range(3)]
    closes = Closes()
    for client in clients:
        client.on("close", closes)
        client.connect(timeout=5)
    loop.close(timeout=5)
    assert _no_session_threads()
    assert all(not client.is_connected() for client in clients)
    assert len(closes.payloads) == 3 and all(payload["error"] is False for payload in closes.payloads)
    with pytest.raises(RealtimeConnectionError, match="closed"):
        clients[0].connect(timeout=5)
    for client in clients:
        client.disconnect()


def test_blocking_helpers_are_refused_in_any_callback_on_the_loop_and_disconnect_there_returns(simulator: Any) -> None:
    loop = ReceiveLoop()
    first = RealtimeClient(url=simulator.url, receive_loop=loop)
    second = RealtimeClient(url=simulator.url, receive_loop=loop)
    alone = RealtimeClient(url=simulator.url)  # a thread of its own, called from the loop's thread
    outcomes: List[BaseException] = []
    done = threading.Event()

    def on_created(event: Dict[str, Any]) -> None:
        for call in (
            lambda: first.wait_for_next_completed_item(timeout=1),
            lambda: second.wait_for_next_completed_item(timeout=1),
            lambda: alone.wait_for_next_completed_item(timeout=1),
            lambda: second.realtime.wait_for_next("server.session.updated", timeout=1),
        ):
            try:
                call()
            except BaseException as exc:
                outcomes.append(exc)
        assert first.is_callback_thread() and second.is_callback_thread()
        second.disconnect()  # another session on the same loop, from this callback
        first.disconnect()  # its own, from its callback
        done.set()

    try:
        second.connect(timeout=5)
        alone.connect(timeout=5)
        assert second.wait_for_session_created(timeout=5)
        first.realtime.on("server.session.created", on_created)
        try:
            first.connect(timeout=5)
        except NotConnectedError:
            pass  # the callback may disconnect it before connect() has sent its session.update
        assert done.wait(5)
    finally:
        for client in (first, second, alone):
            client.disconnect()
    assert len(outcomes) == 4 and all(isinstance(exc, RuntimeError) for exc in outcomes), outcomes
    assert not first.is_connected() and not second.is_connected()
    assert _no_session_threads()


def test_a_raising_callback_does_not_stop_other_sessions(simulator: Any, caplog: Any) -> None:
    with ReceiveLoop() as loop:
        faulty = RealtimeClient(url=simulator.url, receive_loop=loop)
        fine = RealtimeClient(url=simulator.url, receive_loop=loop)

        def boom(event: Dict[str, Any]) -> None:
            raise ValueError("a bug in a callback")

        faulty.realtime.on("server.*", boom)
        faulty.on("conversation.updated", boom)
        faulty.connect(timeout=5)
        fine.connect(timeout=5)
        for client in (faulty, fine):
            client.update_session(modalities=["text"])
        for client in (faulty, fine):
            item = client.ask("hello", timeout=10)
            assert item is not None and item["status"] == "completed"
        assert faulty.is_connected() and fine.is_connected()
    assert "a bug in a callback" in caplog.text
    assert _no_session_threads()


def test_a_client_on_a_shared_loop_reconnects(simulator: Any) -> None:
    from realtime_sync.client import ReconnectPolicy

    policy = ReconnectPolicy(attempts=3, initial_delay=0, jitter=0, timeout=5)
    with ReceiveLoop() as loop:
        client = RealtimeClient(url=simulator.url, reconnect=policy, receive_loop=loop)
        other = RealtimeClient(url=simulator.url, receive_loop=loop)
        reconnected = threading.Event()
        client.on("reconnected", lambda payload: reconnected.set())
        client.connect(timeout=5)
        other.connect(timeout=5)
        assert client.wait_for_session_created(timeout=5) and other.wait_for_session_created(timeout=5)
        client.update_session(modalities=["text"])
        assert client.ask("remember me", timeout=10) is not None
        other_closes = Closes()
        other.on("close", other_closes)
        assert simulator.drop_connections() == 2  # both are dropped; one reconnects
        assert other_closes.event.wait(5) and other_closes.payloads[0]["error"] is True
        assert reconnected.wait(10)
        item = client.ask("again", timeout=10)
        assert item is not None and item["status"] == "completed"
        assert not other.is_connected() and len(loop) == 1
        client.disconnect()
        other.disconnect()
    assert _no_session_threads()


def test_tls_connections_on_the_loop_read_every_frame() -> None:
    import json
    import shutil

    from support_ws import tls_contexts

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    burst = [json.dumps({"type": "response.text.delta", "event_id": f"e{i}", "delta": "x" * 200}).encode()
             for i in range(150)]  # more than one TLS record, in one write
    with ReceiveLoop() as loop:
        with tls_contexts() as (server_tls, client_tls), mute_server(burst=burst, ssl_context=server_tls) as url:
            api = RealtimeAPI(url, ssl_context=client_tls, receive_loop=loop)
            received: List[str] = []
            done = threading.Event()

            def collect(event: Dict[str, Any]) -> None:
                received.append(event["event_id"])
                if len(received) == 151:
                    done.set()

            api.on("server.*", collect)
            try:
                api.connect(timeout=5.0)
                assert done.wait(5.0), len(received)
                assert received[1:] == [f"e{i}" for i in range(150)]
            finally:
                api.disconnect()
    assert _no_session_threads()
