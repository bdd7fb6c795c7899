"""Request handles and the response queue.

Every request the client makes on the wire is known by the ``event_id`` it is
sent with, and that id is generated *before* sending, so a handle can be
registered under it first: a server ``error`` naming the id then finds its
request whatever thread sent it (no thread-local state).

* :class:`Ask` -- the handle of one :meth:`RealtimeClient.ask
  <realtime_sync.client.RealtimeClient.ask>`: a :class:`~realtime_sync.events.Waiter`
  resolved with the final ``response`` dict, or failed with the error that
  ended the exchange.
* :class:`Ticket` -- one ``response.create`` request: queued, in flight (sent,
  waiting for ``response.created``) or active (until ``response.done``).
* :class:`ResponseQueue` -- keeps at most one response requested or active
  at a time: a request made while one is busy waits in a queue, which the end
  of the active response drains, so no caller ever blocks and the server never
  sees two at once. It recovers from a ``response.done`` that never comes
  (see :meth:`ResponseQueue.server_says_inactive`, the answer timeout and
  :meth:`ResponseQueue.reset`).
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from .._transport.failures import close_detail
from ..api import generate_id
from ..errors import ConnectionClosedError, NotConnectedError, RealtimeError, RealtimeTimeoutError, ServerError
from ..events import Waiter

__all__ = ["Ask", "Ticket", "ResponseQueue", "pick_reply", "closed_error", "ACTIVE_RESPONSE_CODE", "NOT_ACTIVE_CODE"]

logger = logging.getLogger(__name__)

#: The server's error code for a ``response.create`` sent while a response is active.
ACTIVE_RESPONSE_CODE = "conversation_already_has_active_response"
#: The server's error code for a ``response.cancel`` when no response is active.
NOT_ACTIVE_CODE = "response_cancel_not_active"

#: ``send(event_type, data, handle)``: the client's way to send one client event.
Sender = Callable[[str, Dict[str, Any], Optional["Ask"]], Any]


class Ask(Waiter):
    """The handle of one ``ask()``, resolved with its final ``response`` dict.

    Every event sent for it is registered under its id in the record of sent
    events, so a server ``error`` naming any of them fails it.
    """

    __slots__ = ()

    def result(self, timeout: Optional[float], what: str, text: str) -> Dict[str, Any]:
        """Wait up to ``timeout`` seconds, then :meth:`response`.

        Raises:
            RealtimeTimeoutError: not settled in time; says what waited (``what``
                for the reply to ``text``) and how long.
        """
        if not self.wait(timeout):
            shown = repr(text if len(text) <= 40 else text[:37] + "...")
            raise RealtimeTimeoutError(
                f"{what} waited {timeout:g} s for the reply to {shown} and it did not finish "
                "(the response goes on; cancel_response() stops it, or pass a longer timeout)"
            )
        return self.response()

    def response(self) -> Dict[str, Any]:
        """The final response of a settled ask; raises the error that ended it.

        Raises:
            ServerError: the response failed (its ``status_details.error``), or
                the server rejected an event sent for the ask.
            RealtimeError: the error the ask was failed with.
        """
        if self.error is not None:
            raise self.error
        response: Dict[str, Any] = self.payload or {}
        if response.get("status") == "failed":
            details = response.get("status_details") or {}
            error = details.get("error") if isinstance(details, dict) else None
            if not isinstance(error, dict):
                error = {"type": "response_failed", "message": "the response failed"}
            raise ServerError(dict(error))
        return response


class Ticket:
    """One ``response.create`` request; its ``event_id`` is chosen before it is sent."""

    __slots__ = ("event_id", "ask", "options", "timer")

    def __init__(self, ask: Optional[Ask] = None, options: Optional[Dict[str, Any]] = None) -> None:
        self.event_id = generate_id("evt_")
        self.ask = ask
        self.options = options
        self.timer: Optional[threading.Timer] = None

    def __repr__(self) -> str:
        return f"<Ticket {self.event_id}>"


class ResponseQueue:
    """At most one response requested or active; later requests wait here.

    Args:
        send: sends one client event (``send(event_type, data, handle)``).
        answer_timeout: seconds a sent ``response.create`` may go without
            ``response.created`` (or an ``error``) before the queue stops
            waiting for it and moves on; ``None`` waits for ever.

    Thread-safe; sends happen outside the lock.
    """

    def __init__(self, send: Sender, *, answer_timeout: Optional[float] = 30.0) -> None:
        self._send = send
        self.answer_timeout = answer_timeout
        self._lock = threading.Lock()
        self._live = False
        self._in_flight: "collections.OrderedDict[str, Ticket]" = collections.OrderedDict()
        self._active: Optional[str] = None  # "" while the server's id is unknown
        self._active_ticket: Optional[Ticket] = None
        self._queued: Deque[Ticket] = collections.deque()

    # -- life cycle -------------------------------------------------------------

    def open(self) -> None:
        """A connection begins: accept requests."""
        with self._lock:
            self._forget_all()
            self._live = True

    def close(self) -> None:
        """The connection ended: forget every request (their asks are failed by the client)."""
        with self._lock:
            self._live = False
            self._forget_all()

    def _forget_all(self) -> None:
        for ticket in self._in_flight.values():
            _stop_timer(ticket)
        self._in_flight.clear()
        self._queued.clear()
        self._active = None
        self._active_ticket = None

    # -- state ------------------------------------------------------------------

    def busy(self) -> bool:
        """Whether a response is requested or active."""
        with self._lock:
            return self._busy()

    def _busy(self) -> bool:
        return bool(self._in_flight) or self._active is not None

    def active_response_id(self) -> Optional[str]:
        """The id of the active response, or ``None``."""
        return self._active or None

    # -- requests ---------------------------------------------------------------

    def request(self, ticket: Ticket, *, front: bool = False) -> bool:
        """Send ``response.create`` for ``ticket`` now (``True``) or queue it (``False``).

        ``front`` puts it before the other queued requests (a tool follow-up).

        Raises:
            NotConnectedError: no connection.
            RealtimeError: the send failed (the ticket is dropped; the queue is not left busy).
        """
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            if self._busy():
                if front:
                    self._queued.appendleft(ticket)
                else:
                    self._queued.append(ticket)
                return False
            self._in_flight[ticket.event_id] = ticket
        self._send_ticket(ticket)
        return True

    def drain(self) -> None:
        """Send the next queued request if nothing is busy (receive thread, tool worker)."""
        with self._lock:
            if not self._live or not self._queued or self._busy():
                return
            ticket = self._queued.popleft()
            self._in_flight[ticket.event_id] = ticket
        try:
            self._send_ticket(ticket)
        except RealtimeError as exc:
            logger.warning("could not send the queued response.create: %s", exc)
            if ticket.ask is not None:
                ticket.ask.fail(exc)

    def _send_ticket(self, ticket: Ticket) -> None:
        data: Dict[str, Any] = {"event_id": ticket.event_id}
        if ticket.options:
            data["response"] = ticket.options
        try:
            self._send("response.create", data, ticket.ask)
        except BaseException:
            with self._lock:  # not written: it must not keep the queue busy
                self._in_flight.pop(ticket.event_id, None)
            raise
        if self.answer_timeout is not None:
            timer = threading.Timer(self.answer_timeout, self._unanswered, args=(ticket,))
            timer.daemon = True
            timer.name = "realtime-sync-response-timeout"
            with self._lock:
                if ticket.event_id in self._in_flight:
                    ticket.timer = timer
                    timer.start()

    def _unanswered(self, ticket: Ticket) -> None:
        """Timer thread: a ``response.create`` got no answer in time; stop waiting for it."""
        with self._lock:
            if self._in_flight.pop(ticket.event_id, None) is None:
                return
            ticket.timer = None
        logger.warning(
            "response.create %s got no response.created within %g s; moving on",
            ticket.event_id,
            self.answer_timeout,
        )
        if ticket.ask is not None:
            ticket.ask.fail(
                RealtimeTimeoutError(
                    f"the server did not start the requested response within {self.answer_timeout:g} s "
                    f"(response.create {ticket.event_id} got no response.created)"
                )
            )
        self.drain()

    # -- server events ------------------------------------------------------------

    def created(self, response_id: Any) -> Optional[Ticket]:
        """``response.created``: the oldest request in flight becomes the active response."""
        with self._lock:
            ticket = self._in_flight.popitem(last=False)[1] if self._in_flight else None
            if ticket is not None:
                _stop_timer(ticket)
            self._active = response_id if isinstance(response_id, str) else ""
            self._active_ticket = ticket
        return ticket

    def done(self, response_id: Any) -> Optional[Ticket]:
        """``response.done``: end the active response; return its ticket (if it was ours)."""
        with self._lock:
            if self._active is None or self._active not in (response_id, ""):
                return None
            ticket = self._active_ticket
            self._active = None
            self._active_ticket = None
        return ticket

    def rejected(self, event_id: str, code: Optional[str]) -> Tuple[Optional[Ticket], bool]:
        """The server answered ``event_id`` with an ``error``.

        Returns the request it names (or ``None``) and whether it was queued
        again (sent too early, while a response was active: it goes first when
        that one ends).
        """
        with self._lock:
            ticket = self._in_flight.pop(event_id, None)
            if ticket is not None:
                _stop_timer(ticket)
            elif self._active_ticket is not None and self._active_ticket.event_id == event_id:
                ticket = self._active_ticket
                self._active_ticket = None
            if ticket is not None and code == ACTIVE_RESPONSE_CODE and self._live:
                self._queued.appendleft(ticket)
                if self._active is None:
                    # The server runs a response this queue does not know of (after
                    # reset(), or one started around the client): hold the queue until
                    # a response.done, instead of resending at once, again and again.
                    self._active = ""
                return ticket, True
        return ticket, False

    def server_says_inactive(self) -> Optional[Ticket]:
        """The server said no response is active (``response_cancel_not_active``).

        A response the client still holds active lost its ``response.done``:
        forget it, so later requests are not queued behind it for ever. Returns
        its ticket. Requests in flight are kept (their ``response.created`` may
        still come).
        """
        with self._lock:
            if self._active is None:
                return None
            logger.warning(
                "the server says no response is active, but response.done for %s never came; moving on",
                self._active or "the active response",
            )
            ticket = self._active_ticket
            self._active = None
            self._active_ticket = None
        return ticket

    def cancel(self) -> None:
        """Drop the queued requests (their asks get an empty cancelled response) and
        send ``response.cancel`` if a response is requested or active."""
        with self._lock:
            dropped = list(self._queued)
            self._queued.clear()
            busy = self._busy()
        for ticket in dropped:
            if ticket.ask is not None:
                ticket.ask.resolve({"status": "cancelled", "output": []})
        if busy:
            self._send("response.cancel", {}, None)

    def reset(self) -> int:
        """Forget every request, sent, active or queued, and the active response.

        For a server that never ends a response: the next request is sent at
        once. The asks waiting on them fail. Returns how many were forgotten.
        """
        with self._lock:
            tickets = list(self._in_flight.values()) + list(self._queued)
            if self._active_ticket is not None:
                tickets.append(self._active_ticket)
            count = len(tickets) + (1 if self._active is not None and self._active_ticket is None else 0)
            self._forget_all()
        error = RealtimeError("the response was abandoned by reset_responses()")
        for ticket in tickets:
            if ticket.ask is not None:
                ticket.ask.fail(error)
        return count


def _stop_timer(ticket: Ticket) -> None:
    if ticket.timer is not None:
        ticket.timer.cancel()
        ticket.timer = None


def pick_reply(response: Dict[str, Any], get_item: Callable[[str], Optional[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
    """The item ``ask()`` returns for a finished ``response``.

    The last assistant message of the response's output (the live conversation
    item when there is one), else its last item, else ``None``.
    """
    items: List[Dict[str, Any]] = []
    output: List[Any] = response.get("output") or []
    for entry in output:
        entry_id = entry.get("id") if isinstance(entry, dict) else entry
        live = get_item(entry_id) if isinstance(entry_id, str) else None
        if live is not None:
            items.append(live)
        elif isinstance(entry, dict):
            items.append(entry)
    replies = [item for item in items if item.get("type") == "message" and item.get("role") == "assistant"]
    if replies:
        return replies[-1]
    return items[-1] if items else None


def closed_error(payload: Any, *, reconnecting: bool = False) -> ConnectionClosedError:
    """The error that waits and requests of a connection that ended raise (``payload``: the ``close`` payload).

    It carries the close code and reason, or the reason alone when the
    connection ended without a close frame (reset, ping timeout).
    """
    code = payload.get("code") if isinstance(payload, dict) else None
    reason = payload.get("reason") if isinstance(payload, dict) else None
    note = "; the client is reconnecting, and requests in flight are not sent again" if reconnecting else ""
    return ConnectionClosedError(
        f"the connection to the Realtime server closed{close_detail(code, reason)}{note}", code=code, reason=reason
    )
