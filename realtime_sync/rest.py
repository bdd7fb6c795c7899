"""The Realtime REST endpoints: client secrets for end users, and SIP call control.

Two things a server does over plain HTTPS (standard library only):

- **Keys for end users.** :func:`create_client_secret` calls ``POST
  /v1/realtime/client_secrets`` with the account's key and returns a
  short-lived ``ek_...`` secret (and the session it is bound to). Give that
  secret to a desktop or mobile app; the app connects with it as its
  ``api_key`` (``RealtimeClient(api_key=secret["value"])``) and never sees the
  account's key.
- **Phone calls (SIP).** When OpenAI's SIP trunk rings, your webhook gets a
  ``realtime.call.incoming`` event (check it with
  :func:`realtime_sync.webhooks.verify_webhook`); answer with
  :func:`accept_call` (and a session configuration), :func:`reject_call`,
  later :func:`refer_call` (transfer) or :func:`hangup_call`, and attach a
  client to the call's session with ``RealtimeClient(call_id=...)``.

Credentials: ``api_key`` defaults to ``OPENAI_API_KEY`` for OpenAI's host (any
other ``base_url`` gets a key only when given one); it travels only in the
``Authorization`` header, never over plain ``http://`` to a host that is not
loopback (:class:`~realtime_sync.errors.InsecureTransportError`), never to a
redirect (refused), and never appears in a log, a repr or an exception
message (server bodies are masked before they are kept).

Errors: HTTP 401/403 raise :class:`RestAuthenticationError` (an
:class:`~realtime_sync.errors.AuthenticationError`), 404 (an unknown call id)
:class:`NotFoundError`, any other error status :class:`APIStatusError`, all
with ``status_code``, the server's ``error`` object and ``body``; network
failures raise :class:`~realtime_sync.errors.RealtimeConnectionError`, a
timeout :class:`~realtime_sync.errors.RealtimeTimeoutError`.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any, Dict, List, Mapping, Optional, Union
from urllib.parse import quote, urlsplit

from ._transport.secrets import Redactor, Secret, clear_traceback, redact_url
from ._transport.urls import has_line_break, is_loopback
from .errors import (
    AuthenticationError,
    ConfigurationError,
    InsecureTransportError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "APIStatusError",
    "NotFoundError",
    "RestAuthenticationError",
    "create_client_secret",
    "accept_call",
    "reject_call",
    "refer_call",
    "hangup_call",
]

logger = logging.getLogger(__name__)

#: OpenAI's REST base URL (the simulator's is ``RealtimeSimulator.http_url``).
DEFAULT_BASE_URL = "https://api.openai.com/v1"
_OPENAI_HOST = "api.openai.com"
_MAX_BODY = 1024 * 1024  # bytes of a response we read at most


class APIStatusError(RealtimeError):
    """A REST call was answered with an HTTP error status.

    Attributes:
        status_code: the HTTP status.
        error: the server's ``error`` object (``message``, ``type``, ``code``,
            ``param``), or ``{}`` when the body held none.
        body: the response body as text (credentials masked).
        request: ``"POST /v1/realtime/..."``, for messages.
    """

    def __init__(self, message: str, *, status_code: int, error: Optional[Dict[str, Any]] = None,
                 body: str = "", request: str = "") -> None:
        RealtimeError.__init__(self, message)
        self.status_code = status_code
        self.error: Dict[str, Any] = dict(error or {})
        self.body = body
        self.request = request

    @property
    def code(self) -> Optional[str]:
        """Shortcut for ``error.get("code")``."""
        code = self.error.get("code")
        return str(code) if code is not None else None


class NotFoundError(APIStatusError):
    """HTTP 404: the server knows no such thing (an unknown or finished call id)."""


class RestAuthenticationError(APIStatusError, AuthenticationError):
    """HTTP 401/403: the key is missing, wrong or revoked (an :class:`~realtime_sync.errors.AuthenticationError`)."""


def _error_class(status: int) -> "type[APIStatusError]":
    if status in (401, 403):
        return RestAuthenticationError
    if status == 404:
        return NotFoundError
    return APIStatusError


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: the key must never follow one to another host."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


class _Endpoint:
    """Where a REST call goes and with which key (the key held as a :class:`Secret`)."""

    def __init__(self, base_url: Optional[str], api_key: Optional[str]) -> None:
        base = (base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        if not isinstance(base, str):
            raise ConfigurationError(f"base_url must be a str, not {type(base).__name__}")
        shown = redact_url(base)
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"base_url must look like https://host/v1, got {shown!r}")
        host = parts.hostname.lower()
        if api_key is None and host == _OPENAI_HOST:
            api_key = os.environ.get("OPENAI_API_KEY") or None
        if api_key is not None:
            if not isinstance(api_key, str):
                raise ConfigurationError(f"api_key must be a str, not {type(api_key).__name__}")
            if not api_key.strip() or has_line_break(api_key):
                raise ConfigurationError("api_key is empty or contains a line break")
        if api_key is None and host == _OPENAI_HOST:
            raise ConfigurationError(
                f"no API key for {host}: pass api_key=... or set the OPENAI_API_KEY environment variable"
            )
        self.key = Secret(api_key) if api_key else None
        if self.key is not None and parts.scheme == "http" and not is_loopback(host):
            raise InsecureTransportError(
                f"refusing to send an API key in clear text over http:// to {host!r}; use https://"
            )
        self.base = Secret(base.rstrip("/"))
        self.shown = shown.rstrip("/")
        self.path = parts.path.rstrip("/")
        self.loopback = is_loopback(host)
        self.redactor = Redactor([self.key] if self.key is not None else [])

    def __repr__(self) -> str:
        return f"<_Endpoint {self.shown}>"


def _post(
    endpoint: _Endpoint, path: str, payload: Optional[Mapping[str, Any]], timeout: Optional[float]
) -> Dict[str, Any]:
    """POST JSON to ``base + path``; the parsed JSON answer (``{}`` for an empty one).

    Raises:
        APIStatusError (and subclasses): an HTTP error status.
        RealtimeConnectionError, RealtimeTimeoutError: the network.
    """
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigurationError("timeout must be None or a positive number of seconds")
    what = f"POST {endpoint.path}{path}"
    data = b"" if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(endpoint.base.reveal() + path, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    request.add_header("User-Agent", "realtime_sync")
    if endpoint.key is not None:
        request.add_header("Authorization", "Bearer " + endpoint.key.reveal())
    https = urllib.request.HTTPSHandler(context=ssl.create_default_context())
    handlers: List[urllib.request.BaseHandler] = [_NoRedirect(), https]
    if endpoint.loopback:  # a local server (the simulator) is never reached through an environment proxy
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    failure: Optional[RealtimeError] = None
    try:
        with opener.open(request, timeout=timeout) as response:
            status = int(response.status)
            raw = response.read(_MAX_BODY)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
        try:
            raw = exc.read(_MAX_BODY) if exc.fp is not None else b""
        except OSError:
            raw = b""
        finally:
            exc.close()
        failure = _status_error(endpoint, what, status, raw, exc.headers.get("Location") if exc.headers else None)
    except urllib.error.URLError as exc:
        failure = _network_error(endpoint, what, exc.reason, timeout)
    except (OSError, http.client.HTTPException) as exc:
        failure = _network_error(endpoint, what, exc, timeout)
    finally:
        del request  # it holds the Authorization header
    if failure is not None:
        clear_traceback(failure)
        raise failure
    if not 200 <= status < 300:  # pragma: no cover - urllib raises HTTPError for these
        raise _status_error(endpoint, what, status, raw, None)
    logger.debug("%s -> HTTP %s (%d bytes)", what, status, len(raw))
    if not raw.strip():
        return {}
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise APIStatusError(
            f"{what} at {endpoint.shown}: HTTP {status} with a body that is not JSON",
            status_code=status, body=endpoint.redactor.text(raw[:2000].decode("utf-8", "replace")), request=what,
        ) from None
    return answer if isinstance(answer, dict) else {"value": answer}


def _status_error(endpoint: _Endpoint, what: str, status: int, raw: bytes, location: Optional[str]) -> APIStatusError:
    body = endpoint.redactor.text(raw[:4000].decode("utf-8", "replace"))
    error: Dict[str, Any] = {}
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
    except ValueError:
        pass
    message = error.get("message") or (body.strip()[:200] if body.strip() else "no details")
    if 300 <= status < 400:
        shown = redact_url(endpoint.redactor.text(location or "")) or "nowhere"
        message = f"redirected to {shown}; redirects are not followed (the key stays here): use the final URL as base_url"
    hint = ""
    if status in (401, 403):
        hint = " (check the API key: pass api_key=... or set OPENAI_API_KEY)" if endpoint.key else " (no API key was sent)"
    cls = _error_class(status)
    return cls(f"{what} at {endpoint.shown}: HTTP {status}: {message}{hint}", status_code=status, error=error,
               body=body, request=what)


def _network_error(endpoint: _Endpoint, what: str, reason: Any, timeout: Optional[float]) -> RealtimeError:
    text = endpoint.redactor.text(str(reason))
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return RealtimeTimeoutError(f"{what} at {endpoint.shown}: no answer within {timeout} s")
    if isinstance(reason, ConnectionRefusedError):
        return RealtimeConnectionError(f"{what}: connection to {endpoint.shown} refused (is the server running?)")
    if isinstance(reason, socket.gaierror):
        return RealtimeConnectionError(f"{what}: cannot resolve the host of {endpoint.shown} ({text})")
    if isinstance(reason, ssl.SSLError):
        return RealtimeConnectionError(f"{what}: TLS failed with {endpoint.shown} ({text})")
    return RealtimeConnectionError(f"{what} at {endpoint.shown} failed: {text or type(reason).__name__}")


def _session_body(session: Optional[Mapping[str, Any]], name: str = "session") -> Dict[str, Any]:
    """A session configuration as sent: a copy, ``type: "realtime"`` when it names no type."""
    if session is None:
        return {"type": "realtime"}
    if not isinstance(session, Mapping):
        raise ConfigurationError(f"{name} must be a dict (a GA session configuration), not {type(session).__name__}")
    body = dict(session)
    body.setdefault("type", "realtime")
    return body


def _call_action(
    call_id: str,
    action: str,
    body: Optional[Mapping[str, Any]],
    api_key: Optional[str],
    base_url: Optional[str],
    timeout: Optional[float],
) -> None:
    """POST ``body`` to ``/realtime/calls/<call_id>/<action>``.

    Raises:
        ConfigurationError: ``call_id`` is not a call's id (checked before anything is sent).
    """
    if not isinstance(call_id, str) or not call_id.strip() or has_line_break(call_id):
        raise ConfigurationError(f"call_id must be the non-empty id of a call (rtc_...), not {call_id!r}")
    _post(_Endpoint(base_url, api_key), f"/realtime/calls/{quote(call_id, safe='')}/{action}", body, timeout)


def create_client_secret(
    session: Optional[Mapping[str, Any]] = None,
    expires_after: Union[int, Mapping[str, Any], None] = None,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    timeout: Optional[float] = 30.0,
) -> Dict[str, Any]:
    """Create a short-lived client secret (``ek_...``) bound to a session configuration.

    Call it on your server, with the account's key; hand the returned
    ``["value"]`` to the end user's app, which connects with it as its
    ``api_key``. The session configuration (GA shape: ``type``, ``model``,
    ``instructions``, ``audio``, ``tools``...) applies to every session the
    secret opens; the app may still change it with ``session.update``.

    Args:
        session: the session configuration (``{"type": "realtime", ...}``;
            ``type`` defaults to ``"realtime"``; ``{"type": "transcription",
            ...}`` for a transcription session). ``None``: the server's defaults.
        expires_after: seconds the secret may open sessions (10 to 7200; the
            server's default is 600), or the full ``{"anchor": "created_at",
            "seconds": N}``. A session opened in time may outlive the secret.
        api_key: the account's key (default ``OPENAI_API_KEY`` for OpenAI's host).
        base_url: the REST base URL, default ``https://api.openai.com/v1``
            (``OPENAI_BASE_URL`` when set); a simulator's ``http_url``.
        timeout: seconds for the whole request.

    Returns:
        The server's answer: ``{"value": "ek_...", "expires_at": <unix seconds>,
        "session": {...the effective session...}}``.

    Raises:
        RestAuthenticationError: the key was refused (401/403).
        APIStatusError: any other error status (400 for an invalid session).
        ConfigurationError: bad arguments, or no key for OpenAI's host.
    """
    body: Dict[str, Any] = {"session": _session_body(session)}
    if expires_after is not None:
        if isinstance(expires_after, bool):
            raise ConfigurationError("expires_after must be seconds (an int) or {'anchor': 'created_at', 'seconds': N}")
        if isinstance(expires_after, int):
            body["expires_after"] = {"anchor": "created_at", "seconds": expires_after}
        elif isinstance(expires_after, Mapping):
            body["expires_after"] = dict(expires_after)
        else:
            raise ConfigurationError("expires_after must be seconds (an int) or {'anchor': 'created_at', 'seconds': N}")
    answer = _post(_Endpoint(base_url, api_key), "/realtime/client_secrets", body, timeout)
    if not isinstance(answer.get("value"), str):
        raise APIStatusError("POST /realtime/client_secrets: the answer holds no secret value", status_code=200,
                             body="", request="POST /realtime/client_secrets")
    return answer


def accept_call(
    call_id: str,
    session: Optional[Mapping[str, Any]] = None,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    timeout: Optional[float] = 30.0,
) -> None:
    """Accept an incoming SIP call and configure the session that will handle it.

    Then attach to the call with ``RealtimeClient(call_id=call_id)`` to run
    the conversation (tools, events) from your server.

    Args:
        call_id: ``data.call_id`` of the ``realtime.call.incoming`` webhook.
        session: the GA session configuration (``model``, ``instructions``,
            ``audio``, ``tools``...; ``type`` defaults to ``"realtime"``).

    Raises:
        NotFoundError: no such pending call (unknown id, or it was already
            answered or ended).
        RestAuthenticationError, APIStatusError, ConfigurationError: as :func:`create_client_secret`.
    """
    _call_action(call_id, "accept", _session_body(session), api_key, base_url, timeout)


def reject_call(
    call_id: str,
    status_code: Optional[int] = None,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    timeout: Optional[float] = 30.0,
) -> None:
    """Decline an incoming SIP call with a SIP status code (the server's default: 603 Decline).

    Raises:
        NotFoundError: no such pending call.
        ConfigurationError: ``status_code`` is not a SIP status (100-699).
    """
    body: Dict[str, Any] = {}
    if status_code is not None:
        if isinstance(status_code, bool) or not isinstance(status_code, int) or not 100 <= status_code <= 699:
            raise ConfigurationError(f"status_code must be a SIP status code (100-699), not {status_code!r}")
        body["status_code"] = status_code
    _call_action(call_id, "reject", body, api_key, base_url, timeout)


def refer_call(
    call_id: str,
    target_uri: str,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    timeout: Optional[float] = 30.0,
) -> None:
    """Transfer an active SIP call (SIP REFER) to ``target_uri``, e.g. ``"tel:+14155550123"`` or ``"sip:agent@example.com"``.

    Raises:
        NotFoundError: no such active call.
        ConfigurationError: ``target_uri`` is not a ``tel:``/``sip:``/``sips:`` URI.
    """
    if not isinstance(target_uri, str) or not target_uri.lower().startswith(("tel:", "sip:", "sips:")) \
            or has_line_break(target_uri):
        raise ConfigurationError(f"target_uri must be a tel:, sip: or sips: URI, not {target_uri!r}")
    _call_action(call_id, "refer", {"target_uri": target_uri}, api_key, base_url, timeout)


def hangup_call(
    call_id: str,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    timeout: Optional[float] = 30.0,
) -> None:
    """End an active call (SIP or WebRTC); its session's WebSocket is then closed by the server.

    Raises:
        NotFoundError: no such active call.
    """
    _call_action(call_id, "hangup", None, api_key, base_url, timeout)
