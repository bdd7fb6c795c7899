"""Signed webhooks: check that a ``realtime.call.incoming`` (or any) webhook came from OpenAI.

OpenAI signs its webhooks with the Standard Webhooks scheme. Each request
carries three headers:

- ``webhook-id``: the event's delivery id;
- ``webhook-timestamp``: Unix seconds when it was sent;
- ``webhook-signature``: one or more space-separated ``v1,<base64>`` values,
  each an HMAC-SHA256 of ``"<id>.<timestamp>.<body>"`` keyed with the
  endpoint's secret (``whsec_<base64 key>``: the key is the base64-decoded rest).

:func:`verify_webhook` checks them (constant-time comparison, a five-minute
window against replays) and returns the parsed event; :func:`sign_webhook`
makes the headers (the simulator uses it to ring fake calls). The secret never
appears in an exception message. ::

    from realtime_sync.webhooks import verify_webhook, WebhookVerificationError

    try:
        event = verify_webhook(body_bytes, request_headers, secret=os.environ["OPENAI_WEBHOOK_SECRET"])
    except WebhookVerificationError as exc:
        ...  # answer 400, do nothing else
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Dict, List, Mapping, Optional, Union

from .errors import ConfigurationError, RealtimeError

__all__ = ["WebhookVerificationError", "verify_webhook", "sign_webhook", "new_webhook_secret", "DEFAULT_TOLERANCE"]

#: How far (seconds) a webhook's timestamp may be from now, either way.
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(RealtimeError, ValueError):
    """A webhook's signature headers are missing, malformed, too old, or do not match its body."""


def _key(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError("the webhook secret must be a non-empty str (whsec_...)")
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError("the webhook secret is not valid: whsec_ must be followed by base64") from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ConfigurationError("the webhook secret is empty after decoding")
    return key


def _signature(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode("utf-8"), hashlib.sha256)
    mac.update(body)
    return base64.b64encode(mac.digest()).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str:
    getter = getattr(headers, "get_all", None)  # email.message.Message (http.server): repeated headers
    values: List[str] = []
    if callable(getter):
        values = [str(v) for v in (getter(name) or [])]
    else:
        values = [str(v) for k, v in headers.items() if isinstance(k, str) and k.lower() == name]
    if not values:
        raise WebhookVerificationError(f"the webhook has no {name} header: it was not signed by OpenAI")
    if len(values) > 1:
        raise WebhookVerificationError(f"the webhook has {len(values)} {name} headers; expected one")
    return values[0].strip()


def new_webhook_secret() -> str:
    """A fresh secret in OpenAI's format (``whsec_`` + base64 of 32 random bytes), for tests and simulators."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign_webhook(
    body: Union[bytes, str],
    secret: str,
    *,
    webhook_id: Optional[str] = None,
    timestamp: Optional[int] = None,
) -> Dict[str, str]:
    """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers for ``body``.

    Args:
        body: the exact bytes that will be sent (a str is UTF-8 encoded).
        secret: the endpoint's secret (``whsec_...``).
        webhook_id: the delivery id (default: a new ``wh_...``).
        timestamp: Unix seconds (default: now).

    Raises:
        ConfigurationError: the secret is not valid.
    """
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    webhook_id = webhook_id or "wh_" + secrets.token_hex(16)
    stamp = str(int(time.time()) if timestamp is None else int(timestamp))
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + _signature(_key(secret), webhook_id, stamp, data),
    }


def verify_webhook(
    body: Union[bytes, str],
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """Check a webhook's signature and return its parsed JSON event.

    Args:
        body: the request body exactly as received (bytes; a str is UTF-8 encoded).
        headers: the request headers (a dict with any case, or ``http.server``'s
            ``self.headers``).
        secret: the endpoint's signing secret (``whsec_...``).
        tolerance: seconds the timestamp may differ from ``now``.
        now: the current Unix time (tests); default ``time.time()``.

    Returns:
        The event, a dict (``type``, ``id``, ``created_at``, ``data``...).

    Raises:
        WebhookVerificationError: a header is missing or repeated, the
            timestamp is malformed or outside the window, no signature matches,
            or the body is not a JSON object. The message never holds the secret.
        ConfigurationError: the secret itself is not valid.
    """
    key = _key(secret)
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    webhook_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    offered = _header(headers, "webhook-signature")
    try:
        sent_at = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"the webhook-timestamp header is not a number of seconds: {stamp[:40]!r}") from None
    current = time.time() if now is None else now
    if current - sent_at > tolerance:
        raise WebhookVerificationError(f"the webhook is too old ({int(current - sent_at)} s; at most {tolerance} s)")
    if sent_at - current > tolerance:
        raise WebhookVerificationError(f"the webhook's timestamp is {int(sent_at - current)} s in the future")
    expected = _signature(key, webhook_id, stamp, data)
    candidates = [part[3:] if part.startswith("v1,") else part for part in offered.split()]
    # compare with every candidate (no early exit) in constant time
    if not any([hmac.compare_digest(expected.encode("ascii"), c.encode("utf-8", "replace")) for c in candidates]):
        raise WebhookVerificationError("the webhook signature does not match its body (wrong secret, or altered)")
    try:
        event = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WebhookVerificationError("the webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the webhook body is not a JSON object")
    return event
