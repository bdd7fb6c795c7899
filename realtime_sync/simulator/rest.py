"""The simulator's REST side: client secrets and SIP calls, on a small HTTP server beside the WebSocket one.

:class:`SimRest` serves, on ``http://127.0.0.1:<port>/v1`` (``RealtimeSimulator.http_url``):

- ``POST /v1/realtime/client_secrets``: issues ``ek_...`` secrets bound to a
  session configuration (validated like a GA ``session.update``), with an
  expiry (``expires_after.seconds``, 10 to 7200, default 600). At the
  WebSocket handshake an ``ek_`` key must be one it issued and not expired
  (else HTTP 401 with an OpenAI-style JSON error), and the session it opens
  starts with the bound configuration.
- ``POST /v1/realtime/calls/{call_id}/accept|reject|refer|hangup``: the call
  control of SIP calls. :meth:`SimRest.ring` makes a fake incoming call: it
  posts a signed ``realtime.call.incoming`` webhook to a URL you give it
  (Standard Webhooks signature, as OpenAI sends it). Once accepted, a
  WebSocket with ``?call_id=...`` attaches to the call's session (configured
  as accepted); :meth:`.calls.SimCall.say` makes the caller speak, and hangup or
  refer ends the session.

Every request needs ``Authorization: Bearer <key>`` (the simulator's
``require_api_key`` when it has one; client secrets are refused here), and is
kept in :attr:`SimRest.requests` (bodies only, never headers) for tests.
Errors are answered as the live service does: a status and
``{"error": {"message", "type", "code", "param"}}``.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
import secrets
import selectors
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import ConfigurationError, RealtimeConnectionError
from ..webhooks import new_webhook_secret, sign_webhook
from .calls import SimCall
from .checks import ClientError, missing, unknown
from .config import new_id
from .ga import GA_DEFAULT_MODEL, apply_ga_session_update, default_ga_session, session_to_ga
from .transcription import (
    apply_transcription_update,
    default_transcription_session,
    is_transcription,
    transcription_session_to_ga,
)

__all__ = ["SimRest", "Refusal", "apply_bound_session", "call_id_of", "check_rest_options"]

logger = logging.getLogger(__name__)

#: An HTTP refusal: status, message, code.
Refusal = Tuple[int, str, Optional[str]]

_DEFAULT_TTL = 600
_TTL_RANGE = (10, 7200)
_MAX_BODY = 1024 * 1024


def _error_body(message: str, code: Optional[str], param: Optional[str] = None,
                error_type: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": error_type, "param": param, "code": code}}).encode()


def _session_request(config: Any, param: str) -> Tuple[Dict[str, Any], str]:
    """A GA session request checked: the internal session it makes, and its ``type``.

    Raises:
        ClientError: an invalid value, ``param`` naming it.
    """
    if not isinstance(config, dict):
        raise ClientError("invalid_type", f"Invalid type for '{param}': expected an object.", param)
    kind = config.get("type")
    if kind not in ("realtime", "transcription"):
        raise ClientError("invalid_value", f"Invalid value for '{param}.type': expected 'realtime' or "
                          "'transcription'.", f"{param}.type")
    if kind == "transcription":
        return apply_transcription_update(default_transcription_session(0), config), kind
    model = config.get("model", GA_DEFAULT_MODEL)
    if not isinstance(model, str) or not model:
        raise ClientError("invalid_type", f"Invalid type for '{param}.model': expected a string.", f"{param}.model")
    update = {k: v for k, v in config.items() if k != "model"}
    try:
        internal = apply_ga_session_update(default_ga_session(model, 0), update)
    except ClientError as exc:
        if exc.param and exc.param.startswith("session") and param != "session":
            exc.param = param + exc.param[len("session"):]
        raise
    internal["model"] = model
    return internal, kind


def apply_bound_session(session: Any, config: Dict[str, Any]) -> None:
    """Start a just-made :class:`~.session.SimSession` with a bound configuration (before it runs).

    ``config`` is a GA session request (from a client secret or an accepted
    call): a realtime one applies to a realtime session, a transcription one
    to a transcription session (``?intent=transcription``); otherwise nothing.
    """
    transcription = config.get("type") == "transcription"
    if transcription != is_transcription(session.state.session) or not session.wire.ga:
        logger.debug("simulator %s: the bound %s configuration does not fit this session", session.id, config.get("type"))
        return
    update = {k: v for k, v in config.items() if k != "model"}
    with session.state.lock:
        old = session.state.session
        new = apply_transcription_update(old, update) if transcription else apply_ga_session_update(old, update)
        if config.get("model") and not transcription:
            new["model"] = config["model"]
        if new["input_audio_format"] != old["input_audio_format"]:
            session.input.restart(old["input_audio_format"])
        session.state.session = new
        session.input.configure_vad()


class SimRest:
    """Client secrets and SIP call control for a simulator (see the module docstring).

    Args:
        host: interface to bind.
        port: TCP port (0: a free one).
        api_key: the key REST calls need (``None``: any non-``ek_`` bearer key).
        webhook_secret: the secret fake calls' webhooks are signed with (default: a new ``whsec_...``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: Optional[str] = None,
                 webhook_secret: Optional[str] = None) -> None:
        self.host = host
        self._requested_port = port
        self._api_key = api_key
        #: The secret :meth:`ring` signs webhooks with (``whsec_...``).
        self.webhook_secret = webhook_secret or new_webhook_secret()
        self._lock = threading.Lock()
        self._secrets: Dict[str, Tuple[float, Dict[str, Any]]] = {}
        #: Every call rung, by id.
        self.calls: Dict[str, SimCall] = {}
        #: ``(method, path, parsed JSON body or None)`` of every request served (never headers).
        self.requests: List[Tuple[str, str, Any]] = []
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._wake: Optional[Tuple[socket.socket, socket.socket]] = None

    @property
    def url(self) -> str:
        """The REST base URL, ``http://host:port/v1``."""
        if self._server is None:
            raise RuntimeError("the simulator's HTTP server is not started")
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def start(self) -> None:
        handler = type("_Handler", (_Handler,), {"rest": self})
        server = ThreadingHTTPServer((self.host, self._requested_port), handler)
        server.daemon_threads = True
        self._server = server
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=_serve_until_woken, args=(server, self._wake[0]), name="realtime-sync-sim-http", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        wake, self._wake = self._wake, None
        if server is None:
            return
        if wake is not None:
            wake[1].send(b"x")  # wakes the serving loop at once (serve_forever would poll)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        server.server_close()
        if wake is not None:
            for end in wake:
                end.close()

    # -- client secrets ------------------------------------------------------------

    def issue_secret(self, body: Any) -> Dict[str, Any]:
        """Issue a client secret for a ``client_secrets`` request body; the answer.

        Raises:
            ClientError: an invalid body.
        """
        if not isinstance(body, dict):
            raise ClientError("invalid_type", "The request body must be a JSON object.", None)
        for key in body:
            if key not in ("session", "expires_after"):
                raise unknown(key)
        ttl = _DEFAULT_TTL
        expires = body.get("expires_after")
        if expires is not None:
            if not isinstance(expires, dict):
                raise ClientError("invalid_type", "Invalid type for 'expires_after': expected an object.", "expires_after")
            for key in expires:
                if key not in ("anchor", "seconds"):
                    raise unknown(f"expires_after.{key}")
            if expires.get("anchor", "created_at") != "created_at":
                raise ClientError("invalid_value", "Invalid value for 'expires_after.anchor': expected 'created_at'.",
                                  "expires_after.anchor")
            ttl = expires.get("seconds", _DEFAULT_TTL)
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not _TTL_RANGE[0] <= ttl <= _TTL_RANGE[1]:
                raise ClientError("integer_out_of_range", "Invalid 'expires_after.seconds': expected an integer "
                                  f"between {_TTL_RANGE[0]} and {_TTL_RANGE[1]}.", "expires_after.seconds")
        config = body.get("session", {"type": "realtime"})
        internal, kind = _session_request(config, "session")
        expires_at = int(time.time()) + ttl
        value = "ek_" + secrets.token_hex(16)
        with self._lock:
            self._secrets[value] = (float(expires_at), copy.deepcopy(config))
        if kind == "realtime":
            internal["id"] = new_id("sess")
            internal["expires_at"] = 0
            session = session_to_ga(internal)
        else:
            internal["id"] = new_id("sess")
            internal["expires_at"] = 0
            session = transcription_session_to_ga(internal)
        return {"value": value, "expires_at": expires_at, "session": session}

    def expire_client_secrets(self) -> int:
        """Fault: make every secret issued so far expired now; returns how many."""
        with self._lock:
            for value, (_, config) in list(self._secrets.items()):
                self._secrets[value] = (time.time() - 1, config)
            return len(self._secrets)

    def check_client_secret(self, value: str) -> Optional[Refusal]:
        """``None`` when ``value`` is a live secret this simulator issued, else the refusal."""
        with self._lock:
            found = None
            for known, entry in self._secrets.items():
                if hmac.compare_digest(known.encode(), value.encode()):
                    found = entry
        if found is None:
            return 401, "Incorrect API key provided: the client secret is not valid.", "invalid_api_key"
        if time.time() >= found[0]:
            return 401, "The client secret has expired. Create a new one with POST /v1/realtime/client_secrets.", \
                "invalid_api_key"
        return None

    def bound_session(self, keys: List[str]) -> Optional[Dict[str, Any]]:
        """The session configuration bound to the first client secret among ``keys``, if any."""
        with self._lock:
            for key in keys:
                if key in self._secrets:
                    return copy.deepcopy(self._secrets[key][1])
        return None

    # -- calls ---------------------------------------------------------------------

    def ring(self, webhook_url: str, *, secret: Optional[str] = None, sip_headers: Optional[List[Dict[str, str]]] = None,
             caller: str = "+14155550100", callee: str = "+14155550199", timeout: float = 10.0) -> SimCall:
        """A fake incoming call: post a signed ``realtime.call.incoming`` webhook to ``webhook_url``.

        Blocks until the receiver answers the webhook (it may accept the call
        before answering). Returns the call; its ``webhook_status`` is the
        receiver's HTTP status.

        Args:
            webhook_url: the receiver's ``http(s)://`` URL.
            secret: sign with this ``whsec_...`` instead of :attr:`webhook_secret`
                (a wrong one tests the receiver's check).
            sip_headers: the INVITE's headers (default: From, To, Call-ID).

        Raises:
            RealtimeConnectionError: the receiver could not be reached.
        """
        call_id = new_id("rtc")
        headers = sip_headers if sip_headers is not None else [
            {"name": "From", "value": f'"Caller" <sip:{caller}@sip.example.com>;tag=1'},
            {"name": "To", "value": f"<sip:{callee}@sip.api.openai.com>"},
            {"name": "Call-ID", "value": secrets.token_hex(12)},
        ]
        call = SimCall(call_id, copy.deepcopy(headers))
        with self._lock:
            self.calls[call_id] = call
        event = {"object": "event", "id": new_id("evt"), "type": "realtime.call.incoming",
                 "created_at": int(time.time()), "data": {"call_id": call_id, "sip_headers": headers}}
        body = json.dumps(event).encode("utf-8")
        request = urllib.request.Request(webhook_url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        for name, value in sign_webhook(body, secret or self.webhook_secret).items():
            request.add_header(name, value)
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the receiver
            with opener.open(request, timeout=timeout) as response:
                call.webhook_status = int(response.status)
        except urllib.error.HTTPError as exc:
            call.webhook_status = int(exc.code)
            exc.close()
        except (OSError, ValueError) as exc:
            raise RealtimeConnectionError(f"the webhook receiver at {webhook_url} could not be reached: {exc}") from None
        return call

    def call_action(self, call_id: str, action: str, body: Any) -> None:
        """Apply a REST action to a call.

        Raises:
            ClientError: an invalid body; ``LookupError`` (404): no such call.
        """
        with self._lock:
            call = self.calls.get(call_id)
        if call is None:
            raise LookupError(call_id)
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ClientError("invalid_type", "The request body must be a JSON object.", None)
        if action == "accept":
            config = dict(body)
            _session_request(config, "session")
            if config.get("type") != "realtime":
                raise ClientError("invalid_value", "Invalid value for 'type': expected 'realtime'.", "type")
        elif action == "reject":
            for key in body:
                if key != "status_code":
                    raise unknown(key)
            code = body.get("status_code", 603)
            if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 699:
                raise ClientError("invalid_value", "Invalid 'status_code': expected a SIP status code.", "status_code")
        elif action == "refer":
            target = body.get("target_uri")
            if not isinstance(target, str) or not target:
                raise missing("target_uri")
        call.act(action, body)

    def check_call(self, call_id: str) -> Tuple[Optional[SimCall], Optional[Refusal]]:
        """The call a ``?call_id=`` handshake attaches to, or why it is refused."""
        with self._lock:
            call = self.calls.get(call_id)
        if call is None:
            return None, (404, f"No call found with id '{call_id}'.", "call_not_found")
        if call.status != "accepted":
            return None, (400, f"The call {call_id} is {call.status}: only an accepted call has a session.",
                          "call_not_active")
        return call, None

    def check_call_path(self, path: str) -> Optional[Refusal]:
        """Why a handshake whose path has ``?call_id=`` is refused, or ``None`` (also with no ``call_id``)."""
        call_id = call_id_of(path)
        return None if call_id is None else self.check_call(call_id)[1]

    def bind(self, session: Any, path: str, keys: List[str]) -> Optional[SimCall]:
        """Apply what a handshake binds to its new session: an accepted call's or a client secret's configuration.

        Returns the call the session serves (the caller attaches it once the session is registered), or None.
        """
        call_id = call_id_of(path)
        call = self.check_call(call_id)[0] if call_id is not None else None
        config = call.session if call is not None else self.bound_session(keys)
        if config is not None:
            apply_bound_session(session, config)
        return call

    def handle(self, method: str, path: str, auth: List[str], raw: bytes) -> Tuple[int, bytes]:
        """Serve one request (an HTTP handler thread): status and JSON body."""
        parsed: Any = None
        if raw.strip():
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed = ValueError
        with self._lock:
            self.requests.append((method, path, None if parsed is ValueError else copy.deepcopy(parsed)))
        route = urlsplit(path).path.rstrip("/")
        parts = route.split("/")
        is_secrets = method == "POST" and route == "/v1/realtime/client_secrets"
        is_call = (method == "POST" and len(parts) == 6 and parts[1:4] == ["v1", "realtime", "calls"]
                   and parts[5] in ("accept", "reject", "refer", "hangup"))
        if not (is_secrets or is_call):
            return 404, _error_body(f"Invalid URL ({method} {route})", None)
        keys = [v[7:].strip() for v in auth if v.lower().startswith("bearer ") and v[7:].strip()]
        if not keys:
            return 401, _error_body("You didn't provide an API key. You need to provide your API key in an "
                                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", None)
        if any(k.startswith("ek_") for k in keys):
            return 401, _error_body("Client secrets (ek_...) cannot be used for this endpoint: use your API key.",
                                    "invalid_api_key")
        if self._api_key is not None and not all(
            [hmac.compare_digest(k.encode(), self._api_key.encode()) for k in keys]
        ):
            return 401, _error_body("Incorrect API key provided. You can find your API key at "
                                    "https://platform.openai.com/account/api-keys.", "invalid_api_key")
        if parsed is ValueError:
            return 400, _error_body("We could not parse the JSON body of your request.", None)
        try:
            if is_secrets:
                return 200, json.dumps(self.issue_secret(parsed)).encode()
            self.call_action(unquote(parts[4]), parts[5], parsed)
            return 200, b""
        except ClientError as exc:
            return 400, _error_body(exc.message, exc.code, exc.param, exc.error_type)
        except LookupError:
            return 404, _error_body(f"No call found with id '{unquote(parts[4])}'.", "call_not_found")


class _Handler(BaseHTTPRequestHandler):
    """One HTTP request to the simulator's REST server."""

    rest: SimRest
    protocol_version = "HTTP/1.1"
    server_version = "realtime-sync-simulator"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            status, body = 413, _error_body("The request body is too large.", None)
            self.rfile.read(min(length, _MAX_BODY))
            self.close_connection = True
        else:
            raw = self.rfile.read(length) if length > 0 else b""
            auth = self.headers.get_all("Authorization") or []
            status, body = self.rest.handle(self.command, self.path, [str(v) for v in auth], raw)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator http: " + format, *args)


def call_id_of(path: str) -> Optional[str]:
    """The ``call_id`` query parameter of a handshake's path, if any."""
    values = parse_qs(urlsplit(path).query).get("call_id")
    return values[0] if values else None


def check_rest_options(http_port: Optional[int]) -> None:
    """Raises ConfigurationError for a bad ``http_port``."""
    if http_port is not None and (isinstance(http_port, bool) or not isinstance(http_port, int) or http_port < 0):
        raise ConfigurationError(f"http_port must be a port number (0: any free one) or None, not {http_port!r}")


def _serve_until_woken(server: ThreadingHTTPServer, wake: socket.socket) -> None:
    """Serve requests until a byte arrives on ``wake``; sleeps on the sockets, never polls."""
    server.timeout = 0
    with selectors.DefaultSelector() as selector:
        selector.register(server.socket, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is wake:
                    return
                server.handle_request()  # ready: accepts at once (timeout 0) and hands it to a thread
