"""Automatic reconnection: a policy, and the worker that follows it.

:class:`ReconnectPolicy` says when a connection that ended is reconnected
and how often and how fast it is tried: an unexpected close (a network
error or a ping timeout: no close code; or close code 1001, 1006, 1011,
1012, 1013 or 1014, the codes of a server going away, failing or
restarting) or the end of a session that hit its maximum duration (``error``
code ``session_expired``) is retried, up to ``attempts`` times,
with exponential backoff and jitter, capped at ``max_delay`` seconds. A
refused key (HTTP 401/403) or a handshake the server refuses with another 4xx
status (a model that does not exist...) is never retried, nor is a close
that says the client is at fault or that retrying would not help (1002,
1003, 1007, 1008, 1009, 1010, and the application codes 4000-4999, such as
4000 for a retired protocol).

:class:`Reconnector` runs the attempts on its own thread
(``realtime-sync-reconnect``), never on the receive thread. It is given what
to do as plain callables: ``connect()`` opens a new connection and sends the
session settings (the client's :meth:`~realtime_sync.client.RealtimeClient.connect`,
which includes the registered tools), ``replay(history)`` creates the old
conversation in the new session, ``emit`` dispatches ``reconnecting`` /
``reconnected``, and ``give_up(payload)`` ends the client's connection for
good with a ``close`` payload naming the last cause. Nothing in flight when
the socket dropped is sent again: the client fails those requests before
reconnecting. While it reconnects (from the drop until ``reconnected``, the
replay included) only the worker sends: :meth:`Reconnector.refusal` gives the
:class:`~realtime_sync.errors.ReconnectingError` every other sender gets, and
:meth:`Reconnector.wait` lets a blocking call wait for the outcome.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    HandshakeError,
    NotConnectedError,
    RealtimeTimeoutError,
    ReconnectingError,
)

__all__ = ["ReconnectPolicy", "Reconnector"]

logger = logging.getLogger(__name__)

#: The ``error`` code of a session that hit its maximum duration.
SESSION_EXPIRED_CODE = "session_expired"

#: Close codes worth a new connection: going away, abnormal end, server error,
#: service restart, try again later, bad gateway (no code at all counts too).
RETRIED_CLOSE_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 1014})


class ReconnectPolicy:
    """When and how a :class:`~realtime_sync.client.RealtimeClient` reconnects.

    Args:
        attempts: how many connections are tried after one ends (>= 1).
        initial_delay: seconds before the first attempt.
        max_delay: the cap on the delay between attempts, in seconds.
        multiplier: each delay is the previous one times this (>= 1).
        jitter: each delay is changed by up to this fraction, at random
            (0 <= jitter < 1), so many clients do not retry in step.
        timeout: seconds each attempt may take (handshake, then the replay of
            the conversation).
    """

    def __init__(
        self,
        attempts: int = 5,
        *,
        initial_delay: float = 0.5,
        max_delay: float = 15.0,
        multiplier: float = 2.0,
        jitter: float = 0.2,
        timeout: float = 10.0,
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigurationError(f"attempts must be an int >= 1, got {attempts!r}")
        for name, value in (("initial_delay", initial_delay), ("max_delay", max_delay)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if not isinstance(multiplier, (int, float)) or multiplier < 1:
            raise ConfigurationError(f"multiplier must be >= 1, got {multiplier!r}")
        if not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
            raise ConfigurationError(f"jitter must be in [0, 1), got {jitter!r}")
        if not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.attempts = attempts
        self.initial_delay = float(initial_delay)
        self.max_delay = float(max_delay)
        self.multiplier = float(multiplier)
        self.jitter = float(jitter)
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return (
            f"ReconnectPolicy(attempts={self.attempts}, initial_delay={self.initial_delay:g}, "
            f"max_delay={self.max_delay:g}, multiplier={self.multiplier:g}, jitter={self.jitter:g})"
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based): backoff, cap, then jitter."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        if self.jitter:
            base *= 1 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, base)

    def applies_to(self, close: Dict[str, Any], expired: bool) -> bool:
        """Whether a connection that ended with ``close`` is reconnected (see the module docstring)."""
        if expired:
            return True
        code = close.get("code")
        return bool(close.get("error")) and (code is None or code in RETRIED_CLOSE_CODES)

    def retryable(self, exc: BaseException) -> bool:
        """Whether a failed attempt may be tried again (never for refused credentials or a 4xx)."""
        if isinstance(exc, AuthenticationError):
            return False
        if isinstance(exc, HandshakeError):
            return not 400 <= exc.status_code < 500 or exc.status_code in (408, 429)
        return True


class Reconnector:
    """Runs the reconnection attempts of one client (its own thread).

    Args:
        policy: the :class:`ReconnectPolicy`.
        connect: opens a new connection and sends the session settings
            (``connect(timeout)``); raises on failure.
        replay: creates ``history`` in the new session and waits for the
            server (``replay(history, timeout=...)``); raises on failure.
        drop: closes a new connection whose replay failed, before the next attempt.
        snapshot: the conversation's history at the moment of a drop.
        end: ends the client's connection state (``end(close, reconnecting)``);
            ``False`` when it had ended already.
        emit: dispatches a client-level event (``reconnecting``,
            ``reconnected``, and the final ``close`` when every attempt failed).
    """

    def __init__(
        self,
        policy: ReconnectPolicy,
        *,
        connect: Callable[[float], Any],
        replay: Callable[..., Any],
        drop: Callable[[], None],
        snapshot: Callable[[], List[Dict[str, Any]]],
        end: Callable[[Dict[str, Any], bool], bool],
        emit: Callable[[str, Any], None],
    ) -> None:
        self.policy = policy
        self._connect = connect
        self._replay = replay
        self._drop = drop
        self._snapshot = snapshot
        self._end = end
        self._emit = emit
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        # True while a worker is making attempts (not while it dispatches the outcome,
        # when a new drop must start a new worker)
        self._attempting = False
        #: True from a drop the policy retries until the client is reconnected
        #: or gives up: connections ending meanwhile dispatch no ``close``.
        self.active = False
        #: The attempt under way and what ended the last connection (for messages).
        self.attempt = 0
        self.cause = ""
        #: The ``close`` reason of the last reconnection that gave up, else ``None``.
        self.failure: Optional[str] = None
        self._settled = threading.Event()  # set while not reconnecting
        self._settled.set()

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def handle_close(self, close: Dict[str, Any], expired: bool, cause: str) -> bool:
        """The socket ended (receive thread): reconnect if the policy says so; ``False`` to report it.

        While reconnecting, a connection that ends (a failed attempt) is not
        reported either. Otherwise the history is taken before anything is
        cleared, the client's connection state is ended (failing what was in
        flight) and the attempts start.
        """
        if not (self.active or self.policy.applies_to(close, expired)):
            return False
        history = self._snapshot()
        if self._end(close, True):
            self.start(history, close, "the session expired" if expired else cause)
        return True

    def start(self, history: List[Dict[str, Any]], close: Dict[str, Any], cause: str) -> bool:
        """Begin reconnecting after ``close`` (any thread); ``False`` if attempts are under way."""
        with self._lock:
            if self._attempting:
                return False
            self._attempting = True
            self.active = True
            self.attempt, self.cause, self.failure = 1, cause, None
            self._settled.clear()
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run,
                args=(history, close, cause, self._stop),
                name="realtime-sync-reconnect",
                daemon=True,
            )
            self._thread.start()
        return True

    def stop(self, join: bool = True) -> bool:
        """Stop reconnecting (``disconnect()``); ``True`` if a drop was being reconnected.

        Joins the worker (bounded by the policy's timeout) unless called on it
        or ``join`` is false (a callback: the worker may be waiting for the
        events that thread delivers; it ends once the connection is closed).
        """
        with self._lock:
            thread = self._thread
            self._stop.set()
            was_active = self.active
            self.active = False
            self._settled.set()
        if join and thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(self.policy.timeout + 5.0)
        return was_active

    def is_worker_thread(self) -> bool:
        return self._thread is not None and self._thread is threading.current_thread()

    def wait(self, timeout: Optional[float]) -> bool:
        """Block until no reconnection is under way (reconnected, given up or stopped); ``False`` on timeout."""
        return self._settled.wait(timeout)

    def time_left(self, what: str, timeout: Optional[float]) -> Optional[float]:
        """For a blocking send (``ask()``): wait out a reconnection under way within ``timeout``.

        Returns the part of ``timeout`` left (``None``: no limit).

        Raises:
            RealtimeTimeoutError: still reconnecting when ``timeout`` ran out.
            NotConnectedError: the reconnection failed.
        """
        if self.refusal(what) is None:
            return timeout
        started = time.monotonic()
        if not self.wait(timeout):
            raise RealtimeTimeoutError(
                f"{what} waited {timeout:g} s for the client to reconnect (attempt {self.attempt} of "
                f"{self.policy.attempts}, after: {self.cause}); nothing was sent"
            )
        if self.failure is not None:
            raise NotConnectedError(f"{what} sent nothing: {self.failure}")
        return None if timeout is None else max(0.0, timeout - (time.monotonic() - started))

    def refusal(self, what: str) -> Optional[ReconnectingError]:
        """The error for ``what`` (``"send 'response.create'"``) while reconnecting, off the worker; else ``None``."""
        if not self.active or self.is_worker_thread():
            return None
        attempt, attempts, cause = self.attempt, self.policy.attempts, self.cause
        return ReconnectingError(
            f"cannot {what}: the client is reconnecting (attempt {attempt} of {attempts}, after: {cause}); "
            "nothing was sent. Send again after the 'reconnected' event (wait_for_reconnection() waits for it).",
            attempt=attempt,
            attempts=attempts,
            cause=cause,
        )

    def _run(self, history: List[Dict[str, Any]], close: Dict[str, Any], cause: str, stop: threading.Event) -> None:
        try:
            outcome = self._attempts(history, close, cause, stop)
        finally:
            with self._lock:
                self._attempting = False
        if outcome is not None:
            self._emit(*outcome)

    def _attempts(
        self, history: List[Dict[str, Any]], close: Dict[str, Any], cause: str, stop: threading.Event
    ) -> Optional[Tuple[str, Dict[str, Any]]]:
        """Make the attempts; the event to dispatch once they are over (``None`` when stopped)."""
        policy = self.policy
        last_error: Optional[BaseException] = None
        for attempt in range(1, policy.attempts + 1):
            self.attempt = attempt
            delay = policy.delay(attempt)
            self._emit(
                "reconnecting",
                {"attempt": attempt, "attempts": policy.attempts, "delay": delay, "cause": cause, "close": close},
            )
            if stop.wait(delay):
                return None
            try:
                self._connect(policy.timeout)
                if stop.is_set():  # disconnect() came during the handshake: close what it opened
                    self._drop()
                    return None
                try:
                    self._replay(history, timeout=policy.timeout)
                except BaseException:
                    self._drop()  # try again on a new connection
                    raise
            except Exception as exc:  # each failure is logged; the last one ends the client's connection
                last_error = exc
                if stop.is_set():
                    return None
                logger.warning("reconnection attempt %d of %d failed: %s", attempt, policy.attempts, exc)
                if not policy.retryable(exc):
                    break
                continue
            self.active = False
            self._settled.set()
            logger.info("reconnected after %s (attempt %d)", cause, attempt)
            return "reconnected", {"attempt": attempt, "cause": cause, "items": len(history)}
        if stop.is_set():
            return None
        reason = f"reconnection failed after {cause}: {last_error}" if last_error else f"reconnection failed after {cause}"
        self.failure = reason
        self.active = False
        self._settled.set()
        return "close", {"error": True, "code": close.get("code"), "reason": reason}
