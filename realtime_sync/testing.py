"""A pytest plugin: run a test suite against recorded Realtime sessions, with no key and no network.

Enable it in the suite's top-level ``conftest.py``::

    pytest_plugins = ["realtime_sync.testing"]

(or run ``pytest -p realtime_sync.testing``). It needs the simulator's
server library (``pip install "realtime_sync[server]"``).

Record a session once, against the live service or the simulator::

    client = RealtimeClient(record="tests/recordings/greeting.jsonl", record_audio=False)

then replay it in a test: the ``realtime_replay`` fixture starts a local
server answering the client's events with the recorded ones
(:mod:`realtime_sync.simulator.replay`)::

    def test_greeting(realtime_replay):
        replay = realtime_replay("recordings/greeting.jsonl")   # relative to this test file
        with replay.client() as client:                          # url and dialect set
            reply = client.ask("Hello!", timeout=5)
        assert "help" in reply["formatted"]["transcript"]

``realtime_replay(path, strict=True, allow_divergence=False)`` returns a
:class:`ReplayServer`; a relative ``path`` is looked up next to the test file,
then in the current directory. At the end of the test every server is
stopped, every client made by :meth:`ReplayServer.client` disconnected, and
a client that diverged from the recording (another event, another key
field) fails the test with the divergence's message, unless the server was
made with ``allow_divergence=True`` (then read :attr:`ReplayServer.divergences`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, List, Optional, Union

import pytest

__all__ = ["ReplayServer", "ReplayFactory", "realtime_replay"]


class ReplayServer:
    """A started replay server for one recording (what the ``realtime_replay`` fixture returns).

    Attributes:
        simulator: the :class:`~realtime_sync.simulator.RealtimeSimulator` serving it.
        path: the recording's path.
    """

    def __init__(self, path: str, *, strict: bool = True, allow_divergence: bool = False) -> None:
        from .simulator import RealtimeSimulator

        self.path = path
        self.allow_divergence = allow_divergence
        self.simulator = RealtimeSimulator(replay=path, replay_strict=strict)
        self.simulator.start()
        self._clients: List[Any] = []

    def __repr__(self) -> str:
        return f"<ReplayServer {self.path!r} at {self.url}>"

    @property
    def url(self) -> str:
        """The ``ws://127.0.0.1:PORT`` URL to connect to."""
        return self.simulator.url

    @property
    def protocol(self) -> str:
        """The recording's dialect (``"ga"`` or ``"beta"``): give it to the client as ``protocol=``."""
        return self.simulator.protocol

    @property
    def divergences(self) -> List[Exception]:
        """Every divergence of a client from the recording so far (ReplayDivergenceError)."""
        return self.simulator.replay_divergences

    def client(self, **options: Any) -> Any:
        """A :class:`~realtime_sync.client.RealtimeClient` for this server (not connected; disconnected at the end)."""
        from .client import RealtimeClient

        options.setdefault("url", self.url)
        options.setdefault("protocol", self.protocol)
        client = RealtimeClient(**options)
        self._clients.append(client)
        return client

    def check(self) -> None:
        """Raise the first divergence (ReplayDivergenceError), if any."""
        self.simulator.check_replay()

    def stop(self) -> None:
        """Disconnect the clients made here and stop the server."""
        for client in self._clients:
            client.disconnect()
        self.simulator.stop()


class ReplayFactory:
    """Makes :class:`ReplayServer` objects for one test, and cleans them up."""

    def __init__(self, base: Optional[Path] = None) -> None:
        self.base = base
        self.servers: List[ReplayServer] = []
        self.reported = False  # the test's report already carries the divergence

    def __call__(
        self, path: Union[str, "os.PathLike[str]"], *, strict: bool = True, allow_divergence: bool = False
    ) -> ReplayServer:
        """Start a replay server for the recording at ``path`` (relative: next to the test file, then the cwd).

        Raises:
            ConfigurationError: the recording is missing, malformed or of another version.
        """
        name = os.fspath(path)
        if not os.path.isabs(name) and self.base is not None and (self.base / name).exists():
            name = str(self.base / name)
        server = ReplayServer(name, strict=strict, allow_divergence=allow_divergence)
        self.servers.append(server)
        return server

    def problem(self) -> Optional[str]:
        """The first divergence not allowed, as a message (``None``: none so far)."""
        for server in self.servers:
            if server.divergences and not server.allow_divergence:
                return f"the client diverged from the recording {server.path}: {server.divergences[0]}"
        return None

    def close(self) -> Optional[str]:
        """Stop every server; then :meth:`problem`."""
        for server in self.servers:
            server.stop()
        problem = self.problem()
        self.servers.clear()
        return problem


_FACTORY = pytest.StashKey[ReplayFactory]()


@pytest.fixture
def realtime_replay(request: Any) -> Iterator[ReplayFactory]:
    """``realtime_replay(path, strict=True, allow_divergence=False)``: a local server replaying a recording.

    See :mod:`realtime_sync.testing`.
    """
    test_path = getattr(request, "path", None) or Path(str(request.fspath))
    factory = ReplayFactory(Path(test_path).parent)
    request.node.stash[_FACTORY] = factory
    yield factory
    problem = factory.close()
    if problem is not None and not factory.reported:
        pytest.fail(problem, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """A test that passed while its client diverged from a recording fails (in its call phase)."""
    outcome: Any = yield
    factory = item.stash.get(_FACTORY, None)
    if factory is None or call.when != "call":
        return
    report = outcome.get_result()
    problem = factory.problem()
    if report.passed and problem is not None:
        report.outcome = "failed"
        report.longrepr = problem
        factory.reported = True
