"""Shared pytest fixtures for the realtime_sync suite: the servers and the recorders.

Servers (each on 127.0.0.1, a free port, stopped on teardown):

``simulator``
    a started :class:`realtime_sync.simulator.RealtimeSimulator` (unpaced
    streaming, default responder). Connect to ``simulator.url``.
``make_simulator``
    a factory taking the simulator's keyword options (``responder=``,
    ``speed=``, ``require_api_key=``, fault options...)::

        def test_slow_reply(make_simulator):
            sim = make_simulator(speed=5.0)
``server``
    a :class:`support_ws.FixtureServer`, the socket-layer server the test
    drives frame by frame (handshakes, any frame, close codes, refusals).
``make_api``
    ``make_api(url, **options)`` returns a :class:`realtime_sync.api.RealtimeAPI`
    that is disconnected on teardown.
``scripted``
    a :class:`support_client.ScriptedServer`: greets with ``session.created``,
    records every client frame, sends whatever the test scripts; the test
    fails if a responder installed on it raised.

Recorders:

``record``
    ``record(emitter, *names)`` registers an
    :class:`support_client.EventRecorder` callback for each name on
    ``emitter`` (a client, ``client.realtime`` or any EventHandler) and
    returns the recorder, whose ``wait(name, count)`` sleeps on a Condition.

Optional dependencies are skipped per test, not per module: a fixture that
needs the ``websockets`` package (the simulator, the scripted server) skips
the tests that use it when the package is missing, and
``client_event_validator`` (the ``openai`` SDK's pydantic models) skips the
tests that ask for it, as does ``models`` (its GA models, support_ga.GaModels).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import pytest
from support_client import EventRecorder


def pytest_configure(config: Any) -> None:
    """Let SIGINT reach the programs the Ctrl-C tests start.

    A run started with SIGINT ignored (under ``nohup``, or as a background job
    of a script: the shell ignores it there) passes that on to every child,
    and a Python child then never sees its Ctrl-C. A handler is not passed on
    (exec resets it), so with one here the children start as from a terminal.
    """
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Any]]:
    """Factory fixture: ``make_simulator(**options)`` returns a started RealtimeSimulator."""
    pytest.importorskip("websockets")
    from realtime_sync.simulator import RealtimeSimulator

    with contextlib.ExitStack() as started:  # each one stopped on teardown, the last first
        yield lambda **options: started.enter_context(RealtimeSimulator(**{"speed": None, **options}))


@pytest.fixture
def simulator(make_simulator: Callable[..., Any]) -> Any:
    """A started RealtimeSimulator with unpaced (fast) streaming, stopped after the test."""
    return make_simulator()


@pytest.fixture
def server() -> Iterator[Any]:
    """A started FixtureServer (support_ws), stopped after the test."""
    pytest.importorskip("websockets")
    from support_ws import FixtureServer

    with FixtureServer() as fixture:
        yield fixture


@pytest.fixture
def make_api() -> Iterator[Callable[..., Any]]:
    """Factory fixture: ``make_api(url, **options)`` returns a RealtimeAPI, disconnected on teardown."""
    from realtime_sync.api import RealtimeAPI

    with contextlib.ExitStack() as created:
        yield lambda url, **options: created.enter_context(RealtimeAPI(url, **options))


@pytest.fixture
def scripted() -> Iterator[Any]:
    """A started ScriptedServer (beta dialect); the test fails if its responder raised."""
    pytest.importorskip("websockets")
    from support_client import ScriptedServer

    with ScriptedServer() as server:
        yield server
        assert not server.errors, server.errors


@pytest.fixture
def record() -> Callable[..., EventRecorder]:
    """``record(emitter, *names)``: an EventRecorder registered on ``emitter`` for ``names``."""

    def start(emitter: Any, *names: str) -> EventRecorder:
        return EventRecorder().record_on(emitter, *names)

    return start


@pytest.fixture
def models() -> Any:
    """support_ga's strict GA checks (``models.server_event(e)``, ``models.client_event(e)``; skips without openai)."""
    pytest.importorskip("pydantic")
    pytest.importorskip("openai.types.realtime")
    from support_ga import GaModels

    return GaModels()


@pytest.fixture
def client_event_validator() -> Callable[..., Any]:
    """``validate(frame, protocol="beta")`` against the openai SDK's client-event models (skips without them)."""
    pytest.importorskip("pydantic")
    pytest.importorskip("openai")
    from support_client import validate_client_event

    return validate_client_event
