"""Replaying a recording: the simulator answers a client with the server frames it recorded.

``RealtimeSimulator(replay="session.jsonl")`` serves a recording made with
``RealtimeClient(record=...)`` (format: :mod:`realtime_sync.recording`)
instead of simulating a model. Each connection is served the next connection
of the recording, in the recording's dialect (GA or beta):

1. On connect it sends the server frames recorded before the client's first
   frame, and ``session.created`` / ``conversation.created`` (the server sends
   those unprompted, even when the client's first frames were recorded first).
2. Then each client frame is matched with the next client frame of the
   recording, and the server frames recorded after that one, up to the next
   client frame, are sent.

Matching (``replay_strict``):

- strict (the default): the type and the key fields must match: every field
  but ``event_id``, except that audio is compared by its length
  (``input_audio_buffer.append``), a truncation by ``item_id`` and
  ``content_index``, a new item without its ``id``. A client event past the
  end of the recording is a divergence.
- lenient: the type only; a client event of another type than the expected
  one is ignored (logged), as is any client event past the end.

Ids the client makes (``event_id``, the ``id`` of an item it creates) differ
from run to run: once matched, the recorded id is replaced by the client's in
every later frame sent (an ``error`` naming the client's event, the item's
echo...).

A divergence (another type, another key field, a client in the other
dialect, a connection the recording does not have) is logged at ERROR,
kept in :attr:`Replay.divergences` (the simulator's ``replay_divergences``)
as a :class:`~realtime_sync.recording.ReplayDivergenceError`, and sent to
the client as an ``error`` event with code ``replay_diverged`` naming the
event, the expected and the received. The replay stops there: the
connection stays open (so the client reads the error in its own time) and
every later client event gets an ``error`` (code ``replay_diverged``) naming
its ``event_id`` and the first divergence.
Elided audio (a recording made with ``record_audio=False``) is replayed as
silence of the recorded length.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from websockets.frames import EXTERNAL_CLOSE_CODES

from ..errors import ConfigurationError
from ..recording import Frame, PathLike, Recording, ReplayDivergenceError, elide_audio, read_recording, restore_audio
from .config import new_id
from .pacing import Job, Stepper

if TYPE_CHECKING:
    from .channel import Channel

_UNPACED_TURN = 16  # frames sent between two turns given to the loop's other work

__all__ = ["Replay", "ReplaySession", "describe_difference"]

logger = logging.getLogger(__name__)

# Server events the server sends unprompted when a connection opens.
_GREETINGS = ("session.created", "conversation.created")
# Strict matching compares these fields of these client events (any other: every field but event_id).
_KEY_FIELDS = {
    "input_audio_buffer.append": ("audio",),
    "conversation.item.truncate": ("item_id", "content_index"),
    "conversation.item.create": ("item", "previous_item_id"),
}
_MISSING = object()


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _difference(expected: Any, got: Any, path: str) -> Optional[Tuple[str, Any, Any]]:
    """The first place where ``got`` differs from ``expected``: (path, expected, got), or None."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in list(expected) + [k for k in got if k not in expected]:
            where = f"{path}.{key}" if path else str(key)
            found = _difference(expected.get(key, _MISSING), got.get(key, _MISSING), where)
            if found is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for index in range(max(len(expected), len(got))):
            found = _difference(
                expected[index] if index < len(expected) else _MISSING,
                got[index] if index < len(got) else _MISSING,
                f"{path}[{index}]",
            )
            if found is not None:
                return found
        return None
    if type(expected) is bool or type(got) is bool:  # True == 1 in Python, not in JSON
        same = expected is got
    else:
        same = expected is got or expected == got
    if same:
        return None
    return (path, expected, got)


def _key_fields(event: Dict[str, Any]) -> Dict[str, Any]:
    """What strict matching compares of a client event (audio as its length, no client-made ids)."""
    event = elide_audio(event)
    names = _KEY_FIELDS.get(str(event.get("type")))
    if names is None:
        fields = {k: v for k, v in event.items() if k != "event_id"}
    else:
        fields = {k: event[k] for k in names if k in event}
    item = fields.get("item")
    if isinstance(item, dict) and "id" in item:
        fields["item"] = {k: v for k, v in item.items() if k != "id"}
    return fields


