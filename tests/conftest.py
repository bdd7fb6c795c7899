"""Shared pytest fixtures for the realtime_sync suite.

``simulator``: a started :class:`realtime_sync.simulator.RealtimeSimulator` on
127.0.0.1 (free port, unpaced streaming, default responder), stopped on
teardown. Connect to ``simulator.url``.

``make_simulator``: a factory taking the simulator's keyword options
(``responder=``, ``speed=``, ``require_api_key=``, fault options...); every
simulator it starts is stopped on teardown::

    def test_slow_reply(make_simulator):
        sim = make_simulator(speed=5.0)
        ...

The simulator is imported inside the fixtures, so test modules that do not use
them run even where the ``websockets`` package is missing.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Any]]:
    """Factory fixture: ``make_simulator(**options)`` returns a started RealtimeSimulator."""
    from realtime_sync.simulator import RealtimeSimulator

    started: List[RealtimeSimulator] = []

    def factory(**options: Any) -> RealtimeSimulator:
        options.setdefault("speed", None)
        simulator = RealtimeSimulator(**options)
        simulator.start()
        started.append(simulator)
        return simulator

    yield factory
    for simulator in started:
        simulator.stop()


@pytest.fixture
def simulator(make_simulator: Callable[..., Any]) -> Any:
    """A started RealtimeSimulator with unpaced (fast) streaming, stopped after the test."""
    return make_simulator()
