"""Review findings in realtime_sync.client."""

from __future__ import annotations

import time
from typing import Any, Callable

from support_client import EventRecorder, join_threads

from realtime_sync import RealtimeClient
from realtime_sync.client import ReconnectPolicy


def test_connect_during_reconnection_ends_the_reconnection_and_no_close_follows(
    make_simulator: Callable[..., Any],
) -> None:
    # The user reconnects by hand while the worker waits out its backoff: the
    # worker's own attempts then failed with "already connected" and, once
    # spent, dispatched close(error=True) on a live, healthy connection.
    simulator = make_simulator()
    policy = ReconnectPolicy(attempts=2, initial_delay=0.3, multiplier=1, jitter=0, timeout=2)
    client = RealtimeClient(url=simulator.url, reconnect=policy)
    recorder = EventRecorder().record_on(client, "reconnecting", "reconnected", "close")
    client.connect(timeout=5)
    try:
        assert client.wait_for_session_created(timeout=5)
        simulator.drop_connections()
        recorder.wait("reconnecting")
        client.connect(timeout=5)
        join_threads("realtime-sync-reconnect")  # the worker is over: whatever it would dispatch, it has
        assert recorder.of("close") == []
        assert client.is_connected()
    finally:
        client.disconnect()
    assert [p["error"] for p in recorder.of("close")] == [False]


def test_disconnect_from_a_callback_during_the_replay_returns_at_once(
    make_simulator: Callable[..., Any],
) -> None:
    # disconnect() joined the reconnect worker (up to the policy's timeout + 5 s)
    # even on the receive thread, whose events the worker's replay was waiting
    # for: the socket thread stalled until the replay timed out.
    import threading

    simulator = make_simulator()
    policy = ReconnectPolicy(attempts=2, initial_delay=0, jitter=0, timeout=3)
    client = RealtimeClient(url=simulator.url, reconnect=policy)
    recorder = EventRecorder().record_on(client, "reconnecting", "reconnected", "close", "conversation.item.appended")
    took: list = []
    done = threading.Event()

    def on_appended(event: Any) -> None:
        if recorder.of("reconnecting") and not took:
            start = time.monotonic()
            client.disconnect()
            took.append(time.monotonic() - start)
            done.set()

    client.connect(timeout=5)
    try:
        client.create_item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"}]})
        client.create_item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]})
        recorder.wait("conversation.item.appended", 2)
        client.on("conversation.item.appended", on_appended)
        simulator.drop_connections()
        assert done.wait(10)
        assert took[0] < 1.0, f"disconnect() from a callback took {took[0]:.1f} s"
    finally:
        client.disconnect()
    assert not client.is_connected()


def test_disconnect_during_a_reconnection_handshake_dispatches_one_close(
    make_simulator: Callable[..., Any],
) -> None:
    import threading

    simulator = make_simulator()
    policy = ReconnectPolicy(attempts=2, initial_delay=0, jitter=0, timeout=3)
    client = RealtimeClient(url=simulator.url, reconnect=policy)
    recorder = EventRecorder().record_on(client, "reconnecting", "reconnected", "close")
    client.connect(timeout=5)
    assert client.wait_for_session_created(timeout=5)
    original = client.realtime.connect
    handshaking = threading.Event()

    def slow_connect(*args: Any, **kwargs: Any) -> Any:
        handshaking.set()
        time.sleep(0.5)
        return original(*args, **kwargs)

    client.realtime.connect = slow_connect  # type: ignore[method-assign]
    simulator.drop_connections()
    assert handshaking.wait(5)
    client.disconnect()
    join_threads("realtime-sync-reconnect")  # the attempt under way is over too
    assert not client.is_connected()
    assert [p["error"] for p in recorder.of("close")] == [False]


def test_the_old_connections_close_does_not_end_a_connection_opened_after_disconnect_from_a_callback(
    make_simulator: Callable[..., Any],
) -> None:
    # disconnect() from a callback returns at once; the old receive thread
    # then waits for the server's close reply. A connect() made meanwhile
    # opened a new socket, and the old thread's close then ended the *new*
    # connection's client state (requests refused, a second close).
    import threading

    simulator = make_simulator()
    client = RealtimeClient(url=simulator.url)
    recorder = EventRecorder().record_on(client, "close")
    left = threading.Event()
    old_thread: list = []

    def leave(event: Any) -> None:
        old_thread.append(threading.current_thread())  # the old connection's receive thread
        client.disconnect()
        left.set()

    client.on("conversation.item.appended", leave)
    client.connect(timeout=5)
    try:
        assert client.wait_for_session_created(timeout=5)
        client.create_item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]})
        assert left.wait(5)
        client.off("conversation.item.appended", leave)
        client.connect(timeout=5)
        assert client.wait_for_session_created(timeout=5)
        old_thread[0].join(10)  # it has seen its close and ended
        assert not old_thread[0].is_alive()
        assert client.is_connected()
        assert len(recorder.of("close")) == 1
        assert client.create_response() is True
    finally:
        client.disconnect()
