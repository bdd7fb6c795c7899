"""What the parts of one simulated session share: options, conversation state, responses.

A session (:mod:`.session`) is composed of small objects: the outbox that
writes frames (:mod:`.outbox`), the input audio handling (:mod:`.input_audio`)
and the response streamer (:mod:`.streaming`). They share one
:class:`SessionState`, guarded by its re-entrant ``lock``: whoever changes the
conversation takes the lock and sends the events that report the change while
holding it, so events leave in the order the state changed.

Plain data, no threads of its own: the parts run on the simulator's loop thread
(:mod:`.runtime`), and the lock lets another thread (a test's fault, a REST
call) change a session safely.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .responder import Responder, Transcriber, default_responder

__all__ = ["CancelFlag", "Closed", "EncodedAudio", "SendEvent", "SessionState", "SimOptions", "SimResponse"]

#: Writes one server event (adds its ``event_id``) and returns it as sent.
SendEvent = Callable[[Dict[str, Any]], Dict[str, Any]]


class Closed(Exception):
    """The connection is gone; stop what you are doing."""


class EncodedAudio(str):
    """Base64 audio the simulator encoded itself: text with nothing to escape in JSON.

    The outbox writes an event's ``delta`` of this type into the frame as it
    is, instead of having the JSON encoder scan its thousands of characters
    again on every send.
    """

    __slots__ = ()


@dataclass
class SimOptions:
    """Behaviour shared by every session of a simulator (see ``RealtimeSimulator``)."""

    responder: Responder = default_responder
    speed: Optional[float] = 50.0
    audio_chunk_ms: int = 100
    transcriber: Union[Transcriber, Sequence[Optional[str]], None] = None
    drop_after: Optional[int] = None
    malformed_frame_after: Optional[int] = None
    error_after: Optional[int] = None
    error: Optional[Dict[str, Any]] = None
    event_delay: float = 0.0
    max_session_seconds: Optional[float] = None
    transcript_before_item: bool = False
    rate_limit_requests: int = 5000
    rate_limit_tokens: int = 200000
    #: simulated MCP servers (see :mod:`.mcp`): ``{server_label: {tool_name: tool}}``
    mcp_servers: Optional[Mapping[str, Mapping[str, Any]]] = None


class CancelFlag:
    """A response's cancellation flag (any thread); setting it wakes the response's paced stream at once.

    The streamer (:mod:`.streaming`) sets :attr:`on_set` when it takes the
    response: a stream waiting for its next paced event is stepped again
    right away, sees the flag and ends the response.
    """

    __slots__ = ("_set", "on_set")

    def __init__(self) -> None:
        self._set = False
        #: Called (once, on the thread that sets the flag) when the flag is set.
        self.on_set: Optional[Callable[[], None]] = None

    def set(self) -> None:
        if not self._set:
            self._set = True
            wake = self.on_set
            if wake is not None:
                wake()

    def is_set(self) -> bool:
        return self._set


@dataclass
class SimResponse:
    """One response: its effective configuration and cancellation state."""

    id: str
    config: Dict[str, Any]
    client_event_id: Optional[str]
    cancel_event: CancelFlag = field(default_factory=CancelFlag)
    cancel_reason: Optional[str] = None
    output: List[Dict[str, Any]] = field(default_factory=list)
    started: float = 0.0

    @property
    def in_conversation(self) -> bool:
        """False for an out-of-band response (``conversation: "none"``)."""
        return bool(self.config.get("conversation", "auto") != "none")

    def cancel(self, reason: str) -> None:
        """Ask the streamer to stop; the first reason given is the one reported."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.cancel_event.set()


class SessionState:
    """The conversation of one session and the flags its parts share.

    Attributes:
        session: the effective session configuration (replaced whole on update).
        conversation_id: the ``conv_...`` id.
        closed: set once the connection is closing; nothing is sent after it.
        lock: guards everything here (re-entrant).
        items: the conversation, in order.
        audio: assistant item id -> ``[int16 chunks, rate]`` of the audio sent.
        heard: user audio item id -> the simulated transcript.
        active: the response that holds the conversation, if any.
        audio_sent: assistant audio was sent (the voice is then fixed).
    """

    def __init__(self, session: Dict[str, Any], conversation_id: str) -> None:
        self.session = session
        self.conversation_id = conversation_id
        self.closed = threading.Event()
        self.lock = threading.RLock()
        self.items: List[Dict[str, Any]] = []
        self.audio: Dict[str, List[Any]] = {}
        self.heard: Dict[str, str] = {}
        self.active: Optional[SimResponse] = None
        self.audio_sent = False

    def find(self, item_id: Any) -> int:
        """The index of the item with id ``item_id``, or -1 (lock held)."""
        for index, item in enumerate(self.items):
            if item["id"] == item_id:
                return index
        return -1

    def last_item_id(self) -> Optional[str]:
        """The id of the last item of the conversation, or None (lock held)."""
        return str(self.items[-1]["id"]) if self.items else None

