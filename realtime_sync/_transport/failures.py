"""Why a connection attempt failed, as the right key-free :class:`~realtime_sync.errors.RealtimeError`.

:func:`connect_error` maps what websocket-client or the socket raised during
DNS, TCP, the proxy, TLS or the HTTP handshake to one of our exceptions with
a message that says what failed and what to try. Nothing here ever puts a
credential in a message: texts pass through the connection's
:class:`~.secrets.Redactor`, and a redirect's ``Location`` is shown with its
credentials masked.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from ..errors import (
    AuthenticationError,
    ConnectionClosedError,
    HandshakeError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
)
from .secrets import Redactor, redact_url

if TYPE_CHECKING:
    import socket
    import ssl

    import websocket
else:  # a failure comes after connect() has imported them
    from .._lazy import socket, ssl, websocket

__all__ = [
    "Attempt",
    "answer_code",
    "connect_error",
    "close_detail",
    "close_payload",
    "closed_error",
    "describe_failure",
    "server_message",
]


class Attempt:
    """What a connection attempt was, for its error messages (no credentials).

    Attributes:
        url: the URL, credentials masked.
        where: ``host:port`` of the server.
        timeout: the connect timeout in seconds, or ``None``.
        key_header: the header the key went in (``Authorization``, ``api-key``),
            or ``None`` when no key was sent.
        key_env: the environment variable the key came from, or ``None``.
        proxy: the proxy the socket went through (``http://host:port``), or ``None``.
    """

    __slots__ = ("url", "where", "timeout", "key_header", "key_env", "proxy")

    def __init__(
        self,
        url: str,
        where: str,
        timeout: Optional[float],
        *,
        key_header: Optional[str] = None,
        key_env: Optional[str] = None,
        proxy: Optional[str] = None,
    ) -> None:
        self.url = url
        self.where = where
        self.timeout = timeout
        self.key_header = key_header
        self.key_env = key_env
        self.proxy = proxy


def connect_error(
    exc: Optional[BaseException],
    attempt: Attempt,
    redactor: Redactor,
    redirect: Optional[Tuple[int, str]] = None,
) -> RealtimeError:
    """The exception ``connect()`` raises when the handshake failed with ``exc``.

    ``redirect`` is the status and ``Location`` of a redirect the server
    answered with: redirects are refused, never followed.
    """
    if redirect is not None:
        status, location = redirect
        return HandshakeError(
            f"the server at {attempt.url} redirected the handshake (HTTP {status}) to "
            f"{redact_url(redactor.text(location)) or 'nowhere'}; redirects are not followed (credentials must "
            "not travel to another address): connect to that URL directly if you trust it",
            status_code=status,
        )
    via = f" through the proxy {attempt.proxy}" if attempt.proxy else ""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        status = _status(exc)
        body_bytes = getattr(exc, "resp_body", None) or b""
        if isinstance(body_bytes, str):
            body_bytes = body_bytes.encode("utf-8", "replace")
        body = redactor.text(body_bytes.decode("utf-8", errors="replace"))
        message = server_message(body) or redactor.text(str(getattr(exc, "status_message", "") or ""))
        text = f"the server at {attempt.url} answered the handshake with HTTP {status}"
        if message:
            text += f": {message}"
        if status in (401, 403):
            return AuthenticationError(text + ". " + _key_hint(attempt), status_code=status, body=body)
        return HandshakeError(text, status_code=status, body=body)
    if isinstance(exc, websocket.WebSocketProxyException):
        return RealtimeConnectionError(
            f"the proxy {attempt.proxy or ''} failed to connect to {attempt.where}: {redactor.text(str(exc))}"
        )
    if isinstance(exc, websocket.WebSocketAddressException):
        if attempt.proxy:
            return RealtimeConnectionError(
                f"cannot resolve the proxy {attempt.proxy} (DNS lookup failed: {exc}); check the proxy setting"
            )
        host = attempt.where.rsplit(":", 1)[0]
        return RealtimeConnectionError(f"cannot resolve host {host!r} (DNS lookup failed: {exc}); check the URL and the network")
    if isinstance(exc, (websocket.WebSocketTimeoutException, socket.timeout, TimeoutError)):
        limit = "" if attempt.timeout is None else f" after {attempt.timeout:g} s"
        return RealtimeTimeoutError(
            f"timed out{limit} connecting to {attempt.url}{via}; check the URL, the network and any "
            "proxy, or pass a longer timeout"
        )
    if isinstance(exc, ssl.SSLError):
        return RealtimeConnectionError(
            f"TLS handshake with {attempt.where}{via} failed: {exc}. Check that the server speaks TLS "
            "(wss://) and that its certificate is trusted"
        )
    if isinstance(exc, ConnectionRefusedError):
        if attempt.proxy:
            return RealtimeConnectionError(
                f"connection refused by the proxy {attempt.proxy}: is the proxy running, and is its address right?"
            )
        return RealtimeConnectionError(f"connection refused by {attempt.where}: is the server running, and is the URL right?")
    if isinstance(exc, OSError):
        target = f"the proxy {attempt.proxy}" if attempt.proxy else attempt.where
        return RealtimeConnectionError(f"cannot connect to {target}: {redactor.text(str(exc))}")
    if exc is None:
        return RealtimeConnectionError(f"the connection to {attempt.url} closed during the handshake")
    return RealtimeConnectionError(f"the WebSocket handshake with {attempt.url}{via} failed: {redactor.text(str(exc))}")


def _status(exc: Optional[BaseException]) -> int:
    try:
        return int(getattr(exc, "status_code", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _key_hint(attempt: Attempt) -> str:
    if attempt.key_header is None:
        return "No API key was sent: pass api_key=... (or the header the server expects)."
    hint = f"Check the API key sent in the {attempt.key_header} header"
    if attempt.key_env:
        hint += f" (taken from the {attempt.key_env} environment variable)"
    else:
        hint += " (the api_key argument)" if attempt.key_header in ("Authorization", "api-key") else ""
    return hint + "."


def server_message(body: str) -> str:
    """The human message in an HTTP error body (OpenAI's JSON error, or the text)."""
    body = body.strip()
    if not body:
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:300]
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, dict):
            message = error.get("message") or error.get("code")
            if message:
                return str(message)[:300]
        elif isinstance(error, str):
            return error[:300]
        message = parsed.get("message")
        if message:
            return str(message)[:300]
    return body[:300]


