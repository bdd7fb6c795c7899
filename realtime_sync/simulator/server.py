"""The simulator's server: :class:`RealtimeSimulator` accepts connections and runs sessions.

It owns the ``websockets`` asyncio server, on ONE event-loop thread
(:class:`~.runtime.Runtime`), checks each handshake (API key, dialect headers)
and gives every accepted connection a :class:`~.channel.Channel` and a
:class:`~.session.SimSession` (or a replay), all served on that thread: the
threads of a simulator do not grow with its sessions. The public methods may
be called from any thread; they hand their work to the loop. The public face
is :mod:`realtime_sync.simulator`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import urllib.parse
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

try:
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as _serve
    from websockets.typing import Subprotocol
except ImportError as _exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "realtime_sync.simulator needs the 'websockets' package (version 13 or newer): "
        'pip install "realtime_sync[server]"'
    ) from _exc

from ..errors import ConfigurationError
from .calls import SimCall
from .channel import Channel
from .connections import Connections, Session
from .handshake import RedactingLogger, asks_for_beta, check_credentials, header_values, json_error, offered_keys, refuse_beta
from .mcp import McpServers
from .replay import Replay
from .responder import Responder, Transcriber, default_responder
from .rest import SimRest, check_rest_options
from .runtime import Runtime
from .session import MAX_EVENT_BYTES, SimSession
from .state import Closed, SimOptions
from .wire import PROTOCOLS

__all__ = ["RealtimeSimulator"]

logger = logging.getLogger(__name__)

# Frames up to MAX_EVENT_BYTES are handled, larger ones up to _MAX_FRAME get an
# ``error`` event (the session goes on); past _MAX_FRAME websockets closes the
# connection with 1009 (message too big) rather than buffer without bound.
_MAX_FRAME = 4 * MAX_EVENT_BYTES
_REALTIME_SUBPROTOCOL = Subprotocol("realtime")
_CLOSE_TIMEOUT = 1.0  # seconds stop() waits for a client to answer the close frame
_STUCK_AFTER = 2 * _CLOSE_TIMEOUT  # seconds stop() waits for its sessions to end before it cuts the rest


def _expire(session: SimSession) -> None:
    try:
        session.expire()
    except Closed:
        logger.debug("session %s closed before it could expire", session.id)


def _script(
    transcriber: Union[Transcriber, Iterable[Optional[str]], None]
) -> Union[Transcriber, Sequence[Optional[str]], None]:
    """A transcriber as the sessions use it: a callable, None, or a tuple of scripted lines.

    Any iterable is read once here (sessions go through it many times); a
    single string is one line, not a sequence of characters.
    """
    if transcriber is None or callable(transcriber):
        return transcriber
    if isinstance(transcriber, str):
        return (transcriber,)
    return tuple(transcriber)


def _check_options(
    *,
    speed: Optional[float],
    audio_chunk_ms: int,
    drop_after: Optional[int],
    malformed_frame_after: Optional[int],
    error_after: Optional[int],
    event_delay: float,
    max_session_seconds: Optional[float],
) -> None:
    """Reject option values that make no sense, before anything starts.

    Raises:
        ConfigurationError: the first bad value, named.
    """
    if speed is not None and not speed >= 0:
        raise ConfigurationError(f"speed must be positive, 0 or None, not {speed!r}")
    if not audio_chunk_ms > 0:
        raise ConfigurationError(f"audio_chunk_ms must be positive, not {audio_chunk_ms!r}")
    counts = {"drop_after": drop_after, "malformed_frame_after": malformed_frame_after, "error_after": error_after}
    for name, count in counts.items():
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise ConfigurationError(f"{name} must be a count of events (an int >= 0) or None, not {count!r}")
    if not event_delay >= 0:
        raise ConfigurationError(f"event_delay must be 0 or more seconds, not {event_delay!r}")
    if max_session_seconds is not None and not max_session_seconds > 0:
        raise ConfigurationError(f"max_session_seconds must be positive or None, not {max_session_seconds!r}")


class RealtimeSimulator:
    """A local Realtime API server speaking the GA protocol, and the beta one when asked.

    Each connection speaks one dialect: beta when ``protocol="beta"`` or when
    the client asks for it (header ``OpenAI-Beta: realtime=v1`` or subprotocol
    ``openai-beta.realtime-v1``, as relays and older deployments expect), GA
    otherwise. A GA session starts with GA's defaults (model ``gpt-realtime``,
    voice ``marin``, server VAD on) and sends GA's events
    (``conversation.item.added`` / ``.done``, ``response.output_text.delta``,
    ``response.output_audio.delta``, input transcription deltas, MCP items...).

    Args:
        host: interface to bind (loopback by default).
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        responder: the simulated model, ``responder(items, session) -> Reply |
            dict | str`` (see :mod:`realtime_sync.simulator.responder`); defaults to
            :func:`default_responder`. A custom one runs on a small pool of
            threads (at most four for all sessions), so a slow one delays its
            own response only.
        require_api_key: when set, the handshake needs ``Authorization: Bearer
            <key>`` (or the browser subprotocol ``openai-insecure-api-key.<key>``);
            otherwise HTTP 401 with an OpenAI-style JSON error body.
        protocol: ``"ga"`` (default): GA unless the client asks for beta;
            ``"beta"``: every connection speaks beta.
        require_beta_header: when true, a handshake without ``OpenAI-Beta:
            realtime=v1`` (or subprotocol ``openai-beta.realtime-v1``) gets HTTP
            400 with a JSON error body. Default: true when ``protocol="beta"``.
        refuse_beta: reproduce the live service, which has retired beta: a
            beta connection gets an ``error`` with code
            ``beta_api_shape_disabled``, then a close with code 4000.
        mcp_servers: simulated MCP servers for GA sessions,
            ``{server_label: {tool_name: callable(arguments) -> str | JSON-able}}``
            (see :mod:`realtime_sync.simulator.mcp`); the tools run on the
            responder's pool of threads, off the simulator's loop.
        speed: pacing of streamed output as a multiple of real time (50 means a
            two-second reply streams in 40 ms); ``None`` or 0 sends as fast as
            possible.
        realtime: shortcut for ``speed=1.0`` (demos, playback through speakers).
        audio_chunk_ms: longest audio per ``response.audio.delta``.
        transcriber: how user audio becomes text: a callable ``(int16 samples,
            rate) -> str``, or scripted transcripts used in turn (any iterable, or
            one string used every time);
            default: a description like "(inaudible: 1.2 seconds of speech)".
            ``None`` from the callable (or in the sequence) makes that
            transcription fail (``...input_audio_transcription.failed``).
            A callable runs on the simulator's loop thread, in order with the
            session's events: keep it quick (a slow one delays every session).
        transcript_before_item: send ``...input_audio_transcription.completed``
            before the item's ``conversation.item.created``, as real servers
            sometimes do in server-VAD mode (default: after).
        drop_after: fault: after sending this many events on a connection,
            end it abruptly (no close frame).
        malformed_frame_after: fault: after this many events, send one frame
            that is not valid JSON.
        error_after: fault: after this many events, send one ``error`` event
            (``error`` gives its payload; default a ``server_error``).
        error: the ``error`` object used by ``error_after``.
        event_delay: fault: wait this many seconds before every event.
        max_session_seconds: end each session after this long, as the real
            server does after 30 minutes: an ``error`` with code
            ``session_expired``, then a normal close. ``None``: no limit.
        refuse_connections: fault: the first this many handshakes get HTTP 503.
        refuse_reconnections: fault: once a session has started, the next this
            many handshakes get HTTP 503 (a reconnection test's "the server
            refuses the first retry"). :meth:`refuse_next_connections` arms
            more at run time; :attr:`handshakes_refused` counts them all.
        http_port: port of the REST side (client secrets, SIP calls: :mod:`.rest`;
            :attr:`http_url`); 0: a free one, ``None``: no REST.
        webhook_secret: the ``whsec_...`` :meth:`ring` signs with (default: a new one).
        replay: a recording (``RealtimeClient(record=...)``) to serve instead
            of simulating: each connection gets the next recorded connection's
            server frames, each answering the client frame it follows, in the
            recording's dialect (:attr:`protocol` becomes the recording's;
            see :mod:`realtime_sync.simulator.replay`);
            divergences go to the client as ``error`` events (code
            ``replay_diverged``) and to :attr:`replay_divergences`;
            :meth:`check_replay` raises the first.
        replay_strict: match each client event's type and key fields (the
            default), or its type only, ignoring extra client events (``False``).
        replay_speed: pace the replayed server frames as recorded, this many
            times faster (1: real time); ``None`` (the default): at once.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The
    constructor starts nothing.

    Raises:
        ConfigurationError: an option out of range (a negative speed or
            delay, a count that is not an int >= 0...).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: Optional[Responder] = None,
        require_api_key: Optional[str] = None,
        require_beta_header: Optional[bool] = None,
        speed: Optional[float] = 50.0,
        realtime: bool = False,
        audio_chunk_ms: int = 100,
        transcriber: Union[Transcriber, Iterable[Optional[str]], None] = None,
        drop_after: Optional[int] = None,
        malformed_frame_after: Optional[int] = None,
        error_after: Optional[int] = None,
        error: Optional[Dict[str, Any]] = None,
        event_delay: float = 0.0,
        max_session_seconds: Optional[float] = None,
        transcript_before_item: bool = False,
        protocol: str = "ga",
        refuse_beta: bool = False,
        mcp_servers: Optional[McpServers] = None,
        refuse_connections: int = 0,
        refuse_reconnections: int = 0,
        http_port: Optional[int] = 0,
        webhook_secret: Optional[str] = None,
        replay: Union[str, "os.PathLike[str]", None] = None,
        replay_strict: bool = True,
        replay_speed: Optional[float] = None,
    ) -> None:
        _check_options(
            speed=speed,
            audio_chunk_ms=audio_chunk_ms,
            drop_after=drop_after,
            malformed_frame_after=malformed_frame_after,
            error_after=error_after,
            event_delay=event_delay,
            max_session_seconds=max_session_seconds,
        )
        if protocol not in PROTOCOLS:
            raise ConfigurationError(f"protocol must be 'ga' or 'beta', not {protocol!r}")
        for name, count in (("refuse_connections", refuse_connections), ("refuse_reconnections", refuse_reconnections)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ConfigurationError(f"{name} must be an int >= 0, not {count!r}")
        check_rest_options(http_port)
        #: The REST side (client secrets, calls), or ``None`` when ``http_port=None``.
        self.rest = None if http_port is None else SimRest(host, http_port, require_api_key, webhook_secret)
        #: The recording served (``replay=``), or ``None``.
        self.replay = None if replay is None else Replay(replay, strict=replay_strict, speed=replay_speed)
        self.protocol = protocol if self.replay is None else self.replay.protocol
        self.refuse_beta = bool(refuse_beta)
        self._connections = Connections(refuse_connections, refuse_reconnections)
        self.host = host
        self._requested_port = int(port)
        self._api_key = require_api_key
        self.require_beta_header = self.protocol == "beta" if require_beta_header is None else bool(require_beta_header)
        self.options = SimOptions(
            responder=responder or default_responder,
            speed=1.0 if realtime else speed,
            audio_chunk_ms=int(audio_chunk_ms),
            transcriber=_script(transcriber),
            drop_after=drop_after,
            malformed_frame_after=malformed_frame_after,
            error_after=error_after,
            error=error,
            event_delay=float(event_delay),
            max_session_seconds=max_session_seconds,
            transcript_before_item=transcript_before_item,
            mcp_servers=mcp_servers,
        )
        self._server: Any = None
        self._runtime: Optional[Runtime] = None
        self._lock = threading.Lock()  # guards the server and its loop
        self._port: Optional[int] = None
        # a listening socket to serve on instead of binding host:port (a ``--workers`` worker's shared address)
        self._listen_socket: Optional[socket.socket] = None

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        auth = ", api key required" if self._api_key else ""
        return f"<RealtimeSimulator {self.url if self._port else self.host} {state}{auth}>"

    # -- lifecycle -----------------------------------------------------------

    @property
    def sessions_started(self) -> int:
        """How many sessions have started since the simulator was created."""
        return self._connections.sessions_started

    @property
    def handshakes_refused(self) -> int:
        """How many handshakes the refusal faults have answered with HTTP 503."""
        return self._connections.handshakes_refused

    @property
    def port(self) -> int:
        """The TCP port the server listens on (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the simulator is not started; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """The URL to give RealtimeClient / RealtimeAPI: ``ws://host:port/v1/realtime``.

        OpenAI's GA path, so a client given it speaks GA by default; the
        simulator serves any path, and speaks beta to a client that sends
        ``OpenAI-Beta: realtime=v1`` (``protocol="beta"``).
        """
        return f"ws://{self.host}:{self.port}/v1/realtime"

    def _rest_side(self) -> SimRest:
        if self.rest is None:
            raise RuntimeError("this simulator serves no REST endpoints (http_port=None)")
        return self.rest

    @property
    def http_url(self) -> str:
        """The REST base URL, ``http://host:port/v1`` (``base_url=`` of :mod:`realtime_sync.rest`)."""
        return self._rest_side().url

    @property
    def webhook_secret(self) -> str:
        """The secret (``whsec_...``) the webhooks of :meth:`ring` are signed with."""
        return self._rest_side().webhook_secret

    def ring(self, webhook_url: str, **options: Any) -> SimCall:
        """Ring a fake SIP call at ``webhook_url``: a :class:`~.calls.SimCall` (see :meth:`.rest.SimRest.ring`)."""
        return self._rest_side().ring(webhook_url, **options)

    def start(self) -> RealtimeSimulator:
        """Bind the socket and start serving on the simulator's loop thread; returns self.

        Raises:
            RuntimeError: already started.
            OSError: the address cannot be bound.
        """
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the simulator is already running")
            self._connections.start()
            runtime = Runtime()
            runtime.start()
            try:
                server = runtime.run_coroutine(self._open(), 30.0)
            except BaseException:
                runtime.stop(5.0)
                raise
            self._server, self._runtime = server, runtime
            self._port = int(next(iter(server.sockets)).getsockname()[1])
            if self.rest is not None:
                self.rest.start()
        logger.info("realtime simulator listening on %s", self.url)
        return self

    async def _open(self) -> Any:
        where: Dict[str, Any] = (
            {"sock": self._listen_socket}
            if self._listen_socket is not None
            else {"host": self.host, "port": self._requested_port}
        )
        return await _serve(
            self._handle,
            **where,
            create_connection=self._connections.connection_class(),
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=_MAX_FRAME,
            open_timeout=10,
            close_timeout=_CLOSE_TIMEOUT,
            logger=RedactingLogger(logging.getLogger("websockets.server"), lambda: self._connections.stopping),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Close the server and every connection (close code 1001), and end the simulator's threads.

        Idempotent; safe from any thread except the simulator's own (its loop
        thread and its pool, where user code runs).

        Args:
            timeout: seconds to wait for the sessions to end and for each thread (None = forever).
        """
        with self._lock:
            runtime = self._runtime
            if runtime is not None and runtime.on_loop():
                raise RuntimeError("stop() cannot wait for the simulator on the simulator's own loop thread")
            server, self._server = self._server, None
            self._runtime = None
            sessions = self._connections.begin_stop()
        if server is None or runtime is None:
            return
        if self.rest is not None:
            self.rest.stop(timeout)
        try:
            runtime.run_coroutine(self._close(server, sessions), None if timeout is None else timeout + _STUCK_AFTER)
        except TimeoutError:
            logger.warning("simulator connections did not close in time")
        runtime.stop(timeout)
        self._connections.clear()
        logger.info("realtime simulator on port %s stopped", self._port)

    async def _close(self, server: Any, sessions: List[Session]) -> None:
        """Stop listening, cut unfinished handshakes, close every session (1001), wait for them (loop thread)."""
        server.close(close_connections=False)
        self._connections.abort_handshakes()
        for session in sessions:
            session.close()  # after the frames already queued
        try:
            await asyncio.wait_for(server.wait_closed(), _STUCK_AFTER)
        except asyncio.TimeoutError:
            # a client that stopped reading leaves its frames (and the close) stuck in the queue
            for session in sessions:
                session.channel.abort()
            await server.wait_closed()

    def __enter__(self) -> RealtimeSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- inspection and runtime faults ----------------------------------------

    @property
    def session_count(self) -> int:
        """Number of sessions currently connected."""
        return len(self._connections.open_sessions())

    def session_ids(self) -> List[str]:
        """Ids (``sess_...``) of the sessions currently connected."""
        return [s.id for s in self._connections.open_sessions()]

    def broadcast(self, event: Dict[str, Any]) -> int:
        """Send a server event (an ``event_id`` is added) to every open session.

        Useful to inject events the simulator would never send by itself.
        Returns the number of sessions it reached.
        """
        reached = 0
        for session in self._connections.open_sessions():
            try:
                session.send_event(dict(event))
                reached += 1
            except ConnectionError:
                logger.debug("broadcast to %s failed", session.id, exc_info=True)
        return reached

    @property
    def replay_divergences(self) -> List[Exception]:
        """The divergences of clients from the ``replay=`` recording (``ReplayDivergenceError``), in order."""
        return list(self.replay.divergences) if self.replay is not None else []

    def check_replay(self) -> None:
        """Raise the first divergence from the ``replay=`` recording (ReplayDivergenceError), if any."""
        if self.replay is not None:
            self.replay.check()

    def refuse_next_connections(self, count: int = 1) -> None:
        """Fault: answer the next ``count`` handshakes with HTTP 503 (any thread)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigurationError(f"count must be an int >= 0, not {count!r}")
        self._connections.refuse_next(count)

    def drop_connections(self) -> int:
        """Fault: end every open connection abruptly (TCP cut, no close frame), as a network failure would.

        Returns the number of connections dropped.
        """
        sessions = self._connections.open_sessions()
        for session in sessions:
            session.drop()
        return len(sessions)

    def expire_sessions(self) -> int:
        """Fault: end every open session now as the live service does at its maximum duration.

        Each gets an ``error`` with code ``session_expired``, then a close (1000),
        on the simulator's loop (this call does not wait for the close).
        Returns the number of sessions expired.
        """
        sessions = self._connections.open_sessions()
        runtime = self._runtime
        for session in sessions:
            if runtime is not None:
                runtime.soon(_expire, session)
        return len(sessions)

    def send_malformed_frame(self) -> int:
        """Fault: send one frame that is not valid JSON to every open session; returns how many it reached."""
        reached = 0
        for session in self._connections.open_sessions():
            try:
                session.send_malformed_frame()
                reached += 1
            except ConnectionError:
                logger.debug("malformed frame to %s failed", session.id, exc_info=True)
        return reached

    # -- websockets callbacks (the loop thread) --------------------------------

    def _select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Optional[Subprotocol]:
        """Accept the browser-style ``realtime`` subprotocol when offered, else none.

        The other offered entries (``openai-insecure-api-key.<key>``,
        ``openai-beta.realtime-v1``) carry credentials and flags, checked in
        :meth:`_process_request`; they are never echoed back.
        """
        return _REALTIME_SUBPROTOCOL if _REALTIME_SUBPROTOCOL in subprotocols else None

    def _process_request(self, connection: Any, request: Any) -> Any:
        """Check the handshake headers; return an HTTP error response or None."""
        if not self._connections.admit():
            return json_error(503, "The server is temporarily unavailable (refused by the simulator).", None)
        headers = request.headers
        # a header may come more than once: read every value (Headers.get raises then)
        offered = header_values(headers, "Sec-WebSocket-Protocol")
        refusal = check_credentials(headers, self._api_key, self.rest.check_client_secret if self.rest else None)
        if refusal is None and self.rest is not None:
            call_refusal = self.rest.check_call_path(request.path)  # ?call_id= of an unknown or unaccepted call
            refusal = None if call_refusal is None else json_error(*call_refusal)
        if refusal is not None:
            return refusal
        if self.require_beta_header:
            beta = header_values(headers, "OpenAI-Beta")
            if "realtime=v1" not in beta and "openai-beta.realtime-v1" not in offered:
                return json_error(
                    400,
                    "Missing required header: 'OpenAI-Beta: realtime=v1'. This server speaks the beta Realtime API.",
                    "missing_beta_header",
                )
        return None

    async def _handle(self, connection: Any) -> None:
        runtime = self._runtime
        if runtime is None:  # stop() has begun
            return
        channel = Channel(connection, runtime)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(connection.request.path).query)
        model = (query.get("model") or [None])[0]
        intent = (query.get("intent") or [None])[0]
        headers = connection.request.headers
        protocol = "beta" if self.protocol == "beta" or asks_for_beta(headers) else "ga"
        session: Session
        call: Optional[SimCall] = None
        if self.replay is not None:
            session = self.replay.session(channel, asks_for_beta(headers))
        elif protocol == "beta" and self.refuse_beta:
            await refuse_beta(connection)
            return
        else:
            session = SimSession(channel, model, self.options, protocol, intent)
            if self.rest is not None:  # a client secret's or an accepted call's configuration
                call = self.rest.bind(session, connection.request.path, offered_keys(headers))
        if not self._connections.add(session):
            await connection.close(1001, "simulator stopping")
            return
        if call is not None:
            call.attach(session)
        logger.debug("simulator session %s opened (%s, model %s)", session.id, protocol, model)
        try:
            await session.run()
        finally:
            self._connections.remove(session)
            logger.debug("simulator session %s closed", session.id)
