"""RealtimeSimulator: a local, protocol-faithful OpenAI Realtime (beta) server.

It serves the beta WebSocket protocol on 127.0.0.1 for tests, samples and
offline development: sessions, the input audio buffer with an energy-based
server VAD, conversation items, responses streaming text, synthesised audio and
function calls in the real server's event order, cancellation, truncation,
deletion, and ``error`` events shaped like the real ones. ::

    from realtime_sync.simulator import RealtimeSimulator

    with RealtimeSimulator() as sim:
        client = RealtimeClient(url=sim.url)
        ...

The "model" is a replaceable responder: a callable ``responder(items, session)``
that gets copies of the conversation items the response is based on (user
audio carries the simulated transcript) and the effective session config of
the response (session merged with ``response.create`` overrides), and returns
a :class:`Reply` (``text``, and optionally ``tool_name`` / ``tool_arguments``),
a dict with those keys, or a plain string. It runs on the session's streaming
thread. The default, :func:`default_responder`, greets, answers questions,
echoes, calls a configured tool the user's words name, and summarises tool
output. ::

    def responder(items, session):
        return Reply(text="It is sunny.")

    with RealtimeSimulator(responder=responder, speed=None) as sim: ...

Server VAD is energy-based: ``turn_detection.threshold`` (0..1) maps to an RMS
level of ``-70 + 60 * threshold`` dBFS per 10 ms frame (0.5 -> -40 dBFS);
``prefix_padding_ms`` and ``silence_duration_ms`` work as on the real server.

Faults (dropped connections, malformed frames, delays, injected errors, session
expiry) can be switched on to test clients' failure handling.

Threads: ``start()`` runs the accept loop on a ``realtime-sync-sim-server``
thread; each connection gets a handler thread (reading client events) and a
``realtime-sync-sim-stream-*`` thread (streaming responses). ``stop()`` closes
everything and joins them all.

Needs the ``websockets`` package: ``pip install "realtime_sync[server]"``.
Run standalone with ``python -m realtime_sync.simulator --port 8765``: replies
then stream in real time, like a live model's, for demos and other processes
(``--speed N`` for N times real time, ``--speed 0`` unpaced); embedded
``RealtimeSimulator()`` defaults to 50 times real time, for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .cli import main
from .responder import Reply, Responder, Transcriber, default_responder, synthesize_speech
from .vad import threshold_to_dbfs

if TYPE_CHECKING:
    from .server import RealtimeSimulator

__all__ = [
    "RealtimeSimulator",
    "Reply",
    "Responder",
    "Transcriber",
    "default_responder",
    "synthesize_speech",
    "threshold_to_dbfs",
    "main",
]


def __getattr__(name: str) -> Any:
    """``RealtimeSimulator`` is imported on first use: it needs ``websockets``.

    So ``realtime_sync.simulator.main`` and the pacing options of
    :mod:`realtime_sync.simulator.cli` work where the server library is
    missing, and ``from realtime_sync.simulator import RealtimeSimulator``
    raises an ImportError that says what to install.
    """
    if name == "RealtimeSimulator":
        from .server import RealtimeSimulator

        return RealtimeSimulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
