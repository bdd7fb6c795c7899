"""A scripted Realtime server on 127.0.0.1 for the RealtimeClient tests.

:class:`ScriptedServer` runs the ``websockets`` threaded server on port 0. It
greets each connection with ``session.created`` (unless told not to), records
every client frame as a parsed dict, and lets the test push any server event,
or install a ``responder`` that answers client events as they arrive. Waits
sleep on a ``threading.Condition`` and take a timeout in seconds.

It also holds :func:`validate_client_event`, which checks a frame against the
``openai`` SDK's beta client-event models, and a few event builders.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

from realtime_sync import dialects

if TYPE_CHECKING:  # the websockets package is imported when a server starts
    from websockets.sync.server import Server, ServerConnection

__all__ = [
    "ScriptedServer",
    "validate_client_event",
    "session_object",
    "EventRecorder",
    "signal_when_waiting",
    "RawConnection",
    "collapse",
    "join_threads",
]

Event = Dict[str, Any]
_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


def session_object(**overrides: Any) -> Event:
    """A beta ``session`` object as the server sends it."""
    session: Event = {
        "id": "sess_test",
        "object": "realtime.session",
        "model": "gpt-4o-realtime-preview-2024-10-01",
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": None,
        "turn_detection": None,
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }
    session.update(overrides)
    return session


_ADAPTERS: Dict[str, Any] = {}


def validate_client_event(frame: Event, protocol: str = "beta") -> Any:
    """Validate a client frame against the ``openai`` SDK's client-event models.

    ``openai.types.beta.realtime.RealtimeClientEvent`` for the beta dialect,
    ``openai.types.realtime.RealtimeClientEvent`` for GA. Returns the parsed
    model; raises ``pydantic.ValidationError`` when the frame does not match
    (wrong type, missing or mistyped field).
    """
    adapter = _ADAPTERS.get(protocol)
    if adapter is None:
        from pydantic import TypeAdapter

        if protocol == "ga":
            from openai.types.realtime import RealtimeClientEvent as GAClientEvent

            adapter = TypeAdapter(GAClientEvent)
        else:
            from openai.types.beta.realtime import RealtimeClientEvent

            adapter = TypeAdapter(RealtimeClientEvent)
        _ADAPTERS[protocol] = adapter
    return adapter.validate_python(frame)


class ScriptedServer:
    """A WebSocket server whose every event the test scripts.

    Args:
        greet: send ``session.created`` as soon as a client connects.
        session: the ``session`` object to greet with (default
            :func:`session_object`).
        responder: ``responder(server, frame)``, called on the connection
            thread for each client frame after it is recorded; it may call
            :meth:`send`. Exceptions are recorded in :attr:`errors`.
        protocol: the wire dialect, ``"beta"`` or ``"ga"``: events given to
            :meth:`send` are written in beta shape and translated for GA with
            :func:`realtime_sync.dialects.server_to_wire`; received frames are
            recorded as they came (in that dialect).
    """

    def __init__(
        self,
        *,
        greet: bool = True,
        session: Optional[Event] = None,
        responder: Optional[Callable[["ScriptedServer", Event], None]] = None,
        protocol: str = "beta",
    ) -> None:
        self.protocol = protocol
        self.greet = greet
        self.session = session if session is not None else session_object()
        self.responder = responder
        self.received: List[Event] = []
        self.errors: List[BaseException] = []
        self.connections: List[ServerConnection] = []
        self._cond = threading.Condition()
        self._server: Optional[Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> "ScriptedServer":
        from websockets.sync.server import serve

        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="scripted-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(10)
        self._server = None

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # -- connection -------------------------------------------------------------

    def _handle(self, connection: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._cond:
            self.connections.append(connection)
            self._cond.notify_all()
        if self.greet:
            self.send({"type": "session.created", "session": self.session}, connection)
        try:
            for message in connection:
                frame = json.loads(message)
                with self._cond:
                    self.received.append(frame)
                    self._cond.notify_all()
                if self.responder is not None:
                    try:
                        self.responder(self, frame)
                    except Exception as exc:  # surfaced by the test through .errors
                        self.errors.append(exc)
        except ConnectionClosed:
            pass

    def send(self, event: Event, connection: Optional[ServerConnection] = None) -> Event:
        """Send a server event (an ``event_id`` is added) on the latest connection."""
        event = dict(event)
        event.setdefault("event_id", _next_id("event_"))
        event = dialects.server_to_wire(event, self.protocol)
        target = connection or self.latest_connection()
        target.send(json.dumps(event))
        return event

    def send_raw(self, text: str) -> None:
        """Send a frame as is (for malformed input)."""
        self.latest_connection().send(text)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the latest connection from the server side."""
        self.latest_connection().close(code, reason)

    # -- reading what the client sent --------------------------------------------

    def frames(self, event_type: Optional[str] = None) -> List[Event]:
        """The frames received so far (of one type, if given)."""
        with self._cond:
            return [f for f in self.received if event_type is None or f.get("type") == event_type]

    def wait_for(self, event_type: str, count: int = 1, timeout: float = 5.0) -> List[Event]:
        """Wait until ``count`` frames of ``event_type`` arrived; return them all.

        Raises:
            AssertionError: they did not arrive within ``timeout`` seconds.
        """

        def matching() -> List[Event]:
            return [f for f in self.received if f.get("type") == event_type]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(
                    f"expected {count} {event_type!r} frame(s), got "
                    f"{[f.get('type') for f in self.received]}"
                )
            return matching()

    def latest_connection(self, timeout: float = 5.0) -> ServerConnection:
        """The newest connection that is still open (waits for one).

        Not simply the last one registered: after a client reconnects, the old
        connection's handler may register after the new one's.
        """
        from websockets.protocol import State

        def newest_open() -> Optional[ServerConnection]:
            opened = [c for c in self.connections if c.state is State.OPEN]
            return opened[-1] if opened else None

        with self._cond:
            assert self._cond.wait_for(lambda: newest_open() is not None, timeout), "no open connection"
            found = newest_open()
            assert found is not None
            return found

    def wait_for_connection(self, count: int = 1, timeout: float = 5.0) -> ServerConnection:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.connections) >= count, timeout)
            return self.connections[count - 1]

    def mark(self) -> int:
        """The number of frames received so far (to look at later frames only)."""
        with self._cond:
            return len(self.received)

    def since(self, mark: int) -> List[Event]:
        with self._cond:
            return list(self.received[mark:])

    def wait_frames(self, mark: int, count: int, timeout: float = 5.0) -> List[Event]:
        """Wait for ``count`` frames after ``mark`` and return exactly those received."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.received) - mark >= count, timeout):
                raise AssertionError(
                    f"expected {count} frame(s), got {[f.get('type') for f in self.received[mark:]]}"
                )
            return list(self.received[mark:])

    # -- building server events ---------------------------------------------------

    def response_created(self, response_id: str = "resp_1") -> Event:
        return self.send(
            {
                "type": "response.created",
                "response": {
                    "id": response_id,
                    "object": "realtime.response",
                    "status": "in_progress",
                    "status_details": None,
                    "output": [],
                    "usage": None,
                },
            }
        )

    def response_done(
        self, response_id: str = "resp_1", output: Optional[List[Event]] = None, status: str = "completed"
    ) -> Event:
        return self.send(
            {
                "type": "response.done",
                "response": {
                    "id": response_id,
                    "object": "realtime.response",
                    "status": status,
                    "status_details": None,
                    "output": output or [],
                    "usage": None,
                },
            }
        )

    def assistant_item(self, item_id: str, response_id: str = "resp_1", audio: bool = True) -> Event:
        """Send output_item.added, conversation.item.created and content_part.added."""
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self.send(
            {"type": "response.output_item.added", "response_id": response_id, "output_index": 0, "item": item}
        )
        self.send({"type": "conversation.item.created", "previous_item_id": None, "item": item})
        part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        return self.send(
            {
                "type": "response.content_part.added",
                "response_id": response_id,
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "part": part,
            }
        )

    def function_call(
        self, item_id: str, call_id: str, name: str, arguments: str, response_id: str = "resp_1", index: int = 0
    ) -> Event:
        """Send a whole function call item (added, created, done)."""
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        self.send(
            {"type": "response.output_item.added", "response_id": response_id, "output_index": index, "item": item}
        )
        self.send({"type": "conversation.item.created", "previous_item_id": None, "item": item})
        self.send(
            {
                "type": "response.function_call_arguments.done",
                "response_id": response_id,
                "item_id": item_id,
                "output_index": index,
                "call_id": call_id,
                "arguments": arguments,
            }
        )
        done = dict(item, status="completed", arguments=arguments)
        self.send(
            {"type": "response.output_item.done", "response_id": response_id, "output_index": index, "item": done}
        )
        return done


class EventRecorder:
    """Collects ``(name, payload)`` from callbacks (and the thread each ran on); waits on a Condition.

    ``recorder.callback(name)`` is the callback to register;
    :meth:`record_on` registers one per name on an emitter.
    """

    def __init__(self) -> None:
        self.events: List[Any] = []
        self.threads: List[threading.Thread] = []
        self._cond = threading.Condition()

    def callback(self, name: str) -> Callable[[Any], None]:
        def record(payload: Any) -> None:
            with self._cond:
                self.events.append((name, payload))
                self.threads.append(threading.current_thread())
                self._cond.notify_all()

        return record

    def record_on(self, emitter: Any, *names: str) -> "EventRecorder":
        for name in names:
            emitter.on(name, self.callback(name))
        return self

    def of(self, name: str) -> List[Any]:
        with self._cond:
            return [p for n, p in self.events if n == name]

    def wait(self, name: str, count: int = 1, timeout: float = 10.0) -> List[Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: len([1 for n, _ in self.events if n == name]) >= count, timeout):
                raise AssertionError(f"expected {count} {name!r}, got {[n for n, _ in self.events]}")
            return [p for n, p in self.events if n == name]

    def __iter__(self) -> Iterator[Any]:
        with self._cond:
            return iter(list(self.events))


def signal_when_waiting(monkeypatch: Any, waiter_class: Any = None) -> threading.Event:
    """An Event set once a blocking helper's waiter is registered and about to sleep.

    Patches ``waiter_class.wait`` (by default :class:`realtime_sync.events.Waiter`,
    the one waiting primitive) for the test (``monkeypatch``), so a test can
    disconnect exactly while a helper waits, without sleeping.
    """
    if waiter_class is None:
        from realtime_sync.events import Waiter as waiter_class

    waiting = threading.Event()
    original = waiter_class.wait

    def wait(self: Any, timeout: Any = None) -> bool:
        waiting.set()
        return bool(original(self, timeout))

    monkeypatch.setattr(waiter_class, "wait", wait)
    return waiting


class SignalingWaiters(Dict[str, Any]):
    """A stand-in for ``EventHandler._waiters`` that tells the test when a waiter registers.

    ``wait_for_next()`` registers under the handler's lock, so once
    ``registered`` is released, a dispatch from the test blocks on that lock
    until the waiter is in place: no polling needed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.registered = threading.Semaphore(0)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        value = super().setdefault(key, default)
        self.registered.release()
        return value


