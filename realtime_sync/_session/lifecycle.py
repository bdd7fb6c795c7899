"""The life of the client's connections: open one, end it once, reconnect it.

:class:`Lifecycle` owns the connection state of one
:class:`~realtime_sync.client.RealtimeClient`: whether a connection is live,
its tag (on every waiter and request handle made while it lives), whether
``session.created`` has come, and whether its ``close`` was dispatched. It is
given the parts it resets (the conversation, the record of sent events, the
response queue, the tools, the input audio, the inbound route) and what it
needs from the client as plain callables: ``fail_waiters(tag, error)``,
``wake_session_created()``, ``emit(name, payload)`` and
``is_dispatching_thread()``. With a :class:`~.reconnect.ReconnectPolicy` it
makes and holds the :class:`~.reconnect.Reconnector`, which calls
``replay(history, timeout=...)`` and ``snapshot()`` (the client's
``restore_history`` and ``export_history``).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, TypeVar

from ..api import RealtimeAPI
from ..conversation import Conversation
from ..errors import NotConnectedError, RealtimeConnectionError
from ..recording import ClientRecording
from .control import SessionControl
from .inbound import Inbound
from .input_audio import InputAudio
from .reconnect import Reconnector, ReconnectPolicy
from .requests import ResponseQueue, closed_error
from .sent import SentEvents
from .tools import ToolBox

__all__ = ["Lifecycle"]

T = TypeVar("T")

_CLEAN_CLOSE: Dict[str, Any] = {"error": False, "code": None, "reason": None}


class Lifecycle:
    """Connects, disconnects and ends the client's connections; the state of the one live now."""

    def __init__(
        self,
        *,
        realtime: RealtimeAPI,
        model: Callable[[], Optional[str]],
        conversation: Conversation,
        sent: SentEvents,
        responses: ResponseQueue,
        tools: ToolBox,
        input_audio: InputAudio,
        inbound: Inbound,
        session_control: SessionControl,
        recording: ClientRecording,
        fail_waiters: Callable[[object, BaseException], int],
        wake_session_created: Callable[[], Any],
        emit: Callable[[str, Any], None],
        is_dispatching_thread: Callable[[], bool],
        reconnect: Optional[ReconnectPolicy],
        replay: Callable[..., Any],
        snapshot: Callable[[], List[Dict[str, Any]]],
    ) -> None:
        self._realtime = realtime
        self._model = model
        self._conversation = conversation
        self._sent = sent
        self._responses = responses
        self._tools = tools
        self._input_audio = input_audio
        self._inbound = inbound
        self._session_control = session_control
        self._recording = recording
        self._fail_waiters = fail_waiters
        self._wake_session_created = wake_session_created
        self._emit = emit
        self._is_dispatching_thread = is_dispatching_thread
        self._lock = threading.Lock()
        self._live = False
        self._close_reported = False  # a close was dispatched since the last connect()
        self._tag: object = None  # this connection's tag on every waiter and handle
        self._session_created = False
        self.reconnector: Optional[Reconnector] = None
        if reconnect is not None:
            self.reconnector = Reconnector(
                reconnect, connect=self.connect, replay=replay, drop=realtime.disconnect,
                snapshot=snapshot, end=self.end, emit=emit,
            )

    @property
    def live(self) -> bool:
        """Whether a connection is live (from :meth:`connect` until it ends)."""
        with self._lock:
            return self._live

    def tagged(self, make: Callable[[object, bool], T]) -> T:
        """``make(tag, session_created)`` under the lock, while a connection lives.

        For a waiter or request handle: made with the live connection's tag, it
        cannot miss the :meth:`end` that fails that tag's waiters.

        Raises:
            NotConnectedError: no connection is live.
        """
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            return make(self._tag, self._session_created)

    def session_created(self) -> None:
        """The server's ``session.created`` was handled (receive thread): wake its waiters."""
        with self._lock:
            self._session_created = True
        self._wake_session_created()

    def connect(self, timeout: Optional[float] = 10.0) -> bool:
        """Open a new connection (see :meth:`RealtimeClient.connect <realtime_sync.client.RealtimeClient.connect>`)."""
        reconnector = self.reconnector
        if reconnector is not None and not reconnector.is_worker_thread():
            # a connection made by hand ends an automatic reconnection
            reconnector.stop(join=not self._is_dispatching_thread())
        realtime = self._realtime
        if realtime.is_connected():
            raise RealtimeConnectionError("already connected; call disconnect() first")
        self._recording.connecting(realtime)
        with self._lock:
            unfinished = self._live
        if unfinished:  # closed by the server, "close" not handled yet: finish it first
            realtime.disconnect()
            self.end({"error": True, "code": None, "reason": None})
        self._tools.join_stopped()
        self._conversation.clear()
        self._sent.clear()
        self._input_audio.restart()
        self._responses.open()
        self._tools.open()
        with self._lock:
            self._live = True
            self._close_reported = False
            self._tag = object()
            self._session_created = False
        self._inbound.new_session()
        try:
            model = self._model()
            if model is None:
                realtime.connect(timeout=timeout)
            else:
                realtime.connect(model=model, timeout=timeout)
        except BaseException:
            with self._lock:
                self._live = False
            self._responses.close()
            self._tools.close()
            raise
        self._session_control.connected()
        return True

    def disconnect(self) -> None:
        """Close the socket and end the connection (see ``RealtimeClient.disconnect``)."""
        self._recording.disconnecting()
        reconnector = self.reconnector
        was_reconnecting = reconnector.stop(join=not self._is_dispatching_thread()) if reconnector is not None else False
        self._inbound.expired = False
        if self._realtime.is_connected():
            self._realtime.disconnect()
        ended = self.end(dict(_CLEAN_CLOSE))
        with self._lock:
            reported = self._close_reported
        if was_reconnecting and not ended and not reported:  # the drop dispatched no close: this is the end
            self._emit("close", dict(_CLEAN_CLOSE))
        self._recording.disconnected()
        self._conversation.clear()
        if not self._is_dispatching_thread():
            self._tools.join_stopped()

    def closed(self, payload: Dict[str, Any]) -> None:
        """The socket ended (receive thread): report it, or reconnect when the policy says so."""
        cause = str(closed_error(payload)).replace(" closed", " dropped", 1)
        if self.reconnector is None or not self.reconnector.handle_close(payload, self._inbound.expired, cause):
            self.end(payload)

    def end(self, payload: Dict[str, Any], reconnecting: bool = False) -> bool:
        """The connection is over: fail waiters and requests, stop the tools, dispatch ``close`` once.

        While reconnecting no ``close`` is dispatched. ``False`` if it had ended already.
        """
        reconnecting = reconnecting or (self.reconnector is not None and self.reconnector.active)
        with self._lock:
            if not self._live:
                return False
            self._live = False
            self._session_created = False
            tag = self._tag
        self._responses.close()
        self._tools.close()
        self._input_audio.restart()
        # Waiters for "close" itself are untagged: the close dispatch below wakes them.
        self._fail_waiters(tag, closed_error(payload, reconnecting=reconnecting))
        if not reconnecting:
            with self._lock:
                self._close_reported = True
            self._emit("close", payload)
        return True
