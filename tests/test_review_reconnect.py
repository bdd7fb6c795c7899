"""Review findings in realtime_sync._session.reconnect."""

from __future__ import annotations

import threading
from typing import Any, List

from realtime_sync._session.reconnect import Reconnector, ReconnectPolicy


def test_a_drop_during_the_reconnected_callback_is_reconnected_not_swallowed() -> None:
    # The worker thread is still alive while it dispatches ``reconnected``;
    # a drop reported then (the new socket ends at once) was swallowed:
    # handle_close returned True (no close) but started nothing.
    events: List[str] = []
    connects: List[float] = []
    done = threading.Event()
    reconnector: Reconnector

    def emit(name: str, payload: Any) -> None:
        events.append(name)
        if name == "reconnected" and events.count("reconnected") == 1:
            # the receive thread of the new connection reports its end meanwhile
            handled = reconnector.handle_close({"error": True, "code": 1006, "reason": None}, False, "drop")
            assert handled
        elif name == "reconnected" or name == "close":
            done.set()

    reconnector = Reconnector(
        ReconnectPolicy(3, initial_delay=0, jitter=0),
        connect=connects.append,
        replay=lambda history, timeout: None,
        drop=lambda: None,
        snapshot=lambda: [],
        end=lambda close, reconnecting: True,
        emit=emit,
    )
    reconnector.start([], {"error": True, "code": 1006, "reason": None}, "first drop")
    assert done.wait(5), f"the second drop was neither reconnected nor reported: {events}"
    assert len(connects) == 2
    reconnector.stop()