def join_threads(name: str, timeout: float = 10.0) -> None:
    """Wait until every thread now alive named ``name`` has ended (instead of sleeping "long enough").

    Raises:
        AssertionError: one is still running after ``timeout`` seconds.
    """
    import time

    deadline = time.monotonic() + timeout
    for thread in [t for t in threading.enumerate() if t.name == name and t is not threading.current_thread()]:
        thread.join(max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), f"thread {name!r} still runs after {timeout} s"


def collapse(types: List[str]) -> List[str]:
    """Event types with each run of one ``*.delta`` type folded into one entry."""
    out: List[str] = []
    for event_type in types:
        if not out or out[-1] != event_type or not event_type.endswith(".delta"):
            out.append(event_type)
    return out


class RawConnection:
    """A raw websocket-client connection to a server under test that checks every event it receives.

    ``check(event)`` validates each received event (the test's own models);
    every event is kept in ``received``. Subclasses add the session's verbs.
    """

    def __init__(
        self, url: str, check: Callable[[Event], Any], *, header: Optional[List[str]] = None, timeout: float = 10
    ) -> None:
        import websocket

        self.check = check
        self.ws = websocket.create_connection(url, header=header or [], timeout=timeout)
        self.received: List[Event] = []

    def send(self, event_type: str, **fields: Any) -> Any:
        self.ws.send(json.dumps({"type": event_type, **fields}))

    def send_user_text(self, text: str) -> None:
        """``conversation.item.create`` of a user message holding ``text``."""
        self.send(
            "conversation.item.create",
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        )

    def recv(self) -> Event:
        event: Event = json.loads(self.ws.recv())
        self.check(event)
        self.received.append(event)
        return event

    def expect(self, event_type: str) -> Event:
        event = self.recv()
        assert event["type"] == event_type, event
        return event

    def until(self, event_type: str, limit: int = 5000) -> List[Event]:
        """The events up to and including the first ``event_type`` (at most ``limit``)."""
        events = []
        for _ in range(limit):
            events.append(self.recv())
            if events[-1]["type"] == event_type:
                return events
        raise AssertionError(f"no {event_type} in {limit} events")

    def close(self) -> None:
        self.ws.close()
