"""Review findings in realtime_sync.client."""

from __future__ import annotations

import time
from typing import Any, Callable

from support_client import EventRecorder

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
        time.sleep(1.5)  # the worker's attempts would be over by now
        assert recorder.of("close") == []
        assert client.is_connected()
    finally:
        client.disconnect()
    assert [p["error"] for p in recorder.of("close")] == [False]