def describe_failure(exc: BaseException, redactor: Redactor) -> str:
    """Why a read failed, in words (``connection reset by peer``, ...)."""
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, ConnectionAbortedError):
        return "connection aborted"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "read timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {redactor.text(str(exc))}"
    return redactor.text(str(exc)) or type(exc).__name__


def close_detail(code: Optional[int], reason: Optional[str]) -> str:
    """`` (code 1011: why)``, `` (why)`` without a code, or nothing: for "... closed" messages."""
    if code is not None:
        return f" (code {code}{': ' + reason if reason else ''})"
    return f" ({reason})" if reason else ""


def closed_error(url: str, payload: Dict[str, Any]) -> ConnectionClosedError:
    """The error a wait on a connection that has ended raises (``payload``: the ``close`` payload)."""
    code, reason = payload.get("code"), payload.get("reason")
    return ConnectionClosedError(f"the connection to {url} closed{close_detail(code, reason)}", code=code, reason=reason)


def close_payload(
    local_close: Optional[Tuple[int, str]],
    code: Optional[int],
    reason: Optional[str],
    closing: bool,
    end_reason: Optional[str],
) -> Dict[str, Any]:
    """The ``close`` payload of a connection that has ended.

    Args:
        local_close: ``(code, reason)`` when we closed it for a protocol fault.
        code, reason: from the server's close frame, if one came.
        closing: ``disconnect()`` (or a cancelled connect) asked to close.
        end_reason: why it ended without a close frame (reset, EOF, no pong...).
    """
    if local_close is not None:
        return {"error": True, "code": local_close[0], "reason": local_close[1]}
    if closing and code is None:
        code = 1000  # we closed it with 1000 and stopped before the echo
    error = not closing and code != 1000
    if reason is None and error:
        reason = end_reason or "the connection ended without a close frame"
    return {"error": error, "code": code, "reason": reason}


def answer_code(code: Optional[int]) -> int:
    """The code to answer a close frame with (RFC 6455 7.4: some codes may never be sent)."""
    if code is None or code in (1005, 1006, 1015):  # "no code" and local-only codes, as before
        return 1000
    if 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return code
    return 1002