def describe_difference(expected: Dict[str, Any], got: Dict[str, Any], strict: bool = True) -> Optional[str]:
    """How client event ``got`` differs from the recorded ``expected`` ("expected X, got Y"), or None if it matches."""
    if expected.get("type") != got.get("type"):
        return f"expected {expected.get('type')}, got {got.get('type')}"
    if not strict:
        return None
    found = _difference(_key_fields(expected), _key_fields(got), "")
    if found is None:
        return None
    path, wanted, came = found
    return f"expected {expected.get('type')} with {path} = {_shown(wanted)}, got {_shown(came)}"


def _rename(value: Any, ids: Dict[str, str]) -> Any:
    """``value`` with every string that is a recorded id replaced by the client's (new containers)."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, dict):
        return {k: _rename(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, ids) for v in value]
    return value


class Replay:
    """A recording served by a simulator: the next connection gets the next recorded one.

    Args:
        path: the recording.
        strict: strict matching (type and key fields) or lenient (type only).
        speed: pace the server frames as recorded, this many times faster
            (1: the recorded timing; the gap after a client frame is the
            server's recorded latency); ``None`` sends them at once.

    Raises:
        ConfigurationError: the recording is missing, malformed or of another version.
    """

    def __init__(self, path: PathLike, *, strict: bool = True, speed: Optional[float] = None) -> None:
        if speed is not None and (isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0):
            raise ConfigurationError(f"replay_speed must be a number above 0 or None, not {speed!r}")
        self.recording: Recording = read_recording(path)
        self.strict = bool(strict)
        self.speed = None if speed is None else float(speed)
        self._lock = threading.Lock()
        self._served = 0
        #: Every divergence seen, in order.
        self.divergences: List[ReplayDivergenceError] = []

    @property
    def protocol(self) -> str:
        """The recording's dialect, ``"ga"`` or ``"beta"``."""
        return self.recording.protocol

    def session(self, channel: "Channel", asks_for_beta: bool) -> "ReplaySession":
        """A session replaying the next recorded connection on ``channel``."""
        with self._lock:
            index = self._served
            self._served += 1
        return ReplaySession(self, channel, index, asks_for_beta)

    def diverged(self, message: str) -> ReplayDivergenceError:
        """Keep and log a divergence; return it."""
        error = ReplayDivergenceError(message)
        with self._lock:
            self.divergences.append(error)
        logger.error("%s", message)
        return error

    def check(self) -> None:
        """Raise the first divergence, if any.

        Raises:
            ReplayDivergenceError: a client did not follow the recording.
        """
        with self._lock:
            first = self.divergences[0] if self.divergences else None
        if first is not None:
            raise first


class ReplaySession:
    """One connection served from a recording (the simulator's session for it, on its loop thread).

    Server frames wait in a queue and leave as a paced job (:mod:`.pacing`);
    a client frame that comes while they wait is matched once they have left,
    as the recording has it.
    """

    def __init__(self, replay: Replay, channel: "Channel", index: int, asks_for_beta: bool) -> None:
        self.replay = replay
        self.channel = channel
        self.index = index
        self.protocol = replay.protocol
        self.asks_for_beta = asks_for_beta
        self.closed = threading.Event()
        self._out: Deque[Frame] = deque()  # server frames still to send, in order
        self._inbox: Deque[Any] = deque()  # client frames that came while server frames were being paced
        self._check_end = False  # once the frames queued have left: end the connection if the server did
        self._stepper = Stepper(channel.runtime, self._work_ended)
        self._ids: Dict[str, str] = {}
        self._matched = 0
        self._divergence: Optional[str] = None  # the first divergence: the replay stopped there
        self._clock: Optional[float] = None  # the recorded time reached (pacing)
        self._sent = 0  # server frames sent
        self.id = new_id("sess")
        connections = replay.recording.connections
        self._frames: List[Frame] = list(connections[index]) if index < len(connections) else []

    def __repr__(self) -> str:
        return f"<ReplaySession {self.id} connection {self.index + 1} of {self.replay.recording.path!r}>"

    # -- the loop thread -----------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it closes."""
        recording = self.replay.recording
        if self.asks_for_beta != (self.protocol == "beta"):
            asked = "beta (OpenAI-Beta: realtime=v1)" if self.asks_for_beta else "GA (no OpenAI-Beta header)"
            self._diverge(
                f"the recording {recording.path!r} speaks {self.protocol.upper()} but the client asked for "
                f"{asked}; connect with protocol={self.protocol!r}",
                None,
            )
        elif self.index >= len(recording.connections):
            self._diverge(
                f"the recording {recording.path!r} holds {len(recording.connections)} connection(s); "
                f"this is connection {self.index + 1}",
                None,
            )
        else:
            self._send_frames(self._greetings())
            self._send_frames(self._until_client_frame())
            self._check_end = True
            self._pump()
        await self.channel.run(self.handle, self._ended)

    def handle(self, message: Any) -> None:
        """A client frame: matched now, or once the server frames before it have left."""
        self._inbox.append(message)
        self._pump()

    def _pump(self) -> None:
        if not self._stepper.busy and not self.closed.is_set():
            self._stepper.run(self._work())

    def _work(self) -> Job:
        """Send the queued server frames (paced), end like the server, match client frames; until idle."""
        while not self.closed.is_set():
            if self._out:
                frame = self._out[0]
                speed = self.replay.speed
                if speed is not None and self._clock is not None and frame.time > self._clock:
                    yield time.monotonic() + (frame.time - self._clock) / speed
                    if self.closed.is_set():
                        return  # closed while pacing
                self._out.popleft()
                self._clock = frame.time if self._clock is None else max(self._clock, frame.time)
                event = frame.event
                if self.replay.recording.audio_elided:
                    event = restore_audio(event)
                if self._ids:
                    event = _rename(event, self._ids)
                self._send(json.dumps(event, ensure_ascii=False))
                # a long unpaced stretch lets the other sessions in, and waits while the client reads slowly
                self._sent += 1
                if self._sent % _UNPACED_TURN == 0:
                    yield None
                room = self.channel.ready()
                while room is not None and not self.closed.is_set():
                    yield room
                    room = self.channel.ready()
            elif self._check_end:
                self._check_end = False
                self._end_like_the_server()
            elif self._inbox:
                self._handle(self._inbox.popleft())
            else:
                return

    def _work_ended(self, error: Optional[BaseException]) -> None:
        if error is not None:
            logger.error("replay: serving connection %d failed", self.index + 1, exc_info=error)

    def _ended(self) -> None:
        self.closed.set()
        self._stepper.stop()

    def _greetings(self) -> List[Frame]:
        """The server frames sent on connect: those before the first client frame, and the greetings."""
        greetings = []
        for frame in list(self._frames):
            if frame.direction == "client":
                continue
            if frame.type not in _GREETINGS:
                break
            greetings.append(frame)
            self._frames.remove(frame)
        return greetings

    def _until_client_frame(self) -> List[Frame]:
        out = []
        while self._frames and self._frames[0].direction == "server":
            out.append(self._frames.pop(0))
        return out

    def _handle(self, message: Any) -> None:
        try:
            event = json.loads(message)
        except (TypeError, ValueError):
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._diverge(f"the client sent a frame that is not a JSON event: {_shown(str(message))}", None)
            return
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        if self._divergence is not None:
            self._diverge(self._divergence, event_id)
            return
        number = self._matched + 1
        where = f"client event {number} of connection {self.index + 1} of {self.replay.recording.path!r}"
        if not self._frames:
            if self.replay.strict:
                self._diverge(f"replay diverged at {where}: the recording has ended, got {event['type']}", event_id)
            else:
                logger.info("replay: %s after the end of the recording ignored", event["type"])
            return
        expected = self._frames[0]
        assert expected.direction == "client"
        recorded = _rename(expected.event, self._ids) if self._ids else expected.event
        problem = describe_difference(recorded, event, self.replay.strict)
        if problem is not None:
            if not self.replay.strict:
                logger.info("replay: %s ignored (waiting for %s, line %d)", event["type"], expected.type, expected.line)
                return
            self._diverge(f"replay diverged at {where} (line {expected.line}): {problem}", event_id)
            return
        self._matched += 1
        self._frames.pop(0)
        self._clock = expected.time if self._clock is None else max(self._clock, expected.time)
        self._learn_ids(expected.event, event)
        self._send_frames(self._until_client_frame())
        self._check_end = True

    def _end_like_the_server(self) -> None:
        """Once every frame is sent: end the connection as the server did, when the server ended it."""
        closes = self.replay.recording.closes
        close = closes[self.index] if self.index < len(closes) else None
        if self._frames or close is None or close.get("by") != "server":
            return
        code, reason = close.get("code"), close.get("reason")
        self.closed.set()
        if not isinstance(code, int) or isinstance(code, bool) or code == 1006:
            self.drop()  # lost without a close frame
        elif code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000:
            self.channel.close(code, str(reason or ""))
        else:
            self.channel.close(1011, str(reason or ""))

    def _learn_ids(self, recorded: Dict[str, Any], got: Dict[str, Any]) -> None:
        """Map the ids the recorded client made to the ones this client made."""
        pairs = [(recorded.get("event_id"), got.get("event_id"))]
        old_item, new_item = recorded.get("item"), got.get("item")
        if isinstance(old_item, dict) and isinstance(new_item, dict):
            pairs.append((old_item.get("id"), new_item.get("id")))
        for old, new in pairs:
            if isinstance(old, str) and isinstance(new, str) and old != new:
                self._ids[old] = new

    def _send_frames(self, frames: List[Frame]) -> None:
        """Queue server frames: they leave in order, paced as recorded when ``replay_speed`` is set."""
        self._out.extend(frames)

    def _send(self, text: str) -> None:
        if self.closed.is_set():
            raise ConnectionError("the replay session is closed")
        self.channel.write(text)

    def _diverge(self, message: str, client_event_id: Optional[str]) -> None:
        """Report a divergence: kept and logged here (the first), an ``error`` event to the client; the replay stops."""
        if self._divergence is None:
            self._divergence = message
            self.replay.diverged(message)
        else:
            message = f"the replay stopped at an earlier divergence: {self._divergence}"
        error = {
            "type": "invalid_request_error",
            "code": "replay_diverged",
            "message": message,
            "param": None,
            "event_id": client_event_id,
        }
        try:
            self._send(json.dumps({"type": "error", "event_id": new_id("event"), "error": error}, ensure_ascii=False))
        except Exception:
            logger.debug("replay: reporting a divergence to the client failed", exc_info=True)

    # -- what the simulator asks of its sessions (any thread) -------------------------------

    def send_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """Send one extra server event (an ``event_id`` is added)."""
        event = {"event_id": new_id("event"), **event}
        try:
            self._send(json.dumps(event))
        except Exception as exc:
            raise ConnectionError("the replay session is closed") from exc
        return event

    def send_malformed_frame(self) -> None:
        """Fault: one frame that is not JSON."""
        try:
            self._send("{not json")
        except Exception as exc:
            raise ConnectionError("the replay session is closed") from exc

    def close(self) -> None:
        """Close the connection with 1001 (the simulator stops)."""
        self.closed.set()
        self.channel.close(1001, "simulator stopping")

    def expire(self) -> None:
        """End the session now (a normal close)."""
        self.closed.set()
        self.channel.close(1000, "session expired")

    def drop(self) -> None:
        """Fault: cut the connection without a close frame."""
        self.channel.cut()
