"""A fake SIP call of the simulator's REST side (:mod:`.rest`): its status, its sessions, its caller.

:meth:`.rest.SimRest.ring` makes one; the REST call control
(``accept``/``reject``/``refer``/``hangup``) moves it through its statuses
(:meth:`SimCall.act`), a WebSocket with ``?call_id=...`` attaches its session,
and :meth:`SimCall.say` / :meth:`SimCall.hang_up` play the caller.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any, Dict, List, Optional

from .checks import ClientError

__all__ = ["SimCall"]

_ENDED = ("rejected", "referred", "ended")
_ALLOWED = {"accept": ("ringing",), "reject": ("ringing",), "refer": ("accepted",), "hangup": ("ringing", "accepted")}
_STATUS = {"accept": "accepted", "reject": "rejected", "refer": "referred", "hangup": "ended"}


class SimCall:
    """A fake SIP call: rung by :meth:`SimRest.ring`, answered over REST, talked to on a WebSocket.

    Attributes:
        id: the call id (``rtc_...``).
        status: ``"ringing"``, ``"accepted"``, ``"rejected"``, ``"referred"`` or ``"ended"``.
        sip_headers: the SIP headers of the INVITE, as in the webhook.
        session: the configuration it was accepted with (a GA session request), or ``None``.
        reject_status: the SIP status of a rejection (603 when none was given).
        refer_target: where a refer sent it.
        webhook_status: the HTTP status the webhook receiver answered.
        actions: the REST actions in order (``"accept"``, ``"hangup"``...).
    """

    def __init__(self, call_id: str, sip_headers: List[Dict[str, str]]) -> None:
        self.id = call_id
        self.status = "ringing"
        self.sip_headers = sip_headers
        self.session: Optional[Dict[str, Any]] = None
        self.reject_status: Optional[int] = None
        self.refer_target: Optional[str] = None
        self.webhook_status: Optional[int] = None
        self.actions: List[str] = []
        self._cond = threading.Condition()
        self._sessions: List[Any] = []

    def __repr__(self) -> str:
        return f"<SimCall {self.id} {self.status}>"

    def wait_for(self, *statuses: str, timeout: Optional[float] = 10.0) -> bool:
        """Block until the call's status is one of ``statuses``; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.status in statuses, timeout)

    def wait_for_session(self, timeout: Optional[float] = 10.0) -> bool:
        """Block until a WebSocket has attached to the call's session; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._sessions), timeout)

    def act(self, action: str, body: Dict[str, Any]) -> None:
        """Apply a checked REST action (``accept``, ``reject``, ``refer``, ``hangup``) and its ``body``.

        Raises:
            ClientError: the call's status does not allow the action (``call_not_ringing`` / ``call_not_active``).
        """
        with self._cond:
            if self.status not in _ALLOWED[action]:
                raise ClientError("call_not_" + ("active" if action in ("refer", "hangup") else "ringing"),
                                  f"The call {self.id} is {self.status}; it cannot be {action}ed now.", None)
            if action == "accept":
                self.session = copy.deepcopy(body)
            elif action == "reject":
                self.reject_status = int(body.get("status_code", 603))
            elif action == "refer":
                self.refer_target = str(body["target_uri"])
        self._end(self._set(_STATUS[action], action))

    def _set(self, status: str, action: str) -> List[Any]:
        with self._cond:
            self.status = status
            self.actions.append(action)
            self._cond.notify_all()
            return list(self._sessions) if status in _ENDED else []

    def attach(self, session: Any) -> None:
        """A WebSocket session now serves the call (the simulator's loop thread)."""
        with self._cond:
            self._sessions.append(session)
            self._cond.notify_all()

    def _live_session(self) -> Any:
        with self._cond:
            for session in self._sessions:
                if not session.closed.is_set():
                    return session
        raise RuntimeError(f"call {self.id} has no open session (accept it and attach a client first)")

    def say(self, text: str) -> None:
        """The caller says ``text``, as the server hears a turn: a user item, then a response.

        Like server VAD: speech interrupts a response in progress (unless
        ``interrupt_response`` is false) and the turn's end creates a response
        (unless ``create_response`` is false, or turn detection is off: then
        the client decides).

        Raises:
            RuntimeError: no client is attached to the call.
        """
        session = self._live_session()
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": str(text)}]}
        with session.state.lock:
            detection = session.state.session.get("turn_detection") or {}
            active = session.state.active
            if detection and active is not None and detection.get("interrupt_response", True):
                active.cancel("turn_detected")
            session.handle(json.dumps({"type": "conversation.item.create", "item": item}))
            if detection and detection.get("create_response", True):
                session._respond_to_turn()

    def hang_up(self) -> None:
        """The caller hangs up: the call ends and its sessions close."""
        self._end(self._set("ended", "caller_hangup"))

    @staticmethod
    def _end(sessions: List[Any]) -> None:
        for session in sessions:
            session.close()  # queues the close on the simulator's loop; does not wait
