"""The handshake side of the simulator's server: headers, HTTP error answers, credentials in logs.

Helpers for :mod:`.server`: OpenAI-style JSON error responses for rejected
handshakes, reading repeated headers, the dialect a client asks for, the
live service's refusal of beta connections, and a ``websockets`` logger
adapter that masks credentials.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import sys
from typing import Any, Callable, List, Optional, Tuple

from websockets.datastructures import Headers
from websockets.http11 import Response as _HTTPResponse

from .config import new_id

__all__ = [
    "RedactingLogger",
    "asks_for_beta",
    "check_credentials",
    "offered_keys",
    "header_values",
    "json_error",
    "refuse_beta",
    "shutdown_socket",
]

_KEY_SUBPROTOCOL = "openai-insecure-api-key."

logger = logging.getLogger(__name__)


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]  # generic only in 3.11+ stubs
    """The ``websockets`` server logger, with credentials in logged headers masked.

    At DEBUG level websockets logs every request header, ``Authorization``
    included; the simulator's API key must not reach a log. While the
    simulator stops, the handshakes it cuts short are expected, not errors:
    some websockets versions (15 and older) log each at ERROR, so they are
    logged at DEBUG instead; so are the handshakes the simulator answers with
    an HTTP error itself (a wrong key, a refusal fault), which websockets 13
    logs at ERROR with a traceback.
    """

    _SECRET_HEADERS = ("authorization", "sec-websocket-protocol")

    def __init__(self, logger: logging.Logger, stopping: Callable[[], bool]) -> None:
        super().__init__(logger, {})
        self._stopping = stopping

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level > logging.DEBUG and msg == "opening handshake failed":
            if type(sys.exc_info()[1]).__name__ == "InvalidStatus":  # our own HTTP answer: no traceback
                level = logging.DEBUG
                kwargs.pop("exc_info", None)
            elif self._stopping():
                level = logging.DEBUG
        if (
            len(args) == 2
            and isinstance(args[0], str)
            and args[0].lower() in self._SECRET_HEADERS
            and isinstance(msg, str)
            and msg.endswith("%s: %s")
        ):
            args = (args[0], "[secure]")
        super().log(level, msg, *args, **kwargs)


def json_error(status: int, message: str, code: Optional[str]) -> Any:
    """An HTTP error response with an OpenAI-style JSON body, for a rejected handshake."""
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    data = json.dumps(body).encode("utf-8")
    headers = Headers(
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close")]
    )
    reason = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 503: "Service Unavailable"}.get(status, "Error")
    return _HTTPResponse(status, reason, headers, data)


async def refuse_beta(connection: Any) -> None:
    """Answer a beta connection as the live service does now: an ``error``, then close 4000 (loop thread)."""
    error = {
        "type": "invalid_request_error",
        "code": "beta_api_shape_disabled",
        "message": "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
        "param": None,
        "event_id": None,
    }
    try:
        await connection.send(json.dumps({"event_id": new_id("event"), "type": "error", "error": error}))
        await connection.close(4000, "beta_api_shape_disabled")
    except Exception:
        logger.debug("refusing a beta connection failed", exc_info=True)


def shutdown_socket(sock: socket.socket) -> None:
    """Shut a socket down both ways (its reader sees the end at once); errors ignored."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def header_values(headers: Headers, name: str) -> List[str]:
    """Every comma-separated value of header ``name``, over all its occurrences."""
    return [value.strip() for line in headers.get_all(name) for value in line.split(",") if value.strip()]


def asks_for_beta(headers: Headers) -> bool:
    """Whether a handshake asks for the beta dialect (``OpenAI-Beta: realtime=v1`` or its subprotocol)."""
    return "realtime=v1" in header_values(headers, "OpenAI-Beta") or "openai-beta.realtime-v1" in header_values(
        headers, "Sec-WebSocket-Protocol"
    )


def offered_keys(headers: Headers) -> List[str]:
    """The keys a handshake offers: ``Authorization: Bearer`` values and ``openai-insecure-api-key.`` subprotocols."""
    given = [value[7:].strip() for value in header_values(headers, "Authorization") if value.lower().startswith("bearer ")]
    offered = header_values(headers, "Sec-WebSocket-Protocol")
    given += [p[len(_KEY_SUBPROTOCOL) :] for p in offered if p.startswith(_KEY_SUBPROTOCOL)]
    return [key for key in given if key]


def check_credentials(
    headers: Headers,
    api_key: Optional[str],
    check_secret: Optional[Callable[[str], Optional[Tuple[int, str, Optional[str]]]]],
) -> Any:
    """The HTTP error answer for a handshake's credentials, or ``None`` when they pass.

    A client secret (``ek_...``) must pass ``check_secret`` (issued, not
    expired) whatever ``api_key`` is; any other key must equal ``api_key``
    when one is required (compared in constant time); with no key required
    and no secret offered, anything passes.
    """
    given = offered_keys(headers)
    secrets = [key for key in given if key.startswith("ek_")]
    for secret in secrets:
        refusal = check_secret(secret) if check_secret is not None else (
            401, "Incorrect API key provided: client secrets are not issued by this server.", "invalid_api_key")
        if refusal is not None:
            return json_error(*refusal)
    if api_key is None:
        return None
    if not given:
        return json_error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            None,
        )
    expected = api_key.encode("utf-8")
    keys = [key for key in given if not key.startswith("ek_")]
    # every account key offered must be the right one (compared in constant time)
    if not all([hmac.compare_digest(key.encode("utf-8"), expected) for key in keys]):
        return json_error(
            401,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_api_key",
        )
    return None
