"""RealtimeClient's blocking helpers and events queue (a mixin of :class:`realtime_sync.client.RealtimeClient`).

Every helper registers its waiter before anything it waits for can happen,
sleeps on a :class:`threading.Event`, and is failed with
:class:`~realtime_sync.errors.ConnectionClosedError` when the connection ends.
"""

from __future__ import annotations

import queue
from typing import Any, Dict, List, Optional, Tuple

from ._client_support import _CLIENT_EVENTS, Item, _Ask, _ClientBase, _EventQueue, _Waiter
from .errors import ConfigurationError, NotConnectedError, ServerError

__all__: List[str] = []


class _WaitsMixin(_ClientBase):
    """``wait_for_*``, ``ask`` and ``events()``."""

    def wait_for_session_created(self, timeout: Optional[float] = None) -> Optional[bool]:
        """Block until the server's ``session.created`` (at once if already there).

        Returns:
            ``True``, or ``None`` when ``timeout`` seconds ran out.

        Raises:
            NotConnectedError: not connected.
            ConnectionClosedError: the connection ended while waiting.
            RuntimeError: called from inside a callback (the receive thread).
        """
        result: Optional[bool] = self._wait("_session.created", timeout, "wait_for_session_created")
        return result

    def wait_for_next_item(self, timeout: Optional[float] = None) -> Optional[Item]:
        """Block until the next item is appended to the conversation and return it.

        Returns ``None`` on timeout; raises like :meth:`wait_for_session_created`.
        """
        payload = self._wait("conversation.item.appended", timeout, "wait_for_next_item")
        return payload["item"] if payload is not None else None

    def wait_for_next_completed_item(self, timeout: Optional[float] = None) -> Optional[Item]:
        """Block until the next item is completed and return it.

        Returns ``None`` on timeout; raises like :meth:`wait_for_session_created`.
        """
        payload = self._wait("conversation.item.completed", timeout, "wait_for_next_completed_item")
        return payload["item"] if payload is not None else None

    def ask(self, text: str, timeout: Optional[float] = 60.0) -> Optional[Item]:
        """Send ``text`` as a user message and return the finished assistant item.

        The notebook helper: it sends the message, requests a response (queued
        behind an active one), follows automatic tool calls to the response
        that comes after them, and returns the last assistant message of the
        final response, with ``formatted`` ``text``, ``transcript`` and
        ``audio`` complete (or the response's last item when it holds no
        assistant message). A cancelled response still returns its partial item.

        Args:
            text: the user's message.
            timeout: seconds to wait for the whole exchange; ``None`` for ever.

        Returns:
            The item, or ``None`` if ``timeout`` ran out (the response goes
            on: :meth:`cancel_response` stops it) or the response produced no
            item.

        Raises:
            ServerError: the server rejected the message or the response, or
                the response failed.
            ConnectionClosedError: the connection ended while waiting.
            NotConnectedError: not connected.
            RuntimeError: called from inside a callback (the receive thread).
        """
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a str, got {type(text).__name__}")
        self._check_can_block("ask")
        ask = _Ask()
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            self._asks.add(ask)
        try:
            self._send_user_message([{"type": "input_text", "text": text}], ask)
            finished = ask.wait(timeout)
        finally:
            with self._lock:
                self._asks.discard(ask)
        if not finished:
            return None
        if ask.error is not None:
            raise ask.error
        response: Dict[str, Any] = ask.value or {}
        if response.get("status") == "failed":
            details = response.get("status_details") or {}
            error = details.get("error") if isinstance(details, dict) else None
            if not isinstance(error, dict):
                error = {"type": "response_failed", "message": "the response failed"}
            raise ServerError(dict(error))
        return self._pick_reply(response)

    def _pick_reply(self, response: Dict[str, Any]) -> Optional[Item]:
        output = response.get("output") or []
        items: List[Item] = []
        for entry in output:
            entry_id = entry.get("id") if isinstance(entry, dict) else entry
            live = self.conversation.get_item(entry_id) if isinstance(entry_id, str) else None
            if live is not None:
                items.append(live)
            elif isinstance(entry, dict):
                items.append(entry)
        for item in reversed(items):
            if item.get("type") == "message" and item.get("role") == "assistant":
                return item
        return items[-1] if items else None

    def _check_can_block(self, what: str) -> None:
        if self._is_dispatching_thread():
            raise RuntimeError(
                f"{what}() was called on the thread that delivers this client's events "
                "(from inside a callback); it would wait for ever. Call it from another "
                "thread, or react to the event in a callback instead."
            )

    def _wait(self, key: str, timeout: Optional[float], what: str) -> Any:
        self._check_can_block(what)
        waiter = _Waiter()
        with self._lock:
            if not self._live:
                raise NotConnectedError("not connected; call connect() first")
            if key == "_session.created" and self._session_created:
                return True
            self._client_waiters.setdefault(key, []).append(waiter)
        if not waiter.wait(timeout):
            with self._lock:
                group = self._client_waiters.get(key)
                if group is not None and waiter in group:
                    group.remove(waiter)
                    if not group:
                        del self._client_waiters[key]
        if waiter.error is not None:
            raise waiter.error
        return waiter.value

    def wait_for_next(self, name: str, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """Block until the next event ``name`` this client dispatches, and return its payload.

        As :meth:`EventHandler.wait_for_next <realtime_sync.events.EventHandler.wait_for_next>`
        (``None`` on timeout, ``RuntimeError`` from inside a callback), and
        while connected it also raises
        :class:`~realtime_sync.errors.ConnectionClosedError` when the connection
        ends (except when waiting for ``"close"`` itself, which returns the
        close payload). Wire events are waited for on :attr:`realtime`
        (``client.realtime.wait_for_next("server.response.done")``).
        """
        if not isinstance(name, str):
            raise TypeError(f"event name must be a str, not {type(name).__name__}")
        with self._lock:
            live = self._live
        if not live:
            return super().wait_for_next(name, timeout)
        payload: Optional[Dict[str, Any]] = self._wait(name, timeout, "wait_for_next")
        return payload

    def events(
        self, maxsize: int = 1000, *, include_realtime_events: bool = False
    ) -> "queue.Queue[Tuple[str, Any]]":
        """A thread-safe queue of ``(name, payload)`` for a GUI or other thread to pull.

        The client puts every client-level event in it (``conversation.updated``,
        ``conversation.item.appended``, ``conversation.item.completed``,
        ``conversation.interrupted``, ``error``, ``close``, and with
        ``include_realtime_events`` also ``realtime.event``). The queue is
        bounded by ``maxsize``: when the reader falls behind, the oldest
        entries are dropped (counted in :attr:`events_dropped`, with a
        warning) so the receive thread never blocks. Payloads hold the live
        item dicts: read ``item["formatted"]`` for the current state.

        The first call creates the queue; later calls return the same queue.
        """
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigurationError(f"maxsize must be a positive int, got {maxsize!r}")
        with self._lock:
            if self._event_queue is None:
                names = _CLIENT_EVENTS + (("realtime.event",) if include_realtime_events else ())
                self._event_queue = _EventQueue(maxsize, names)
            return self._event_queue.queue

    @property
    def events_dropped(self) -> int:
        """How many events the :meth:`events` queue dropped because it was full."""
        event_queue = self._event_queue
        return event_queue.dropped if event_queue is not None else 0
