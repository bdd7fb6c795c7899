"""RealtimeSimulator: a local, protocol-faithful OpenAI Realtime server.

It serves the Realtime WebSocket protocol on 127.0.0.1 for tests, samples and
offline development: sessions, the input audio buffer with an energy-based
server VAD, conversation items, responses streaming text, synthesised audio,
function calls and (GA) MCP calls in the real server's event order,
cancellation, truncation, deletion, and ``error`` events shaped like the real
ones. ::

    from realtime_sync.simulator import RealtimeSimulator

    with RealtimeSimulator() as sim:
        client = RealtimeClient(url=sim.url)
        ...

Dialects: a connection speaks GA (what OpenAI's live service speaks: model
``gpt-realtime``, nested ``session.audio`` settings, ``conversation.item.added``
/ ``.done``, ``response.output_text.delta``...) unless the client sends
``OpenAI-Beta: realtime=v1`` (as relays and older deployments expect) or the
simulator is made with ``protocol="beta"``; then it speaks the original beta
protocol. ``refuse_beta=True`` answers beta connections as the live service now
does (``error`` ``beta_api_shape_disabled``, close 4000).

The "model" is a replaceable responder: a callable ``responder(items, session)``
that gets copies of the conversation items the response is based on (user
audio carries the simulated transcript) and the effective configuration of the
response (the session merged with ``response.create`` overrides, in the
simulator's flat internal form: ``modalities``, ``voice``, ``tools``...), and
returns a :class:`Reply` (``text``, optionally ``tool_name`` /
``tool_arguments``, or ``mcp_tool`` / ``mcp_arguments``), a dict with those
keys, or a plain string. A custom responder runs on a small pool of threads
(at most four for all sessions), off the simulator's loop: a slow one delays
its own response, not the other sessions. The
default, :func:`default_responder`, greets, answers questions, echoes, calls a
configured tool the user's words name, and summarises tool output. ::

    def responder(items, session):
        return Reply(text="It is sunny.")

    with RealtimeSimulator(responder=responder, speed=None) as sim: ...

Transcription sessions (GA): a client that connects with
``?intent=transcription`` gets a ``session.type: "transcription"`` session
(:mod:`.transcription`): its turns are transcribed with ``transcriber=``'s
text, word-by-word deltas then ``.completed`` (``.failed`` for a ``None``),
``logprobs`` when included, and the live service's errors for bad settings
(an unknown model, unknown keys) and for events such a session refuses.

Server VAD is energy-based: ``turn_detection.threshold`` (0..1) maps to an RMS
level of ``-70 + 60 * threshold`` dBFS per 10 ms frame (0.5 -> -40 dBFS);
``prefix_padding_ms`` and ``silence_duration_ms`` work as on the real server;
``semantic_vad`` ends a turn after a pause set by its ``eagerness``.

Faults for reconnection tests: options ``drop_after`` (cut the connection
after N events, no close frame), ``malformed_frame_after``, ``error_after``,
``event_delay``, ``max_session_seconds`` (``session_expired``, then a close),
``refuse_connections`` (the first N handshakes get HTTP 503),
``refuse_reconnections`` (the first N handshakes after a session has started
get HTTP 503); at run time :meth:`RealtimeSimulator.refuse_next_connections`,
:meth:`RealtimeSimulator.drop_connections`,
:meth:`RealtimeSimulator.expire_sessions`,
:meth:`RealtimeSimulator.send_malformed_frame` and
:meth:`RealtimeSimulator.broadcast`.

Threads: ``start()`` runs ONE asyncio event loop on a ``realtime-sync-sim-server``
thread, and every session lives there: handshakes, client events, paced
streaming (loop timers, no sleeping thread) and the frames out (queued per
connection, sent in order by one writer task each), so the thread count does
not grow with the sessions. A custom responder and the simulated MCP tools
run on a pool of at most four ``realtime-sync-sim-work`` threads, started on
first use; with a custom ``transcriber`` a session's client events are
handled there too, one at a time (a slow transcription holds up its own
session, not the others). The
REST side has its own HTTP thread. Every public method may be called from any
thread (a responder's or a client callback's included); ``stop()`` closes
every session with 1001 and ends every thread.

Inside: :mod:`.server` (the server on the :mod:`.runtime`'s loop;
:mod:`.handshake` checks handshakes, :mod:`.connections` keeps the sessions)
runs one :mod:`.session` per connection over a :mod:`.channel` (its frames in
and out), composed of an :mod:`.outbox` (every frame out, faults),
:mod:`.input_audio` (buffer, :mod:`.vad`, transcription) and a
:mod:`.streaming` response streamer (paced by :mod:`.pacing`) sharing a :mod:`.state`; :mod:`.wire`
renders events in the connection's dialect (:mod:`.ga` and :mod:`.ga_items`
for GA, with :mod:`.config` validating settings and :mod:`.checks` shaping
the errors), :mod:`.responder` is the stand-in model, :mod:`.mcp` the
simulated MCP servers, :mod:`.rest` the REST side (client secrets, SIP
:mod:`.calls`), :mod:`.cli` the command line.

Needs the ``websockets`` package: ``pip install "realtime_sync[server]"``
(:func:`main` and :mod:`.cli` import without it). Run standalone with
``python -m realtime_sync.simulator --port 8765``: replies then stream in real
time, like a live model's, for demos and other processes (``--speed N`` for N
times real time, ``--speed 0`` unpaced); embedded ``RealtimeSimulator()``
defaults to 50 times real time, for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

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


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
