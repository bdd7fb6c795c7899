"""The client's side of the session: what it sends, and what it believes the server runs.

:class:`SessionControl` does for :class:`~realtime_sync.client.RealtimeClient`
what ``update_session``, ``connect`` and ``get_turn_detection_type`` need:

* :meth:`~SessionControl.update` checks settings of either spelling
  (:class:`~.settings.SessionSettings`), stores them, points the conversation
  at any audio format they name, and when connected sends a
  ``session.update`` with exactly the settings given.
* :meth:`~SessionControl.connected` sends the ``session.update`` of a new
  connection: on beta every setting (the reference client's behaviour), on
  GA only what the caller set, so the server's defaults stand.
* :meth:`~SessionControl.server_event` reads ``session.created`` /
  ``session.updated`` (either dialect, with
  :func:`realtime_sync.dialects.effective_session`) and ``error`` events
  naming a ``session.update``, so :meth:`~SessionControl.turn_detection_type`
  answers from the server's session, or from a change on its way to it.

When turn detection switches on or off, the input audio kept for the other
mode is dropped (:meth:`InputAudio.mode_changed <.input_audio.InputAudio.mode_changed>`).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

from ..api import RealtimeAPI, generate_id
from ..dialects import effective_session
from .effective import EffectiveSession
from .input_audio import InputAudio
from .settings import SessionSettings, turn_detection_kind
from .tools import ToolBox

__all__ = ["SessionControl"]

Event = Dict[str, Any]


class SessionControl:
    """Session settings out, the effective session in. Thread-safe where the parts are.

    Args:
        settings: the stored settings.
        realtime: the socket layer (its ``protocol`` and ``is_connected()``).
        send: the client's sender, ``send(event_type, data)``.
        tools: the registered tools (their definitions join ``tools``).
        input_audio: told when turn detection switches on or off.
        apply_formats: points the conversation at the formats a (flat) session names.
    """

    def __init__(
        self,
        settings: SessionSettings,
        realtime: RealtimeAPI,
        send: Callable[[str, Event], Any],
        tools: ToolBox,
        input_audio: InputAudio,
        apply_formats: Callable[[Dict[str, Any]], None],
    ) -> None:
        self._settings = settings
        self._realtime = realtime
        self._send = send
        self._tools = tools
        self._input_audio = input_audio
        self._apply_formats = apply_formats
        self.effective = EffectiveSession()

    def turn_detection_type(self) -> Optional[str]:
        """The turn detection in force: ``"server_vad"``, ``"semantic_vad"``..., or ``None`` (manual turns).

        While connected: the newest unanswered ``session.update`` that sets
        it, else the server's session. Otherwise, or before the server said:
        the stored setting; on GA, when the caller never set it, the GA
        server's default (server VAD).
        """
        protocol = self._realtime.protocol
        if self._realtime.is_connected():
            known, value = self.effective.value("turn_detection_type")
            if known:
                return value if isinstance(value, str) else None
        if protocol != "beta" and "turn_detection" not in self._settings.explicit:
            return "server_vad"
        return turn_detection_kind(self._settings.config.get("turn_detection"))

    def update(self, config: Mapping[str, Any]) -> None:
        """``update_session(**config)``: check, store, apply formats, send what was given (all when empty).

        Raises:
            ConfigurationError: see :meth:`SessionSettings.check <.settings.SessionSettings.check>`;
                nothing is stored or sent then.
        """
        checked = self._settings.check(config, self._tools.table())
        with self._turn_mode():
            self._settings.update(checked)
        self._apply_formats(checked)
        if not self._realtime.is_connected():
            return
        registered = self._tools.definitions()
        if config:
            self._send_session(self._settings.payload(registered, checked))
        else:
            self._send_session(self._settings.connect_payload(self._realtime.protocol, registered, resend=True))

    def connected(self) -> None:
        """A new connection is open: forget the old session, send this one's ``session.update``."""
        with self._turn_mode():
            self.effective.restart()
        self._send_session(self._settings.connect_payload(self._realtime.protocol, self._tools.definitions()))

    def server_event(self, event: Event) -> None:
        """Every server event, as it came off the wire (receive thread)."""
        event_type = event.get("type")
        if event_type == "session.created" or event_type == "session.updated":
            session = event.get("session")
            with self._turn_mode():
                self.effective.answered(event_type, effective_session(session) if isinstance(session, dict) else None)
        elif event_type == "error":
            error = event.get("error")
            if isinstance(error, dict) and error.get("event_id") is not None:
                with self._turn_mode():  # a refused session.update no longer decides the turn mode
                    self.effective.rejected(error.get("event_id"))

    def _send_session(self, session: Dict[str, Any]) -> None:
        """Send ``session.update``, noted first as unanswered (its answer may beat the return)."""
        event_id = generate_id("evt_")
        with self._turn_mode():
            self.effective.sending(event_id, effective_session(session))
        try:
            self._send("session.update", {"event_id": event_id, "session": session})
        except BaseException:
            with self._turn_mode():
                self.effective.rejected(event_id)
            raise

    @contextlib.contextmanager
    def _turn_mode(self) -> Iterator[None]:
        """Around a change that may switch turn detection on or off: drop the other mode's audio."""
        was_vad = self.turn_detection_type() is not None
        yield
        if was_vad != (self.turn_detection_type() is not None):
            self._input_audio.mode_changed()
